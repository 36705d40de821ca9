"""Run records and what people read from them.

`runs`: one directory per run (manifest, params, metrics, artifacts, summary); `live`: live
training metrics (JSONL series, notebook display, progress lines) mirrored to the `trackers` of
`run.report_to`; `series`: metric keys, phases and panels; `progress`: headless detection, ETA
formatting, tqdm bars; `training_config`: the training settings a run records; `criteria`:
targets and verdicts; `figures`, `html`, `views`, `dashboard` and `report`: the figures, the
HTML dashboard over many runs (read through `views`) and the markdown reports.
"""
