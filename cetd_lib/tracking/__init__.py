"""Run records and what people read from them.

`runs`: one directory per run (manifest, params, metrics, artifacts, summary); `live`: live
training metrics (JSONL series, notebook display, progress lines); `progress`: headless
detection and ETA formatting; `training_config`: the training settings a run records;
`figures`, `dashboard` and `report`: the HTML dashboard over many runs and the markdown reports.
"""
