"""Base models and requirement extractors."""

from cetd_lib.models.base import (
    DEFAULT_MODEL,
    PACKAGED_MODELS,
    ModelNotInstalledError,
    cache_root,
    load_base,
    load_tokenizer,
    tiny_random_model,
)

__all__ = [
    "DEFAULT_MODEL",
    "PACKAGED_MODELS",
    "ModelNotInstalledError",
    "cache_root",
    "load_base",
    "load_tokenizer",
    "tiny_random_model",
]
