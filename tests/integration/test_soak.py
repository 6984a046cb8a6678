"""The short soak: ``benchmarks/soak.py --duration 60`` loses nothing and leaks nothing.

Eight MCP clients over HTTP in four scopes, a reindex in another process and a kill -9
of the server half way (see benchmarks/README.md). Only correctness is asserted, never
a timing: every acknowledged write is in the store, no acknowledged forget is undone,
no result comes from another scope, and the only failed calls are those the kill left
unacknowledged. Programs run under bubblewrap, so this needs the athena-bwrap plugin.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sandbox import require_sandbox

pytestmark = [pytest.mark.slow, require_sandbox()]

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


@pytest.mark.timeout(900)
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
    assert done.returncode == 0
    # It did what it says: the reindex ran, the kill happened, work went on after it.
    assert result["events"]["reindex"]["exit_status"] == 0, result["events"]["reindex"]
    assert result["events"]["kill"]["orphan_count"] == 0, result["events"]["kill"]
    assert result["ok_by_life"].get("2", 0) > 0, result["ok_by_life"]
    assert set(result["latency"]) == {"remember", "recall", "run_code", "forget", "export"}
    assert store["checked_present"] > 0 and store["checked_forgotten"] > 0
