"""Reconstruction prompts: every template lives here, versioned by PROMPT_VERSION.

Two versions, chosen by `orchestra.prompt_version`:

- `reconstruct-v1`: the requirements and the module file names, nothing else.
- `reconstruct-v2` (default): the same, plus the app's public API as signatures only (what its
  tests import, `apps.signatures.public_api`: level-3 skeletons, bodies `...`), identical for
  every sample of an app. Under v1 a rebuild whose names are wrong fails whatever the list
  says, so the pass rate paid for restating the signature (issue 29); under v2 the names are
  given to everyone and the reward moves only with what the requirements add.

The reconstructor never sees the original code's bodies, the tests or the README. The version
goes into every run record; add a new one whenever a template changes, so results from
different prompts are never mixed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cetd_lib.apps.app import App

PROMPT_V1 = "reconstruct-v1"
PROMPT_V2 = "reconstruct-v2"
PROMPT_VERSIONS = (PROMPT_V1, PROMPT_V2)
PROMPT_VERSION = PROMPT_V2  # the default of `orchestra.prompt_version`

SYSTEM_PROMPT = (
    "You are an expert Python programmer. You write complete, working Python modules from a "
    "list of requirements. You answer with code only."
)

_USER_TEMPLATE = """\
Write {what} that {verb} all of these requirements:

{requirements}

{api}Rules:
- Write {every}: {modules}.
- Put each module in its own ```python block whose first line is `# file: <name>`.
- Use only the Python standard library.
- Do not write tests, example usage or explanations."""


@dataclass(frozen=True)
class Prompt:
    """One reconstruction request: chat messages plus what the answer must contain.

    `reference_app` is for the calibration backends only (`oracle` returns its source): real
    backends must use `messages` and nothing else.
    """

    app_id: str
    messages: tuple[dict[str, str], ...]
    module_names: tuple[str, ...]
    prompt_version: str = PROMPT_VERSION
    reference_app: App | None = field(default=None, repr=False, compare=False)


def render_requirements(requirements: Sequence[str]) -> str:
    return "\n".join(f"{i}. {item.strip()}" for i, item in enumerate(requirements, start=1))


_API_TEMPLATE = """\
The tests import this API. Keep every name and signature exactly; the bodies are yours to write:

{blocks}

"""


def render_api(api: Mapping[str, str]) -> str:
    """The API block of `reconstruct-v2` ('' when there is nothing to show)."""
    if not api:
        return ""
    blocks = "\n\n".join(
        f"```python\n# file: {name}\n{api[name].rstrip()}\n```" for name in sorted(api)
    )
    return _API_TEMPLATE.format(blocks=blocks)


def build_messages(
    requirements: Sequence[str],
    module_names: Sequence[str],
    api: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], ...]:
    """Chat messages asking for `module_names` from `requirements` (a numbered list), with the
    public `api` (module -> signatures) shown before the rules when given (v2)."""
    modules = ", ".join(f"`{name}`" for name in module_names)
    single = len(module_names) == 1
    user = _USER_TEMPLATE.format(
        api=render_api(api or {}),
        what=f"the Python module {modules}" if single else f"the Python modules {modules}",
        verb="meets" if single else "together meet",
        requirements=render_requirements(requirements),
        every="this module" if single else "every one of these modules",
        modules=modules,
    )
    return ({"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user})


def build_prompt(
    app: App, requirements: Sequence[str] | None = None, prompt_version: str = PROMPT_VERSION
) -> Prompt:
    """The prompt for rebuilding `app` from `requirements` (default: its gold requirements)
    in template `prompt_version` (PROMPT_VERSIONS)."""
    if prompt_version not in PROMPT_VERSIONS:
        raise ValueError(
            f"prompt version {prompt_version!r} unknown; expected one of {list(PROMPT_VERSIONS)}"
        )
    from cetd_lib.apps.signatures import public_api

    items = list(app.requirements if requirements is None else requirements)
    api = public_api(app) if prompt_version == PROMPT_V2 else None
    return Prompt(
        app_id=app.app_id,
        messages=build_messages(items, app.module_names, api),
        module_names=tuple(app.module_names),
        prompt_version=prompt_version,
        reference_app=app,
    )
