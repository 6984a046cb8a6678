"""The short soak: ``benchmarks/soak.py --duration 60`` loses nothing and leaks nothing.

Eight MCP clients over HTTP in four scopes, a reindex in another process and a kill -9
of the server half way (see benchmarks/README.md). Only correctness is asserted, never
a timing: every acknowledged write is in the store, no acknowledged forget is undone,
no result comes from another scope, and the only failed calls are those the kill left
unacknowledged. Programs run under bubblewrap, so this needs the athena-bwrap plugin.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from athena_core import Athena
from athena_core.config import Config
from tests.sandbox import require_sandbox

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SOAK = BENCHMARKS / "soak.py"


@pytest.fixture
def soak(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """benchmarks/soak.py as a module (its siblings importable, as when it runs)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("soak")


def test_the_checks_see_a_lost_write_an_undone_forget_and_another_scope(soak: ModuleType,
                                                                         tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = Config.from_mapping({"retrieval": {"embedder": "hashing"}}, data_dir=home, env={})
    with Athena.open(config=config) as athena:
        kept = athena.remember("kept [soak:north]", metadata={"soak_scope": "soak:north"},
                               scope="soak:north")
        not_forgotten = athena.remember("still here [soak:north]",
                                        metadata={"soak_scope": "soak:north"},
                                        scope="soak:north")
        elsewhere = athena.remember("kept [soak:north]", metadata={"soak_scope": "soak:north"},
                                    scope="soak:south")
    never_stored = "01M96YGGKHQCJJ8WSFNJ6XGKJB"
    ledger = soak.Ledger(written={kept: "soak:north", not_forgotten: "soak:north",
                                 never_stored: "soak:north", elsewhere: "soak:north"},
                         forgotten={not_forgotten})
    report = soak.verify(home, ledger)
    assert report["lost_ids"] == [never_stored, elsewhere]  # another scope's is not ours
    assert report["undone_ids"] == [not_forgotten]

    ledger.check("recall", "soak:north", [(kept, "soak:north", "soak:north")])
    assert ledger.foreign == []
    ledger.check("recall", "soak:north", [("x", "soak:south", "soak:south")])
    ledger.check("export", "soak:north", [(kept, "soak:north", "soak:west")])
    assert [(op, scope) for op, scope, _, _ in ledger.foreign] == [
        ("recall", "soak:north"), ("export", "soak:north")]


def test_the_memory_verdict_tells_growth_from_warm_up(soak: ModuleType) -> None:
    warm_then_flat = [(t, 1, 50.0 + min(t, 10) * 5) for t in range(60)]
    leaking = [(t, 2, 100.0 + t) for t in range(60)]
    assert soak.rss_verdict(warm_then_flat, 0.1)["flat"]
    verdict = soak.rss_verdict(warm_then_flat + leaking, 0.1)
    assert not verdict["flat"]
    assert verdict["lives"][2]["last_over_middle"] > 1.1


@pytest.mark.slow
@pytest.mark.timeout(900)
@require_sandbox()
def test_short_soak_loses_no_write_and_leaks_no_scope(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SOAK), "--duration", "60", "--json",
                           "--workdir", str(tmp_path / "soak")],
                          capture_output=True, text=True, timeout=840, check=False)
    assert done.returncode in (0, 1), f"the soak did not run:\n{done.stderr[-4000:]}"
    result = json.loads(done.stdout)
    store = result["store"]
    assert store["lost_writes"] == 0, store["lost_ids"]
    assert store["forgets_undone"] == 0, store["undone_ids"]
    assert store["mislabelled"] == 0
    assert result["cross_scope"] == 0, result["cross_scope_samples"]
    assert result["unexpected_errors"] == {}
    assert result["server"]["messages"] == []  # no traceback, no warning
    assert done.returncode == 0
    # It did what it says: the reindex ran, the kill happened, work went on after it.
    assert result["events"]["reindex"]["exit_status"] == 0, result["events"]["reindex"]
    assert result["events"]["kill"]["orphan_count"] == 0, result["events"]["kill"]
    assert result["ok_by_life"].get("2", 0) > 0, result["ok_by_life"]
    assert set(result["latency"]) == {"remember", "recall", "run_code", "forget", "export"}
    assert store["checked_present"] > 0 and store["checked_forgotten"] > 0
