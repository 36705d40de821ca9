"""Shared fixtures. Models are loaded once per session: loading is the slow part."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_base():
    from cetd_lib.models import load_base

    return load_base("tiny-random")


@pytest.fixture(scope="session")
def smollm2_base():
    from cetd_lib.models import load_base

    return load_base("smollm2-135m-instruct")
