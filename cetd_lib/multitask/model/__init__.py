"""The multi-task model and its training: `backbone` (the LoRA-adapted causal LM and the
classification heads), `objectives` (per-task token examples), `curriculum`, `trainer`,
`train_data` (the data build read back), `train_config` (MultitaskTrainConfig), `checkpoints`.
Nothing here evaluates (`multitask.evaluation`) or builds data (`multitask.data`)."""
