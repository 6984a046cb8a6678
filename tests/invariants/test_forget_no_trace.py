"""Forget leaves no trace, whichever door stored the text and whichever forgot it.

Each door stores a text holding its own canary - as a fact, as an event and as a
reminder's title - then forgets them. After every server has stopped and the database
is checkpointed, no byte of the data dir (database, write-ahead log, full-text shadow
tables, the audit log that recorded the programs and tool calls carrying the canary),
of an export, or of the servers' logs holds the canary in any common encoding.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from athena_core.transfer import export_jsonl
from tests.conftest import DATABASE_URL
from tests.invariants.world import World, canary

pytestmark = [pytest.mark.timeout(900),
              pytest.mark.skipif(bool(DATABASE_URL), reason="scans a SQLite data dir")]


def encodings(token: str) -> set[bytes]:
    """``token`` as UTF-8, lower and upper case, UTF-16 (both byte orders), hex and
    base64 (each of the three alignments a token inside a longer text can have)."""
    raw = token.encode()
    forms = {raw, token.lower().encode(), token.upper().encode(), token.encode("utf-16-le"),
             token.encode("utf-16-be"), raw.hex().encode(), raw.hex().upper().encode()}
    for shift in range(3):
        encoded = base64.b64encode(b"\x00" * shift + raw)
        forms.add(encoded[4:-4])  # the part that does not depend on the neighbours
    return forms


def files_holding(root: Path, token: str) -> Iterator[str]:
    forms = encodings(token)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if any(form in data for form in forms):
            yield str(path.relative_to(root))


@pytest.fixture(scope="module")
def forgetting(tmp_path_factory) -> Iterator[World]:
    world = World(tmp_path_factory.mktemp("forget") / "home")
    try:
        yield world
    finally:
        world.close()


def test_forgotten_text_is_nowhere(forgetting: World) -> None:
    world = forgetting
    stored: dict[str, str] = {}
    for door in world.doors("default"):
        token = canary(door.name.split("[")[0].replace("-", "")[:6])
        # Quotes, a backslash, a newline and accents: every program and tool call quotes
        # the text with escapes of its own.
        fact = door.call("remember", f'the "vault" code is {token}\nsaid Zoë \\ twice, '
                                     f"see https://wiki.example/{token}")
        event = door.call("episodic.record", f"read the vault code {token} aloud, it's ünïque",
                          session="forget-me")
        assert fact is not None and fact.ok, (door, fact)
        ids = [_id(fact.value)] + ([_id(event.value)] if event is not None and event.ok
                                   else [])
        stored[door.name] = token
        # The graph takes the canary too: the URL becomes an entity the memory mentions.
        linked = door.call("graph.link", ids[0])
        assert linked is None or (linked.ok and token in linked.seen), (door, linked)
        # and prospective memory: a reminder whose title holds it
        reminder = door.call("prospective.add", f"rotate the vault code {token}")
        if reminder is not None:  # (a door without the operation among its tools: None)
            assert reminder.ok, (door, reminder)
            ids.append(_id(reminder.value))
        # found before it is forgotten: the scan below is not blind
        hit = door.call("recall", "vault code")  # the query does not quote the canary
        assert hit is not None and token in hit.seen, (door, hit)
        gone = door.call("forget", ids)
        assert gone is not None and gone.ok, (door, gone)
    assert world.athena.audit.records(scope="B", limit=10_000), "the doors were audited"
    world.close()  # every server stops; its connections close
    with world.open() as athena:
        athena.checkpoint()
        export = io.StringIO()
        export_jsonl(athena, export)
        assert athena.audit.verify().ok
    logs = world.home.parent
    for door, token in stored.items():
        assert list(files_holding(world.home, token)) == [], (door, token)
        assert list(files_holding(logs, token)) == [], (door, token)
        assert token not in export.getvalue(), door


def _id(value: object) -> str:
    """An id as each door returns it (a string, or the classic mode's ``{"result": id}``)."""
    if isinstance(value, dict):
        value = value.get("result", value)
    if isinstance(value, dict):  # an intention: its description, with its id
        value = value.get("id")
    assert isinstance(value, str), value
    return value
