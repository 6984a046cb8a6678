"""``forget(subject=...)`` reaches the procedures' git store: a procedure any version of
which holds the subject leaves the whole history, commit messages holding it are erased,
no object of the repository holds it any more, and the other procedures keep their
versions, statuses and runs."""

from __future__ import annotations

import pytest

from athena_core.errors import ProcedureNotFoundError
from athena_core.procedures.erasure import ERASING_KEY
from athena_core.procedures.repository import ERASED_MESSAGE, ProcedureRepository
from tests.sandbox import require_sandbox

SUBJECT = "Falkenstein"

CODE = '''\
def run(topic: str) -> str:
    """{doc}"""
    return topic.upper()
'''
TESTS = '''\
from main import run


def test_upper() -> None:
    assert run("a") == "A"
'''
EXAMPLES = [{"inputs": {"topic": "b"}, "expected": "B"}]


def save(athena, id: str, doc: str, message: str = "saved") -> str:
    return athena.procedures.save(id, "Upper-case a topic.", CODE.format(doc=doc), TESTS,
                                  examples=EXAMPLES, message=message)["commit"]


def objects_holding(repository: ProcedureRepository, needle: str) -> list[str]:
    """Every object of the repository (loose or packed) whose content holds ``needle``,
    case ignored, and every file that holds it as is."""
    store = repository._repo.object_store
    found = [sha.decode() for sha in store
             if needle.lower().encode() in store[sha].as_raw_string().lower()]
    found += [str(path) for path in repository.path.rglob("*") if path.is_file()
              and needle.lower().encode() in path.read_bytes().lower()]
    return found


@pytest.fixture
def history(athena):
    """Four commits: ``a/held`` with the subject in its first version only, ``a/kept``
    between them, ``a/note`` whose commit message names the subject."""
    save(athena, "a/held", f"Made for {SUBJECT}.")
    kept = save(athena, "a/kept", "Plain.")
    save(athena, "a/held", "No one in particular.")
    save(athena, "a/note", "Plain too.", message=f"asked for by {SUBJECT}")
    return kept


def test_forget_by_subject_erases_a_procedure_from_every_version(athena, history):
    repository = athena.procedures.repository
    assert objects_holding(repository, SUBJECT)
    athena.remember(f"{SUBJECT} asked for the upper-case helper")

    assert athena.forget(subject=SUBJECT) == 1  # the memory; the procedure is reported apart

    with pytest.raises(ProcedureNotFoundError):
        athena.procedures.show("a/held")
    assert objects_holding(repository, SUBJECT) == []
    assert [entry["id"] for entry in athena.procedures.list()] == ["a/kept", "a/note"]
    [kept] = athena.procedures.history("a/kept")
    assert kept["commit"] != history  # a commit after the erased one: rewritten
    assert repository.has_commit(kept["commit"]) and not repository.has_commit(history)
    assert repository.read("a/kept").code == CODE.format(doc="Plain.")
    [note] = athena.procedures.history("a/note")
    assert note["message"] == ERASED_MESSAGE
    assert repository.verify() == []
    record = [r for r in athena.audit.records(kind="forget")][-1]
    assert record.details["procedures"] == 1


@require_sandbox()
def test_the_other_procedures_keep_their_status_and_run(athena, history):
    assert athena.procedures.validate("a/kept")["status"] == "active"
    athena.forget(subject=SUBJECT)
    assert athena.procedures.show("a/kept")["status"] == "active"
    assert athena.procedures.run("a/kept", topic="x") == "X"


def test_an_erasure_cut_short_after_the_catalog_noted_it_is_completed_on_reopening(
        athena_factory, monkeypatch):
    athena = athena_factory()
    save(athena, "a/held", f"Made for {SUBJECT}.")
    save(athena, "a/kept", "Plain.")

    def killed(self, old_head, new_head):
        raise KeyboardInterrupt  # the process dies after the catalog's transaction

    monkeypatch.setattr(ProcedureRepository, "_finish", killed)
    with pytest.raises(KeyboardInterrupt):
        athena.forget(subject=SUBJECT)
    with athena.storage.read() as session:
        from athena_core.storage.models import StateRow

        assert session.get(StateRow, ERASING_KEY) is not None
    athena.close()
    monkeypatch.undo()

    again = athena_factory()
    assert [entry["id"] for entry in again.procedures.list()] == ["a/kept"]
    assert objects_holding(again.procedures.repository, SUBJECT) == []
    with again.storage.read() as session:
        assert session.get(StateRow, ERASING_KEY) is None


def test_a_store_that_never_used_procedures_gets_no_repository(athena):
    athena.remember(f"{SUBJECT} called")
    assert athena.forget(subject=SUBJECT) == 1
    assert not athena.config.procedure_repository.exists()


def test_nothing_holding_the_subject_changes_nothing(athena, history):
    head = athena.procedures.repository.head()
    athena.forget(subject="Zanzibar-Quay")
    assert athena.procedures.repository.head() == head
