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
from cetd_lib.models.config import ExtractorConfig

# The extractors import torch; resolve them on first use so `import cetd_lib.models` (and the
# params code reading ExtractorConfig) stays light.
_LAZY_EXTRACTOR_EXPORTS = (
    "RequirementExtractor",
    "extractor_variants",
    "load_extractor",
    "make_extractor",
    "register_extractor",
)


def __getattr__(name: str):
    if name in _LAZY_EXTRACTOR_EXPORTS:
        from cetd_lib.models import extractor

        return getattr(extractor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_MODEL",
    "PACKAGED_MODELS",
    "ModelNotInstalledError",
    "cache_root",
    "load_base",
    "load_tokenizer",
    "tiny_random_model",
    "ExtractorConfig",
    *_LAZY_EXTRACTOR_EXPORTS,
]
