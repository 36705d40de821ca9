"""Phase-5 multi-task data (issue mt-data): corpus, quality/security labels, code<->test pairs,
clarification, explanation and ontology sets. Build with `python -m cetd_lib.multitask.data
build --params params/smoke.yaml`; see docs/multitask_data.md.

Modules: `config` (MultitaskDataConfig), `corpus` (gather, chunk, dedup, split), `labels`,
`security_variants`, `pairs`, `clarify`, `explain`, `ontology`, `data` (the build and CLI).
"""

from cetd_lib.multitask.config import MultitaskDataConfig

__all__ = ["MultitaskDataConfig"]
