"""The procedure catalog: database rows that index the procedures' git repository.

Git holds every version's files; the catalog holds one row per procedure (description,
tags, source, status, active and latest commit) and one per version (number, status,
author, message, time, validation report), so that listing and searching never read git,
and so that what git cannot hold - which version is active, what the gate found - has a
home.

:meth:`ProcedureCatalog.save` and :meth:`~ProcedureCatalog.rollback` write git first and
then the rows. A process killed in between leaves a commit the rows do not know; every
open, save and rollback **reconciles**: the commits made since the last one the catalog
recorded (``athena_state`` key ``procedures_head``) are replayed, each new version
becoming a ``candidate`` row. The replay runs in one write transaction, so processes
sharing the database take turns and no version is recorded twice.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, cast

import attrs
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from athena_core._time import utcnow
from athena_core.errors import InvalidArgumentError, ProcedureNotFoundError, ProcedureStoreError
from athena_core.procedures.erasure import finish_interrupted
from athena_core.procedures.gate import RunStats
from athena_core.procedures.model import (
    SOURCES,
    STATUSES,
    HistoryEntry,
    Procedure,
    ProcedureVersion,
    Source,
    Status,
    ValidationReport,
    VersionRecord,
    check_procedure_id,
)
from athena_core.procedures.repository import Change, ProcedureRepository
from athena_core.storage.models import ProcedureRow, ProcedureVersionRow, StateRow

if TYPE_CHECKING:
    from athena_core.storage import Storage

__all__ = ["HEAD_KEY", "CatalogEntry", "ProcedureCatalog"]

#: ``athena_state`` key of the last commit the catalog has recorded.
HEAD_KEY = "procedures_head"
_versions = cast(Table, ProcedureVersionRow.__table__)


@attrs.frozen(kw_only=True)
class CatalogEntry:
    """One procedure as the catalog lists it."""

    id: str
    description: str
    tags: tuple[str, ...]
    source: Source
    #: ``active`` if one of its versions is, ``retired`` if all of them are, else
    #: ``candidate``.
    status: Status
    #: The commit of its active version, if one is.
    active_commit: str | None
    #: The commit of its newest version.
    latest_commit: str
    updated_at: datetime


class ProcedureCatalog:
    """The procedures of one Athena store: git for the files, rows for the index.

    Open with :meth:`open` (which reconciles). The repository stays the caller's to close.
    """

    def __init__(self, storage: Storage, repository: ProcedureRepository) -> None:
        self.storage = storage
        self.repository = repository

    @classmethod
    def open(cls, storage: Storage, repository: ProcedureRepository) -> ProcedureCatalog:
        """A catalog over ``storage`` and ``repository``, reconciled with the repository.

        Raises :class:`ProcedureStoreError` if the rows were made from another repository.
        """
        catalog = cls(storage, repository)
        catalog.reconcile()
        return catalog

    # --- writing -----------------------------------------------------------------------------

    def save(self, procedure: Procedure, code: str, tests: str, *, author: str,
             message: str) -> ProcedureVersion:
        """Save a version (:meth:`ProcedureRepository.save`: one commit, durable) and record
        it as a ``candidate``; return it. Saving the newest version again returns it as is."""
        commit = self.repository.save(procedure, code, tests, author=author, message=message)
        self.reconcile()
        return self.version(procedure.id, commit)

    def rollback(self, id: str, to_commit: str, *, author: str,
                 message: str) -> ProcedureVersion:
        """Restore ``id`` as it was at ``to_commit`` in a new commit
        (:meth:`ProcedureRepository.rollback`) and record that version as a ``candidate``:
        it is active only once the gate makes it so."""
        commit = self.repository.rollback(id, to_commit, author=author, message=message)
        self.reconcile()
        return self.version(id, commit)

    def set_status(self, id: str, commit: str, status: Status, *,
                   validation: ValidationReport | None = None) -> VersionRecord:
        """Set a version's status (and its validation report, if given).

        At most one version of a procedure is active: making one active retires the one
        that was. This records a decision; it does not check the version (the gate does).
        """
        if status not in STATUSES:
            raise InvalidArgumentError(
                f"status {status!r} is not one of {', '.join(STATUSES)}.", argument="status")
        if validation is not None and not isinstance(validation, ValidationReport):
            raise InvalidArgumentError("validation must be a ValidationReport.",
                                       argument="validation")
        with self.storage.write() as session:
            row = session.get(ProcedureVersionRow, (check_procedure_id(id), commit))
            if row is None:
                raise _no_version(id, commit)
            procedure = session.get(ProcedureRow, id)
            assert procedure is not None  # the foreign key
            if status == "active" and procedure.active_commit not in (None, commit):
                previous = session.get(ProcedureVersionRow, (id, procedure.active_commit))
                if previous is not None:
                    previous.status = "retired"
            row.status = status
            if validation is not None:
                row.validation = validation.to_dict()
            if status == "active":
                procedure.active_commit = commit
            elif procedure.active_commit == commit:
                procedure.active_commit = None
            session.flush()
            procedure.status = _procedure_status(session, procedure)
            procedure.updated_at = utcnow()
            return _record(row)

    def record_run(self, id: str, commit: str, *, ok: bool) -> RunStats:
        """Count one real run of version ``commit`` of ``id`` (a success if ``ok``) and
        return the version's run statistics after it."""
        with self.storage.write() as session:
            row = session.get(ProcedureVersionRow, (check_procedure_id(id), commit))
            if row is None:
                raise _no_version(id, commit)
            row.runs = (row.runs or 0) + 1
            row.successes = (row.successes or 0) + int(ok)
            return RunStats(runs=row.runs, successes=row.successes)

    def stats(self, id: str, commit: str) -> RunStats:
        """The run statistics of version ``commit`` of ``id`` (none yet: zero runs)."""
        with self.storage.read() as session:
            row = session.get(ProcedureVersionRow, (check_procedure_id(id), commit))
            if row is None:
                return RunStats()
            return RunStats(runs=row.runs or 0, successes=row.successes or 0)

    def reconcile(self) -> int:
        """Record the commits the rows do not know yet (each new version a ``candidate``);
        return how many versions were added."""
        head = self.repository.head()
        with self.storage.read() as session:
            state = session.get(StateRow, HEAD_KEY)
            if (state.value if state is not None else None) == head:
                return 0  # the common case, without a write transaction
        finish_interrupted(self)  # an erasure a killed process left recorded
        with self.storage.write() as session:
            state = session.get(StateRow, HEAD_KEY)
            recorded = state.value if state is not None else None
            head = self.repository.head()
            if recorded == head:
                return 0
            if recorded is not None and not self.repository.has_commit(recorded):
                raise ProcedureStoreError(
                    f"The procedure catalog in the database was built from another "
                    f"repository than {self.repository.path} (it lacks commit "
                    f"{recorded[:12]}).",
                    hint="Point [procedures] repository at the repository this database "
                         "was used with (decision 17 in docs/decisions).")
            log = self.repository.log(since=recorded)
            added = self._replay(session, log.changes, complete=log.complete)
            if state is None:
                session.add(StateRow(key=HEAD_KEY, value=head))
            else:
                state.value = cast(str, head)
            return added

    def _replay(self, session: Session, changes: Sequence[Change], *, complete: bool) -> int:
        """Add the rows of ``changes`` (oldest first) that are missing; ``complete`` when
        they start at the first commit (so numbering starts at 1)."""
        numbers: dict[str, int] = {}
        pending: builtins.list[tuple[str, HistoryEntry, int]] = []
        latest: dict[str, str] = {}
        for change in changes:
            for id in change.procedures:
                if id not in numbers:
                    numbers[id] = 0 if complete else (session.scalar(
                        select(func.max(_versions.c.number))
                        .where(_versions.c.procedure_id == id)) or 0)
                numbers[id] += 1
                pending.append((id, change.entry, numbers[id]))
                latest[id] = change.entry.commit
        now = utcnow()
        for id, commit in latest.items():  # procedure rows first: the versions' foreign key
            procedure = self.repository.read(id, commit).procedure
            row = session.get(ProcedureRow, id)
            if row is None:
                row = ProcedureRow(id=id, status="candidate", active_commit=None)
                session.add(row)
            row.description = procedure.description
            row.tags = list(procedure.tags)
            row.source = procedure.source
            row.latest_commit = commit
            row.updated_at = now
        session.flush()
        added = 0
        for id, entry, number in pending:
            if session.get(ProcedureVersionRow, (id, entry.commit)) is None:
                session.add(ProcedureVersionRow(
                    procedure_id=id, commit_id=entry.commit, number=number,
                    status="candidate", author=entry.author, message=entry.message,
                    created_at=entry.created_at, validation=None))
                added += 1
        session.flush()
        for id in latest:
            row = session.get(ProcedureRow, id)
            assert row is not None
            row.status = _procedure_status(session, row)
        return added

    # --- reading -----------------------------------------------------------------------------

    def get(self, id: str) -> CatalogEntry:
        """Procedure ``id``'s row. Raises :class:`ProcedureNotFoundError`."""
        with self.storage.read() as session:
            row = session.get(ProcedureRow, check_procedure_id(id))
            if row is None:
                raise _not_found(id)
            return _entry(row)

    def list(self, *, source: Source | None = None, status: Status | None = None,
             tag: str | None = None, after: str | None = None,
             limit: int | None = None) -> builtins.list[CatalogEntry]:
        """The procedures, by id; only those with the given source, status and tag, whose id
        sorts after ``after``; at most ``limit`` of them (a page: pass the last id as the
        next page's ``after``)."""
        if source is not None and source not in SOURCES:
            raise InvalidArgumentError(f"source {source!r} is not one of "
                                       f"{', '.join(SOURCES)}.", argument="source")
        if status is not None and status not in STATUSES:
            raise InvalidArgumentError(f"status {status!r} is not one of "
                                       f"{', '.join(STATUSES)}.", argument="status")
        if limit is not None and limit < 1:
            raise InvalidArgumentError("limit must be at least 1.", argument="limit")
        query = select(ProcedureRow).order_by(ProcedureRow.id)
        if source is not None:
            query = query.where(ProcedureRow.source == source)
        if status is not None:
            query = query.where(ProcedureRow.status == status)
        if after is not None:
            query = query.where(ProcedureRow.id > after)
        if limit is not None and tag is None:
            query = query.limit(limit)
        with self.storage.read() as session:
            rows = session.scalars(query).all()
            found = [_entry(row) for row in rows if tag is None or tag in row.tags]
        return found[:limit]

    def active_commits(self) -> dict[str, str]:
        """The commit of each procedure's active version, by procedure id (one query that
        reads two columns: cheap enough to ask before every search)."""
        with self.storage.read() as session:
            rows = session.execute(select(ProcedureRow.id, ProcedureRow.active_commit)
                                   .where(ProcedureRow.active_commit.is_not(None))).all()
        return {id: commit for id, commit in rows if commit is not None}

    def versions(self, id: str) -> builtins.list[VersionRecord]:
        """Procedure ``id``'s versions, newest first. Raises :class:`ProcedureNotFoundError`."""
        with self.storage.read() as session:
            rows = session.scalars(
                select(ProcedureVersionRow)
                .where(ProcedureVersionRow.procedure_id == check_procedure_id(id))
                .order_by(ProcedureVersionRow.number.desc())).all()
            if not rows:
                raise _not_found(id)
            return [_record(row) for row in rows]

    def version(self, id: str, commit: str | None = None) -> ProcedureVersion:
        """Procedure ``id`` as of ``commit`` (default: its newest version), with its files
        from git and its number, status and report from the rows."""
        revision = self.repository.read(id, commit)
        with self.storage.read() as session:
            row = session.get(ProcedureVersionRow, (id, revision.commit))
            record = _record(row) if row is not None else None
        if record is None:  # committed by a process that was killed before its rows
            self.reconcile()
            with self.storage.read() as session:
                row = session.get(ProcedureVersionRow, (id, revision.commit))
                if row is None:
                    raise ProcedureStoreError(
                        f"Version {revision.commit[:12]} of {id!r} is in git but not in the "
                        "catalog after reconciling.", hint="Report this as a bug.")
                record = _record(row)
        return ProcedureVersion(
            commit=revision.commit, author=revision.author, message=revision.message,
            created_at=revision.created_at, procedure=revision.procedure, code=revision.code,
            tests=revision.tests, number=record.number, status=record.status,
            validation=record.validation)


def _procedure_status(session: Session, row: ProcedureRow) -> str:
    if row.active_commit is not None:
        return "active"
    statuses = set(session.scalars(select(ProcedureVersionRow.status)
                                   .where(ProcedureVersionRow.procedure_id == row.id)))
    return "retired" if statuses == {"retired"} else "candidate"


def _entry(row: ProcedureRow) -> CatalogEntry:
    return CatalogEntry(id=row.id, description=row.description, tags=tuple(row.tags),
                        source=cast(Source, row.source), status=cast(Status, row.status),
                        active_commit=row.active_commit, latest_commit=row.latest_commit,
                        updated_at=row.updated_at)


def _record(row: ProcedureVersionRow) -> VersionRecord:
    return VersionRecord(
        commit=row.commit_id, author=row.author, message=row.message,
        created_at=row.created_at, number=row.number, status=cast(Status, row.status),
        validation=(ValidationReport.from_dict(row.validation)
                    if row.validation is not None else None))


def _no_version(id: str, commit: str) -> ProcedureNotFoundError:
    return ProcedureNotFoundError(
        f"Procedure {id!r} has no version {commit[:40]!r} in the catalog.",
        hint="`versions(id)` lists its versions (full commit ids).")


def _not_found(id: str) -> ProcedureNotFoundError:
    return ProcedureNotFoundError(f"No procedure {id!r} is in the catalog.",
                                  hint="`list()` shows the procedures; ids are "
                                       "'namespace/name'.")
