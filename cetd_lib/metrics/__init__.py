"""Metrics and statistics, free of any pipeline code so every layer may use them.

`bleu`: one sacrebleu BLEU (0-1) for requirement lists and a bootstrap CI; `paired`: paired
comparisons of per-app scores (Wilcoxon, bootstrap CIs of differences, Holm correction) and
the verdicts drawn from them.
"""
