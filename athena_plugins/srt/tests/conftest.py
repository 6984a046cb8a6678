"""Fixtures: an Athena instance whose executor is the installed athena-srt plugin."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from athena_core import Athena
from athena_core.config import Config
from athena_core.execution.model import ExecutorContext


def srt_problem() -> str | None:
    """Why the srt executor cannot run here, or ``None``."""
    from athena_srt.executor import SrtExecutor

    return SrtExecutor(ExecutorContext(data_dir=Path("/nonexistent-athena-data"))).unavailable()


@pytest.fixture(scope="session", autouse=True)
def _require_srt() -> None:
    """Skip without srt, unless ATHENA_REQUIRE_SANDBOX=1 (CI), where that is a failure."""
    problem = srt_problem()
    if problem is None:
        return
    if os.environ.get("ATHENA_REQUIRE_SANDBOX") == "1":
        pytest.fail(f"the srt executor cannot run: {problem}", pytrace=False)
    pytest.skip(f"the srt executor cannot run: {problem}")


@pytest.fixture
def athena_factory(tmp_path: Path) -> Iterator:
    opened: list[Athena] = []

    def open_(**sections: dict) -> Athena:
        raw = {name: dict(values) for name, values in sections.items()}
        raw.setdefault("execution", {}).setdefault("executor", "srt")
        raw.setdefault("plugins", {}).setdefault("strict", True)
        config = Config.from_mapping(raw, data_dir=tmp_path / "athena-home", env={})
        instance = Athena.open(config=config)
        opened.append(instance)
        return instance

    yield open_
    for instance in opened:
        instance.close()


@pytest.fixture
def athena(athena_factory) -> Athena:
    return athena_factory()
