"""One module per study: `run(session) -> <Study>Results`.

A study loads its apps, evaluates, writes the run's results.json (the shared table of
`cetd_lib.tracking.results` plus what the study adds beside it), summary and report, and
completes the run. The notebooks and the CLI call the same `run`; a notebook only sets
parameters, calls it and draws. Import a study by name (`from cetd_lib.studies import phase2`):
this package imports none of them, so loading one does not load the others' models.
"""
