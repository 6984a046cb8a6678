"""The procedure catalog: rows for every version, kept in step with git (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from athena_core.errors import InvalidArgumentError, ProcedureNotFoundError, ProcedureStoreError
from athena_core.procedures import (
    Procedure,
    ProcedureCatalog,
    ProcedureRepository,
    ValidationCheck,
    ValidationReport,
)
from athena_core.procedures.catalog import HEAD_KEY
from athena_core.storage import Storage
from athena_core.storage.models import ProcedureVersionRow, StateRow
from tests.conftest import DATABASE_URL, _empty_database

TESTS = "from main import run\n\n\ndef test_run() -> None:\n    assert run(1) == 2\n"


def code(n: int) -> str:
    return f"def run(x: int) -> int:\n    return x + {n}\n"


def procedure(id: str = "math/add", n: int = 1, **fields) -> Procedure:
    return Procedure.from_code(code(n), id=id, description=f"Add {n}.", **fields)


@pytest.fixture
def storage(tmp_path: Path):
    _empty_database()
    opened = Storage.open(DATABASE_URL or f"sqlite:///{tmp_path / 'athena.db'}")
    yield opened
    opened.close()


@pytest.fixture
def repository(tmp_path: Path):
    with ProcedureRepository.open(tmp_path / "procedures.git") as opened:
        yield opened


@pytest.fixture
def catalog(storage, repository) -> ProcedureCatalog:
    return ProcedureCatalog.open(storage, repository)


def save(catalog: ProcedureCatalog, n: int, id: str = "math/add", **fields):
    return catalog.save(procedure(id, n, **fields), code(n), TESTS, author="alice",
                        message=f"version {n}")


def report(passed: bool) -> ValidationReport:
    return ValidationReport(checks=[ValidationCheck("tests", passed, "3 of 3 passed")],
                            checked_at=datetime(2026, 12, 1, tzinfo=UTC))


def test_a_save_is_recorded_as_a_candidate_version(catalog) -> None:
    first = save(catalog, 1, tags=["math"])
    assert (first.number, first.status, first.validation) == (1, "candidate", None)
    assert (first.code, first.tests, first.author, first.message) == (
        code(1), TESTS, "alice", "version 1")
    second = save(catalog, 2)
    assert second.number == 2
    assert [v.commit for v in catalog.versions("math/add")] == [second.commit, first.commit]
    entry = catalog.get("math/add")
    assert (entry.description, entry.status, entry.latest_commit, entry.active_commit) == (
        "Add 2.", "candidate", second.commit, None)
    assert entry.tags == ()  # the newest manifest's


def test_saving_the_same_content_again_adds_no_version(catalog) -> None:
    first = save(catalog, 1)
    assert save(catalog, 1) == first
    assert len(catalog.versions("math/add")) == 1


def test_a_commit_whose_rows_were_never_written_is_added_back_on_open(
        storage, repository, catalog) -> None:
    save(catalog, 1)
    # A process killed between the git commit and the rows: only the commit exists.
    lost = repository.save(procedure(n=2), code(2), TESTS, author="bob", message="lost")
    other = repository.save(procedure("text/new", 1), code(1), TESTS, author="bob",
                            message="new procedure")
    assert [v.number for v in catalog.versions("math/add")] == [1]
    reopened = ProcedureCatalog.open(storage, repository)
    newest = reopened.versions("math/add")[0]
    assert (newest.commit, newest.number, newest.status, newest.author, newest.message) == (
        lost, 2, "candidate", "bob", "lost")
    assert reopened.versions("text/new")[0].commit == other
    assert reopened.get("text/new").status == "candidate"
    assert reopened.reconcile() == 0  # nothing is recorded twice


def test_the_rows_can_be_rebuilt_from_git(storage, repository, catalog) -> None:
    commits = [save(catalog, n).commit for n in (1, 2, 3)]
    with storage.write() as session:  # as if the catalog had been lost
        session.query(ProcedureVersionRow).delete()
        session.delete(session.get(StateRow, HEAD_KEY))
    assert catalog.reconcile() == 3
    assert [(v.commit, v.number) for v in catalog.versions("math/add")] == [
        (commits[2], 3), (commits[1], 2), (commits[0], 1)]


def test_a_version_missing_from_the_rows_is_recorded_when_read(repository, catalog) -> None:
    save(catalog, 1)
    lost = repository.save(procedure(n=2), code(2), TESTS, author="bob", message="lost")
    assert catalog.version("math/add").commit == lost
    assert catalog.version("math/add").number == 2


def test_making_a_version_active_retires_the_active_one(catalog) -> None:
    first, second = save(catalog, 1), save(catalog, 2)
    catalog.set_status("math/add", first.commit, "active", validation=report(True))
    assert catalog.get("math/add").active_commit == first.commit
    assert catalog.get("math/add").status == "active"
    record = catalog.set_status("math/add", second.commit, "active", validation=report(True))
    assert record.status == "active" and record.validation == report(True)
    statuses = {v.commit: v.status for v in catalog.versions("math/add")}
    assert statuses == {first.commit: "retired", second.commit: "active"}
    assert catalog.version("math/add", first.commit).status == "retired"
    assert catalog.get("math/add").active_commit == second.commit
    catalog.set_status("math/add", second.commit, "retired")
    entry = catalog.get("math/add")
    assert (entry.status, entry.active_commit) == ("retired", None)
    # The report stays when the status changes without a new one.
    assert catalog.version("math/add", second.commit).validation == report(True)


def test_a_failed_report_is_kept_with_a_candidate(catalog) -> None:
    first = save(catalog, 1)
    catalog.set_status("math/add", first.commit, "candidate", validation=report(False))
    version = catalog.version("math/add")
    assert version.status == "candidate" and not version.validation.passed


def test_a_rollback_is_recorded_as_a_new_candidate(catalog) -> None:
    first, second = save(catalog, 1), save(catalog, 2)
    catalog.set_status("math/add", second.commit, "active")
    rolled = catalog.rollback("math/add", first.commit, author="carol", message="back")
    assert (rolled.number, rolled.status, rolled.code) == (3, "candidate", code(1))
    assert catalog.get("math/add").active_commit == second.commit  # the gate decides


def test_list_filters_by_source_status_and_tag(catalog) -> None:
    save(catalog, 1, "math/add", tags=["math"], source="learned")
    b = save(catalog, 1, "text/upper", tags=["text"])
    catalog.set_status("text/upper", b.commit, "active")
    assert [e.id for e in catalog.list()] == ["math/add", "text/upper"]
    assert [e.id for e in catalog.list(source="learned")] == ["math/add"]
    assert [e.id for e in catalog.list(status="active")] == ["text/upper"]
    assert [e.id for e in catalog.list(tag="text")] == ["text/upper"]
    with pytest.raises(InvalidArgumentError, match="status"):
        catalog.list(status="approved")
    with pytest.raises(InvalidArgumentError, match="source"):
        catalog.list(source="pypi")


def test_unknown_procedures_and_versions_are_typed_errors(catalog) -> None:
    save(catalog, 1)
    with pytest.raises(ProcedureNotFoundError, match="math/none"):
        catalog.get("math/none")
    with pytest.raises(ProcedureNotFoundError, match="math/none"):
        catalog.versions("math/none")
    with pytest.raises(ProcedureNotFoundError, match="no version"):
        catalog.set_status("math/add", "f" * 40, "active")
    with pytest.raises(InvalidArgumentError, match="status"):
        catalog.set_status("math/add", "f" * 40, "approved")


def test_a_catalog_built_from_another_repository_is_refused(storage, catalog,
                                                            tmp_path) -> None:
    save(catalog, 1)
    with ProcedureRepository.open(tmp_path / "elsewhere.git") as other:
        other.save(procedure(n=5), code(5), TESTS, author="x", message="other repo")
        with pytest.raises(ProcedureStoreError, match="another repository"):
            ProcedureCatalog.open(storage, other)
    with storage.read() as session:
        assert len(session.scalars(select(ProcedureVersionRow)).all()) == 1
