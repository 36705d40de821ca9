"""Reconstruction harness: requirements in, rebuilt code out, the app's original tests run.

Submodules (import what you need; nothing heavy is imported here):
- `runner`: the sandboxed test runner (`run_app_tests`, `run_many`) - the one narrow waist for
  untrusted code;
- `failures`: the failure taxonomy; `parsing`: model output -> files; `prompts`: templates;
- `backends`: `hf`, `openai`, `oracle`, `null` generation backends and their registry;
- `reconstruct` / `score`: the orchestra loop and its metrics (pass rate, pass@k);
- `cache`: the shared SQLite result cache; `config`: the dataclasses params.py fills.
"""

from cetd_lib.harness.config import BackendSpec, HarnessConfig, OrchestraConfig
from cetd_lib.harness.failures import FailureClass

__all__ = ["BackendSpec", "FailureClass", "HarnessConfig", "OrchestraConfig"]
