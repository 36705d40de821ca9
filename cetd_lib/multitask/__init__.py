"""Phase 5: the multi-task model, from its data to its held-out evaluation.

Sub-packages, each importing only those before it in this list:
- `data`: the data build (issue mt-data): corpus, quality/security labels, code<->test pairs,
  clarification, explanation and ontology sets; `data.build` is the build and its CLI
  (`python -m cetd_lib multitask-data build`, docs/multitask_data.md);
- `model`: the shared backbone and heads, the objectives, the curriculum, the trainer, the
  training config and checkpoints (docs/multitask_train.md);
- `evaluation`: held-out metrics, the evaluators that run generated code through the sandbox,
  the clarification delta, the human review of explanations.
`train` drives all three (`run_multitask`, which `cetd_lib.studies.multitask` calls).
"""

from cetd_lib.multitask.data.config import MultitaskDataConfig

__all__ = ["MultitaskDataConfig"]
