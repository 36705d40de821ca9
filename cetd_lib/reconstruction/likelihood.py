"""The orchestra as a frozen judge of requirements: teacher-forced likelihood of the app's code.

    scorer.score(prompts, answers) -> [mean log-prob per answer token, ...]   # AnswerScorer
    code_answer(app)                # the app's code, stripped, as the prompt asks for it

`AnswerScorer` is the protocol a real judge implements (one forward pass of the orchestra per
(prompt, answer), no sampling); the stage-2 likelihood reward (`train.likelihood`) and the
calibration's likelihood ladder (`evaluation.calibration.likelihood_ladder`) use it. Nothing
here loads a model or runs code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from cetd_lib.apps.app import App
from cetd_lib.apps.degrade import strip_comments_and_docstrings
from cetd_lib.reconstruction.prompts import Prompt

if TYPE_CHECKING:  # backends imports this module to register its scorers
    from cetd_lib.reconstruction.backends import Backend


class AnswerScorer(Protocol):
    """The frozen judge: per (prompt, answer) pair, the mean log-probability per answer token
    of `answer` as the assistant reply to `prompt` (teacher forcing, one forward pass)."""

    def score(self, prompts: Sequence[Prompt], answers: Sequence[str]) -> list[float]: ...


def code_answer(app: App) -> str:
    """The app's code as the reconstruction prompt asks for it (one ```python block per module,
    first line `# file: <name>`), comments and docstrings stripped."""
    blocks = []
    for name in app.module_names:
        code = strip_comments_and_docstrings(app.sources[name], name).rstrip()
        blocks.append(f"```python\n# file: {name}\n{code}\n```")
    return "\n\n".join(blocks) + "\n"


def likelihood_gain(score: float, baseline: float, ceiling: float | None = None) -> float:
    """score - baseline, capped at `ceiling` (gold's gain) when given.

    >>> likelihood_gain(-0.4, -0.7), likelihood_gain(-0.1, -0.7, ceiling=0.3)
    (0.29999999999999993, 0.3)
    """
    gain = score - baseline
    return gain if ceiling is None else min(gain, ceiling)


# A judge is built per orchestra member from that member's loaded backend (the model it
# already holds), by name: `register_scorer("hf")(factory)`; `calibration.likelihood_scorer`
# and the notebooks pick one by that name.
ScorerFactory = Callable[["Backend"], AnswerScorer]
SCORERS: dict[str, ScorerFactory] = {}


def register_scorer(name: str) -> Callable[[ScorerFactory], ScorerFactory]:
    def decorate(factory: ScorerFactory) -> ScorerFactory:
        SCORERS[name] = factory
        return factory

    return decorate


def make_scorer(name: str, backend: Backend) -> AnswerScorer:
    """The registered judge `name` on a member's loaded `backend`."""
    if name not in SCORERS:
        raise KeyError(
            f"likelihood scorer {name!r} is not registered (known: {sorted(SCORERS)}); a judge "
            "registers itself with reconstruction.likelihood.register_scorer"
        )
    return SCORERS[name](backend)
