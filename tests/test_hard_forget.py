"""forget() deletes for good: no trace in any file of the data dir, no version left."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from athena_core.errors import MemoryNotFoundError
from tests.conftest import DATABASE_URL

sqlite_only = pytest.mark.skipif(bool(DATABASE_URL),
                                 reason="scans the files of a SQLite data dir")


def canary() -> str:
    # Lower case and ending in a digit, so the full-text tokenizer and stemmer
    # store it unchanged and a leftover index term would show up in a byte scan.
    return f"zqx{uuid.uuid4().hex}7"


def files_containing(data_dir: Path, needle: str) -> list[str]:
    """Files under ``data_dir`` whose bytes contain ``needle`` (or its last 16 characters).

    The tail catches full-text index terms stored with a prefix shared with the
    previous term, and the UTF-16 form catches text in a UTF-16 database.
    """
    forms = {needle.encode(), needle[-16:].encode(), needle.encode("utf-16-le")}
    found = []
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if any(form in data for form in forms):
            found.append(path.name)
    return found


@pytest.fixture
def secrets(athena_factory):
    """One memory of each kind that holds a canary, plus a neighbour that must survive.

    Stored as given (``[privacy] conceal = false``), so that the scan finds the canaries
    before the forget; with concealment on, a canary that looks like a secret would be a
    placeholder already (tests/test_privacy_vault.py forgets those by subject)."""
    athena = athena_factory(privacy={"conceal": False})
    c = {name: canary() for name in ("note", "meta", "episode", "fact_v1", "fact_v2",
                                     "reason")}
    ids = {
        "note": athena.remember(f"the api password is {c['note']} keep it safe"),
        "meta": athena.remember("a note whose metadata is secret",
                                metadata={"secret": c["meta"]}),
        "episode": athena.episodic.record(f"user pasted the token {c['episode']} in chat",
                                          session="s1", kind="conversation"),
        "fact_v1": athena.remember(f"the door code is {c['fact_v1']}"),
    }
    ids["fact_v2"] = athena.semantic.update(ids["fact_v1"], f"the door code is {c['fact_v2']}",
                                            reason=f"rotated away from {c['reason']}")
    keep = athena.remember("the office plants need water on fridays")
    return athena, c, ids, keep


@sqlite_only
def test_forgotten_text_leaves_no_bytes_in_the_data_dir(secrets, data_dir):
    athena, c, ids, _ = secrets
    athena.checkpoint()
    for name, token in c.items():  # control: the scan does find live data
        assert files_containing(data_dir, token), f"{name} canary not found before forget"

    assert athena.forget([ids["note"], ids["meta"], ids["episode"], ids["fact_v2"]]) == 5
    athena.checkpoint()
    athena.close()

    leftovers = {name: files_containing(data_dir, token) for name, token in c.items()}
    assert leftovers == {name: [] for name in c}


@sqlite_only
def test_no_bytes_left_even_without_an_explicit_checkpoint(athena_factory, data_dir):
    athena = athena_factory()
    token = canary()
    memory_id = athena.remember(f"temporary secret {token}")
    athena.remember("something else entirely")
    athena.forget(memory_id)
    athena.close()  # closing the last connection folds the log into the database

    assert files_containing(data_dir, token) == []


def test_forgotten_memories_are_gone_from_every_read_path(secrets):
    athena, c, ids, keep = secrets
    athena.forget([ids["note"], ids["meta"], ids["episode"], ids["fact_v1"]])

    for name, memory_id in ids.items():
        with pytest.raises(MemoryNotFoundError):
            athena.get(memory_id)
        for token in c.values():
            assert memory_id not in [h.id for h in athena.recall(token, k=50)], name
    for query in ("api password", "metadata secret", "token pasted chat", "door code"):
        assert not ({h.id for h in athena.recall(query, k=50)} & set(ids.values())), query
    assert athena.episodic.timeline() == []
    assert [f.id for f in athena.semantic.facts()] == [keep]
    assert [f.id for f in athena.semantic.facts(as_of=athena.get(keep).created_at)] == [keep]
    assert athena.get(keep).text == "the office plants need water on fridays"


@pytest.mark.parametrize("version", ["fact_v1", "fact_v2"])
def test_forgetting_any_version_forgets_the_whole_fact(secrets, version):
    athena, _, ids, keep = secrets
    history = athena.semantic.history(ids["fact_v2"])
    assert [f.id for f in history] == [ids["fact_v1"], ids["fact_v2"]]
    back_then = history[0].valid_from  # when version 1 was the current one
    assert ids["fact_v1"] in [h.id for h in athena.recall("door code", as_of=back_then)]

    assert athena.forget(ids[version]) == 2  # both versions went

    for other in ("fact_v1", "fact_v2"):
        with pytest.raises(MemoryNotFoundError):
            athena.semantic.history(ids[other])
        with pytest.raises(MemoryNotFoundError):
            athena.get(ids[other])
        with pytest.raises(MemoryNotFoundError):
            athena.forget(ids[other])  # already gone
    # Not even a past point in time brings an old version back.
    hits = athena.recall("door code", k=50, as_of=back_then)
    assert not {h.id for h in hits} & {ids["fact_v1"], ids["fact_v2"]}
    # The other memories are untouched.
    for name in ("note", "meta", "episode"):
        assert athena.get(ids[name]).id == ids[name]
    assert keep in [h.id for h in athena.recall("office plants")]


def test_forget_is_scoped(athena):
    token = canary()
    mine = athena.remember(f"scoped secret {token}", scope="alice")
    with pytest.raises(MemoryNotFoundError):
        athena.forget(mine, scope="bob")
    assert athena.get(mine, scope="alice").text == f"scoped secret {token}"
    assert athena.forget(mine, scope="alice") == 1
    assert athena.recall(token, scope="alice") == []
