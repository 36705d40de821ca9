"""The sandbox: runs untrusted code (an app's sources and tests) and says which tests passed.

The one narrow waist for untrusted code. Public API (import the submodule; nothing heavy is
imported here):
- `runner`: `run_app_tests`, `run_many`, `sandbox_key`, `get_pool`, `close_pools`;
- `results`: `RunJob`, `RunResult`, `TestOutcome`; `failures`: the failure taxonomy;
- `cache`: the shared SQLite result cache; `screen`: the static screen of generated code;
- `config`: `HarnessConfig` (the `harness:` section), `HARNESS_VERSION`.
The rest is private: `pool` (warm workers), `bytecode`, `janitor`, and the scripts that run in
the sandbox itself (`_worker`, `_events`, `_audit_hook`, `_namespaces`, `_comparisons`, `_pyc`).
Nothing here imports `cetd_lib.reconstruction`, which sits above (the import-linter layers).
"""

from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.sandbox.failures import FailureClass

__all__ = ["FailureClass", "HarnessConfig"]
