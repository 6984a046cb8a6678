"""The audit log is not memory: it records every door's calls, and no door can read,
forge, change or delete it.

Tenant C does nothing but run programs and tool calls; afterwards C has no memory at
all (no memory, intention or graph fact), while the audit log holds a record of each
call, hash-chained and intact.
"""

from __future__ import annotations

import pytest

from tests.invariants.doors import ProgramDoor
from tests.invariants.world import World

pytestmark = pytest.mark.timeout(900)


def test_calls_leave_audit_records_and_no_memories(world: World) -> None:
    before = len(world.athena.audit.records(scope="C", limit=10_000))
    doors = world.doors("default", scope="C")
    for door in doors:
        outcome = door.call("recall", "anything at all")
        assert outcome is not None and outcome.ok, (door, outcome)
        for op, args in (("recall", ("tool call execution program",)),
                         ("episodic.timeline", ()),
                         ("episodic.search", ("ran a python program",)),
                         ("prospective.list", ()), ("prospective.due", ())):
            outcome = door.call(op, *args)
            if outcome is not None:
                assert outcome.ok and outcome.value in ([], None, {"result": []}), \
                    (door, op, outcome)
    assert world.snapshot("C") == world.snapshot("no-such-scope")  # nothing at all
    records = world.athena.audit.records(scope="C", limit=10_000)
    executions = sum(isinstance(d, ProgramDoor) or d.name.startswith("mcp-code")
                     for d in doors)
    assert len(records) - before >= executions, records
    assert world.athena.audit.verify().ok


def test_no_door_can_forge_or_delete_audit_records(world: World) -> None:
    count = len(world.athena.audit.records(limit=10_000))
    for door in world.doors("default"):
        for op, args in (("audit.record", ("forged",)), ("audit.records", ()),
                         ("audit.scrub", ("B", ["x"])), ("audit.verify", ())):
            outcome = door.call(op, *args) if op in world.athena.api else None
            assert outcome is None, (door, op, outcome)
    for door in world.doors("default"):
        if isinstance(door, ProgramDoor):
            result = door.athena.execute(
                "import athena\n[hasattr(athena, 'audit'), "
                "hasattr(athena, 'episodic') and hasattr(athena.episodic, 'audit')]",
                scope="B")
            assert result.ok and result.value == [False, False], result
    assert len(world.athena.audit.records(limit=10_000)) >= count
    assert world.athena.audit.verify().ok
