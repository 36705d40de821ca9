"""The applications: what is reconstructed, and what the models read about it.

An app is source modules plus their original tests and gold requirements (`app`: the on-disk
format, loading and validation of fields). Around it: HumanEval problems as apps (`humaneval`),
train/validation/test/holdout splits by application (`splits`), the context degradation levels
1-4 (`degrade`), the phase-1 retrieval baseline (`retrieval`) and numbered requirement lists
(`requirements`). Nothing here runs code or loads a model: it is the bottom of the pipeline.
"""
