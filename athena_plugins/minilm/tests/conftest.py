from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """mpnet's weights are unpacked once per test session, not into the user's cache."""
    before = os.environ.get("ATHENA_MODEL_CACHE")
    os.environ["ATHENA_MODEL_CACHE"] = str(tmp_path_factory.mktemp("models"))
    yield
    if before is None:
        del os.environ["ATHENA_MODEL_CACHE"]
    else:
        os.environ["ATHENA_MODEL_CACHE"] = before
