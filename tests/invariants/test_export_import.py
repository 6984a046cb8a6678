"""Export and import keep tenants apart: B's export holds nothing of A, and no file
imported into B - through the CLI or the host - reaches, links to or changes A.

Import is the host's (or its operator's) path, not an agent's; bound to a scope
(``athena import --scope``, ``athena.bound(scope=...)``) it refuses a whole file whose
records leave that scope or link to another scope's memories.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from athena_core.errors import ImportFormatError
from athena_core.transfer import import_jsonl
from tests.invariants.doors import run_cli
from tests.invariants.world import World, canary, examples

pytestmark = pytest.mark.timeout(900)
STAMP = "2026-01-01T00:00:00+00:00"


def test_an_export_of_b_holds_nothing_of_a(world: World) -> None:
    probe = canary()
    world.athena.remember(f"B export probe {probe}", scope="B")
    done = run_cli(world.home, "export", "-", "--scope", "B")
    assert done.returncode == 0, done.stderr
    assert probe in done.stdout
    assert world.a.token not in done.stdout and '"scope":"A"' not in done.stdout


def record(world: World, kind: str, a_id: str, text: str) -> dict[str, Any]:
    """One line of a file handed to B's import, aimed at A as ``kind`` says."""
    fields: dict[str, Any] = {"version": 1}
    line = {"id": "01J" + canary("")[:23].upper(), "layer": "semantic", "scope": "B",
            "text": text, "metadata": {}, "importance": 0.5, "created_at": STAMP,
            "updated_at": STAMP, "valid_from": STAMP, "valid_to": None, "fields": fields}
    if kind == "scope A":
        line["scope"] = "A"
    elif kind == "A's id":
        line["id"] = a_id
    else:  # lineage_id or superseded_by pointing at A's memory
        fields[kind] = a_id
    return line


@examples(40)
@given(data=st.data())
def test_no_import_into_b_reaches_a(world: World, data: Any) -> None:
    kind = data.draw(st.sampled_from(["scope A", "lineage_id", "superseded_by", "A's id"]))
    a_id = data.draw(st.sampled_from(sorted(world.a.ids.values())))
    via = data.draw(st.sampled_from(["cli", "host"]))
    text = f"imported {canary()}"
    lines = [{"format": "athena-export", "version": 1}, record(world, kind, a_id, text)]
    payload = "".join(json.dumps(line) + "\n" for line in lines)
    before_a, before_b = world.snapshot("A"), world.snapshot("B")
    if via == "cli":
        done = run_cli(world.home, "import", "-", "--scope", "B", "--json", stdin=payload)
        refused = done.returncode != 0
        if refused:
            assert "ImportFormatError" in done.stdout, (kind, done.stdout, done.stderr)
    else:
        try:
            with world.athena.bound(scope="B"):
                import_jsonl(world.athena, io.BytesIO(payload.encode()))
            refused = False
        except ImportFormatError:
            refused = True
    assert world.snapshot("A") == before_a, (kind, via)
    if kind == "A's id":  # an id that exists is skipped: nothing written, nothing refused
        assert not refused and world.snapshot("B") == before_b, (kind, via)
    else:
        assert refused and world.snapshot("B") == before_b, (kind, via)
