"""Evaluation: how well requirements rebuild their applications, and how sure we are.

`phase2` scores each requirement source (gold, phase-1 retrieval, stage 1, stage 2) by
reconstruction and pairs them; `ablation` compares sources over the held-out apps with
Holm-corrected paired tests; `calibration` checks the reward can tell good requirements from
damaged ones before anything is trained on it; `error_analysis` groups failures by class.
The statistics themselves live in `cetd_lib.metrics`.
"""
