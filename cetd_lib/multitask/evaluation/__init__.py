"""Evaluation of the multi-task model: `scores` (pure metrics), `evaluate` (the evaluators that
generate and run code through the sandbox), `heldout` (the test split and the seed targets),
`clarification_delta`, `explanation_review` (human ratings through the blind review tool)."""
