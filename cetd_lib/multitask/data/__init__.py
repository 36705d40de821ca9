"""The multi-task data build: `config` (MultitaskDataConfig), `corpus` (gather, chunk, dedup,
split), `labels`, `security_variants`, `pairs`, `clarify`, `explain`, `ontology`, and `build`
(every set into a run record, with a datasheet; the CLI's `multitask-data build`)."""
