"""Reconstruction: requirements in, rebuilt code out, the app's original tests run in the sandbox.

Submodules (import what you need; nothing heavy is imported here):
- `prompts`: templates; `parsing`: model output -> files;
- `backends`: `hf`, `llamacpp`, `local`, `openai`, `oracle`, `null` generation backends and their
  registry; `llama_server`: the private llama-server the `llamacpp` backend starts;
  `likelihood`: the answer scorers a backend registers for the dense reward;
- `reconstruct` / `score`: the orchestra loop and its metrics (pass rate, pass@k);
- `config`: `BackendSpec`, `OrchestraConfig` (the `orchestra:` section).
Tests run through `cetd_lib.sandbox`'s public API only (`runner`, `results`, `cache`).
"""

from cetd_lib.reconstruction.config import BackendSpec, OrchestraConfig

__all__ = ["BackendSpec", "OrchestraConfig"]
