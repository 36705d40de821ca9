"""Reconstruction prompts: every template lives here, versioned by PROMPT_VERSION.

The reconstructor sees ONLY the requirements and the module file names it must write - never
the original code, the tests or the README. PROMPT_VERSION goes into every run record; change
it whenever a template changes, so results from different prompts are never mixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cetd_lib.apps.app import App

PROMPT_VERSION = "reconstruct-v1"

SYSTEM_PROMPT = (
    "You are an expert Python programmer. You write complete, working Python modules from a "
    "list of requirements. You answer with code only."
)

_USER_TEMPLATE = """\
Write {what} that {verb} all of these requirements:

{requirements}

Rules:
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


def build_messages(
    requirements: Sequence[str], module_names: Sequence[str]
) -> tuple[dict[str, str], ...]:
    """Chat messages asking for `module_names` from `requirements` (a numbered list)."""
    modules = ", ".join(f"`{name}`" for name in module_names)
    single = len(module_names) == 1
    user = _USER_TEMPLATE.format(
        what=f"the Python module {modules}" if single else f"the Python modules {modules}",
        verb="meets" if single else "together meet",
        requirements=render_requirements(requirements),
        every="this module" if single else "every one of these modules",
        modules=modules,
    )
    return ({"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user})


def build_prompt(app: App, requirements: Sequence[str] | None = None) -> Prompt:
    """The prompt for rebuilding `app` from `requirements` (default: its gold requirements)."""
    items = list(app.requirements if requirements is None else requirements)
    return Prompt(
        app_id=app.app_id,
        messages=build_messages(items, app.module_names),
        module_names=tuple(app.module_names),
        reference_app=app,
    )
