"""Export and import of memories as JSON Lines.

The first line is a header (``{"format": "athena-export", "version": 3}``); each
following line is one memory of any layer, in the order it was stored, with its
id, scope, timestamps and layer fields, so an export imported into an empty
data dir and exported again gives the same file. Vectors are not exported (they
belong to an embedder); they are recomputed on import. Sensitive values follow as
``{"sensitive_value": {...}}`` lines: vault rows, still encrypted (unless the export
is redacted); an import checks that its store's keys decrypt each one and that it is
the value its keyed hash names. Intentions of prospective memory follow as
``{"intention": {...}}`` lines (:mod:`athena_core.prospective.transfer`); an import
spools them with the records but holds all of a file's intentions in memory while it
writes them. The knowledge graph's lines come last (``graph_type``, ``graph_cascade``,
``graph_entity``, ``graph_fact``; :mod:`athena_core.graph.transfer`).

An import writes all of a file or nothing, in three passes that each hold one batch
of records in memory at most:

1. **checking** - every line is parsed and checked with the checks the layers apply
   to their own writes: the fields of a memory (those of
   :class:`~athena_core.memory.values.Memory`, with
   :class:`~athena_core.memory.store.MemoryStore`'s checks of text, scope, metadata and
   importance), the id's form (:mod:`athena_core._ids`) and its uniqueness in the file,
   and the layer's own fields (its ``import_check``). A record must stay in the scope
   the import is bound to (``athena.bound(scope=...)``, ``athena import --scope``), and
   what it links to (a fact's ``lineage_id``, ``superseded_by``) must be a memory of
   its own scope and layer, in the file or stored. Checked records go to a private
   temporary SQLite database (the spool), which SQLite deletes when it is closed or the
   process dies. The first bad line raises :class:`ImportFormatError` naming the line
   and the field; nothing has been written.
2. **embedding** - the vectors of the spooled records are computed batch by batch into
   the spool, outside any write transaction.
3. **writing** - one write transaction stores every record; a memory whose id is
   already stored is skipped (and so is an event already recorded under another id),
   so running an import again is harmless. An error, or the process being killed,
   before that transaction commits leaves the store as it was.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import math
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

import attrs
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from athena_core._time import isoformat, utcnow
from athena_core.api.validation import check_fields, declared_fields
from athena_core.errors import AthenaError, ImportFormatError, InvalidArgumentError
from athena_core.memory.values import Memory
from athena_core.storage.models import MemoryRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from athena_core.memory.store import MemoryStore, Transaction
    from athena_core.runtime import Athena

__all__ = ["FORMAT", "VERSION", "ImportReport", "PhaseProgress", "Progress", "export_jsonl",
           "import_jsonl"]

FORMAT = "athena-export"
#: The version written. Version 2 adds ``sensitive_value`` lines, version 3 the knowledge
#: graph's lines (:mod:`athena_core.graph.transfer`) and ``intention`` lines (prospective
#: memory); older files import too.
VERSION = 3
_READABLE_VERSIONS = (1, 2, 3)
_BATCH = 256
#: Lines checked between two progress reports of the checking pass.
_REPORT_EVERY = 1_000

#: Called with (done, total) as work advances.
Progress = Callable[[int, int], None]
#: Called once per pass of an import (``"checking"``, in bytes of the file when its size
#: is known; ``"embedding"`` and ``"writing"``, in records) with the pass's name; returns
#: that pass's :data:`Progress`, or ``None`` for no report.
PhaseProgress = Callable[[str], "Progress | None"]


@attrs.frozen
class ImportReport:
    imported: int
    skipped: int

    def to_dict(self) -> dict[str, int]:
        return attrs.asdict(self)


def export_jsonl(athena: Athena, out: IO[str], *, scope: str | None = None,
                 progress: Progress | None = None, redact: bool = False) -> int:
    """Write every memory (of ``scope``, or all scopes) to ``out``; returns how many.

    Texts and metadata are written as stored: with ``[privacy] conceal`` on, sensitive
    values as placeholders. The values follow as ``sensitive_value`` lines, still
    encrypted (an import into this store, or one with the same keys, restores them);
    ``redact`` leaves them out, so the file holds placeholders only. One ``export`` audit
    record says who exported how many memories and values of which scope; it is written
    before the first line, so an export the audit log cannot record writes nothing."""
    from athena_core.graph.transfer import EXPORTED_ROWS
    from athena_core.graph.transfer import write_export as write_graph_export
    from athena_core.prospective.transfer import intention_record
    from athena_core.storage.models import SensitiveValueRow, TaskRow

    store = athena._require_store()
    vault = None if redact else store.vault
    with store.storage.read() as session:
        total = _count(session, MemoryRow, scope)
        values = 0 if vault is None else _count(session, SensitiveValueRow, scope)
        graph = sum(_count(session, table, scope) for table in EXPORTED_ROWS)
        athena.audit.append("export", scope=scope or "*", status="ok",
                            details={"memories": total, "values": values,
                                     "redacted": redact, "graph_lines": graph,
                                     "intentions": _count(session, TaskRow, scope)})
        out.write(_dumps({"format": FORMAT, "version": VERSION}) + "\n")
        count = 0
        for rows in _pages(session, MemoryRow, scope):
            fields = _layer_fields(athena, session, rows)
            for row in rows:
                out.write(_dumps(_record(row, fields.get(row.pk, {}))) + "\n")
            count += len(rows)
            if progress:
                progress(count, total)
        if vault is not None:
            for sealed in _pages(session, SensitiveValueRow, scope):
                for value in sealed:
                    out.write(_dumps({"sensitive_value": {
                        **{name: getattr(value, name) for name in _VAULT_COLUMNS},
                        "ciphertext": base64.b64encode(value.ciphertext).decode("ascii"),
                    }}) + "\n")
        for items in _pages(session, TaskRow, scope):
            for item in items:
                out.write(_dumps(intention_record(session, item)) + "\n")
        write_graph_export(session, out, scope, _dumps)
    return count


def _count(session: Session, table: type[Any], scope: str | None) -> int:
    """How many rows of ``table`` (of ``scope``, or all) there are."""
    from sqlalchemy import func

    query = select(func.count()).select_from(table)
    if scope is not None:
        query = query.where(table.scope == scope)
    return session.scalar(query) or 0


def _pages(session: Session, table: type[Any], scope: str | None) -> Iterator[list[Any]]:
    """The rows of ``table`` (of ``scope``, or all) in key order, a page at a time."""
    after = 0
    while True:
        query = select(table).where(table.pk > after)
        if scope is not None:
            query = query.where(table.scope == scope)
        rows = list(session.scalars(query.order_by(table.pk).limit(_BATCH)))
        if not rows:
            return
        yield rows
        after = rows[-1].pk


def import_jsonl(athena: Athena, source: IO[bytes], *, progress: PhaseProgress | None = None
                 ) -> ImportReport:
    """Import an export file (opened in binary mode): all of it, or nothing.

    Raises :class:`ImportFormatError` (naming the line and the field) for a malformed
    file, before anything is written; see the module's description for the passes.
    """
    store = athena._require_store()
    with _Spool.opened() as spool:
        _check_lines(athena, source, spool, progress)
        _check_references(athena, spool)
        _embed(store, spool, progress)
        report = _write(athena, spool, progress)
    athena.plugins.notify("athena_after_import", athena=athena, report=report)
    return report


_SPOOL_SCHEMA = """
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE records (line INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
                      scope TEXT NOT NULL, layer TEXT NOT NULL, record TEXT NOT NULL);
CREATE TABLE vectors (line INTEGER PRIMARY KEY, vector BLOB NOT NULL);
CREATE TABLE refs (line INTEGER NOT NULL, field TEXT NOT NULL, target TEXT NOT NULL);
CREATE TABLE stored (id TEXT PRIMARY KEY, scope TEXT NOT NULL, layer TEXT NOT NULL);
CREATE TABLE graph (line INTEGER PRIMARY KEY, kind TEXT NOT NULL, record TEXT NOT NULL);
CREATE TABLE vault (scope TEXT NOT NULL, digest TEXT NOT NULL, token TEXT NOT NULL,
                    type TEXT NOT NULL, key_version INTEGER NOT NULL,
                    ciphertext BLOB NOT NULL, PRIMARY KEY (scope, digest));
CREATE TABLE intentions (line INTEGER PRIMARY KEY, record TEXT NOT NULL);
"""
#: The columns of the spool's ``vault`` table: sensitive values found while checking,
#: already encrypted, so the spool (a temporary file) never holds one in plaintext.
_VAULT_COLUMNS = ("scope", "digest", "token", "type", "key_version", "ciphertext")
#: The first reference to a memory that is neither stored nor in the file, or is of
#: another scope or layer. A stored memory counts first: a record of the file whose id is
#: already stored is skipped on import, so what it says of its own scope must not count.
_BAD_REFERENCE = """
SELECT refs.line, refs.field, records.scope, records.layer
FROM refs JOIN records ON records.line = refs.line
LEFT JOIN stored ON stored.id = refs.target
LEFT JOIN records AS target ON target.id = refs.target
WHERE (CASE WHEN stored.id IS NULL THEN target.scope ELSE stored.scope END)
          IS NOT records.scope
   OR (CASE WHEN stored.id IS NULL THEN target.layer ELSE stored.layer END)
          IS NOT records.layer
ORDER BY refs.line, refs.field LIMIT 1
"""


@attrs.define
class _Spool:
    """The checked records of one import (and later their vectors), in a private
    temporary SQLite database: SQLite keeps it in a bounded page cache and a file in its
    temporary directory that it deletes when closed, or when the process dies."""

    db: sqlite3.Connection

    @classmethod
    @contextlib.contextmanager
    def opened(cls) -> Iterator[_Spool]:
        db = sqlite3.connect("", isolation_level=None)
        try:
            db.executescript(_SPOOL_SCHEMA)
            yield cls(db)
        finally:
            db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN")
        yield
        self.db.execute("COMMIT")

    def add_values(self, sealed: Sequence[Mapping[str, Any]]) -> None:
        """Spool sensitive values as encrypted vault rows (one already spooled: ignored)."""
        self.db.executemany(
            f"INSERT OR IGNORE INTO vault VALUES ({', '.join('?' * len(_VAULT_COLUMNS))})",
            [tuple(row[name] for name in _VAULT_COLUMNS) for row in sealed])

    def add(self, number: int, record: Mapping[str, Any], references: Mapping[str, str],
            sealed: Sequence[Mapping[str, Any]] = ()) -> None:
        """Spool the checked record of line ``number`` and its sensitive values (encrypted
        vault rows); a repeated id raises."""
        self.add_values(sealed)
        try:
            self.db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?)",
                            (number, record["id"], record["scope"], record["layer"],
                             _dumps(record)))
        except sqlite3.IntegrityError:
            (first,) = self.db.execute("SELECT line FROM records WHERE id = ?",
                                       (record["id"],)).fetchone()
            raise ImportFormatError(f"id appears twice: line {first} has the same id.",
                                    line=number, field="id") from None
        self.db.executemany("INSERT INTO refs VALUES (?, ?, ?)",
                            [(number, f"fields.{field}", target)
                             for field, target in references.items()])

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM records").fetchone()[0])

    def batches(self, query: str) -> Iterator[list[tuple[Any, ...]]]:
        """Rows of ``query`` (whose first column is the line, with parameters "after
        line" and "limit"), in batches of :data:`_BATCH`, in line order."""
        after = 0
        while batch := self.db.execute(query, (after, _BATCH)).fetchall():
            yield batch
            after = batch[-1][0]


@functools.cache
def _record_fields() -> Mapping[str, Any]:
    """A line's fields: a memory's (the attributes of ``Memory``), and the layer's own."""
    return {**declared_fields(Memory), "fields": Mapping[str, Any]}


def _check_lines(athena: Athena, source: IO[bytes], spool: _Spool,
                 progress: PhaseProgress | None) -> None:
    """The checking pass: every line checked and spooled, or the first bad one raised."""
    total = _size(source)
    report = progress("checking") if progress is not None and total is not None else None
    lines = _numbered_lines(source)
    try:
        number, header, done = next(lines)
    except StopIteration:
        raise ImportFormatError("the file is empty; expected an Athena export.") from None
    if header.get("format") != FORMAT:
        raise ImportFormatError(f"the first line is not an {FORMAT} header.", line=number)
    if header.get("version") not in _READABLE_VERSIONS:
        raise ImportFormatError(
            f"export format version {header.get('version')!r} is not supported "
            f"(this Athena reads versions {', '.join(map(str, _READABLE_VERSIONS))}).",
            line=number)
    with spool.transaction():
        for count, (number, value, done) in enumerate(lines, start=1):
            if "sensitive_value" in value:
                spool.add_values([_checked_value(athena, number, value)])
            elif graph_kind := _graph_kind(athena, number, value):
                spool.db.execute("INSERT INTO graph VALUES (?, ?, ?)",
                                 (number, graph_kind, _dumps(value[graph_kind])))
            elif "intention" in value:
                from athena_core.prospective.transfer import check_intention

                spool.db.execute("INSERT INTO intentions VALUES (?, ?)", (number, _dumps(
                    check_intention(athena._require_store(), number, value["intention"]))))
            else:
                spool.add(number, *_checked(athena, number, value))
            if report is not None and total is not None and count % _REPORT_EVERY == 0 \
                    and done < total:
                report(done, total)
    spool.db.execute("CREATE INDEX refs_target ON refs (target)")
    if report is not None:
        report(done, total)  # type: ignore[arg-type]


def _checked(athena: Athena, number: int, value: Mapping[str, Any]
             ) -> tuple[dict[str, Any], dict[str, str], list[dict[str, Any]]]:
    """Line ``number``'s record, checked, converted and concealed, the ids it refers to,
    and its sensitive values as encrypted vault rows."""
    store = athena._require_store()
    try:
        record = check_fields(value, _record_fields(), name="", required=_record_fields())
        store.memory_id(record["id"], name="id")
        layer = athena.layers.get(record["layer"])
        if layer is None:
            shown = record["layer"][:40]
            raise ImportFormatError(
                f"layer {shown!r} is not a memory layer of this Athena; it has "
                f"{', '.join(sorted(athena.layers))}.", line=number, field="layer")
        store.text(record["text"])
        _check_scope(store, record["scope"], number)
        record["metadata"] = store.metadata(record["metadata"])
        store.importance(record["importance"])
        check = getattr(layer, "import_check", None)
        record["fields"] = dict(check(record["fields"]) if check else record["fields"])
        find_references = getattr(layer, "import_references", None)
        references = find_references(record["fields"]) if find_references else {}
    except InvalidArgumentError as exc:
        raise ImportFormatError(exc.message, line=number, field=exc.argument) from None
    for field, target in references.items():
        if not isinstance(target, str):
            raise ImportFormatError(f"fields.{field} must be a memory id (a string).",
                                    line=number, field=f"fields.{field}")
    sealed: list[dict[str, Any]] = []
    if store.vault is not None:
        fields = record["fields"]
        labels = {name: value for name, value in fields.items() if name not in references}
        concealed, found = store.vault.conceal_data(
            {"text": record["text"], "metadata": record["metadata"], "fields": labels},
            scope=record["scope"])
        record.update(concealed, fields={**fields, **concealed["fields"]})
        sealed = store.vault.sealed(record["scope"], found.values())
    return record, references, sealed


def _checked_value(athena: Athena, number: int, value: Mapping[str, Any]) -> dict[str, Any]:
    """Line ``number``'s sensitive value (a vault row): its fields, its scope, and that
    this store's keys decrypt it and it is the value its keyed hash names."""
    store = athena._require_store()
    if store.vault is None:
        raise ImportFormatError(
            "the file carries encrypted sensitive values, and this store does not conceal "
            "them ([privacy] conceal = false); turn it on, or import a file exported with "
            "--redact.", line=number, field="sensitive_value")
    row = value["sensitive_value"]
    if set(value) != {"sensitive_value"} or not isinstance(row, Mapping) \
            or set(row) != set(_VAULT_COLUMNS):
        raise ImportFormatError(
            f"a sensitive_value line holds exactly the keys {', '.join(_VAULT_COLUMNS)}.",
            line=number, field="sensitive_value")
    for name in _VAULT_COLUMNS:
        wanted = int if name == "key_version" else str
        if not isinstance(row[name], wanted) or isinstance(row[name], bool):
            raise ImportFormatError(f"sensitive_value.{name} must be a {wanted.__name__}.",
                                    line=number, field=f"sensitive_value.{name}")
    _check_scope(store, row["scope"], number)
    try:
        ciphertext = base64.b64decode(row["ciphertext"], validate=True)
    except ValueError:
        raise ImportFormatError("sensitive_value.ciphertext is not base64.", line=number,
                                field="sensitive_value.ciphertext") from None
    sealed = {**row, "ciphertext": ciphertext}
    try:
        store.vault.check_sealed(sealed)
    except AthenaError as exc:
        raise ImportFormatError(
            f"a sensitive value cannot be read with this store's keys ({exc.message}); "
            "import the file into the store it was exported from (or one restored with the "
            "same key table and master key), or export it with --redact.",
            line=number, field="sensitive_value.ciphertext") from None
    return sealed


def _check_scope(store: MemoryStore, scope: str, number: int) -> None:
    """The record's scope is valid and the one the import is bound to, if it is bound."""
    try:
        store.scope(scope)
    except AthenaError as exc:
        raise ImportFormatError(exc.message, line=number, field="scope") from None


def _check_references(athena: Athena, spool: _Spool) -> None:
    """Refuse a file whose layer fields point at a memory of another scope or layer.

    A reference (a fact's ``lineage_id``, ``superseded_by``) must name the record
    itself, another record of the file, or a stored memory - of the same scope and
    layer: one forged line must never link a memory to another tenant's.
    """
    after = ""
    with athena._require_store().storage.read() as session:
        while targets := [target for (target,) in spool.db.execute(
                "SELECT DISTINCT target FROM refs WHERE target > ? ORDER BY target LIMIT ?",
                (after, _BATCH))]:
            spool.db.executemany("INSERT INTO stored VALUES (?, ?, ?)", [
                tuple(row) for row in session.execute(
                    select(MemoryRow.id, MemoryRow.scope, MemoryRow.layer)
                    .where(MemoryRow.id.in_(targets)))])
            after = targets[-1]
    bad = spool.db.execute(_BAD_REFERENCE).fetchone()
    if bad is not None:
        number, field, scope, layer = bad
        raise ImportFormatError(
            f"{field} is not a {layer} memory of scope {scope!r}, in this file or stored; "
            "a memory can only be linked to memories of its own scope.",
            line=number, field=field)


def _embed(store: MemoryStore, spool: _Spool, progress: PhaseProgress | None) -> None:
    """The embedding pass: each spooled record's vector, outside any write transaction."""
    import numpy as np

    total, done = spool.count(), 0
    report = progress("embedding") if progress is not None else None
    with spool.transaction():
        for batch in spool.batches(
                "SELECT line, record FROM records WHERE line > ? ORDER BY line LIMIT ?"):
            vectors = store.embed([json.loads(record)["text"] for _, record in batch])
            spool.db.executemany("INSERT INTO vectors VALUES (?, ?)", [
                (line, np.asarray(vector, dtype=np.float32).tobytes())
                for (line, _), vector in zip(batch, vectors, strict=True)])
            done += len(batch)
            if report is not None:
                report(done, total)


def _write(athena: Athena, spool: _Spool, progress: PhaseProgress | None) -> ImportReport:
    """The writing pass: every spooled record in one write transaction, a batch at a
    time (a batch with an event already recorded under another id again record by
    record, to skip just that event)."""
    store = athena._require_store()
    total, done = spool.count(), 0
    report = progress("writing") if progress is not None else None
    imported = skipped = 0
    with store.transaction() as tx:
        tx.keep_entries = False
        if store.vault is not None:
            for batch in spool.batches(
                    f"SELECT rowid, {', '.join(_VAULT_COLUMNS)} FROM vault WHERE rowid > ? "
                    "ORDER BY rowid LIMIT ?"):
                store.vault.insert_sealed(tx.session, [
                    dict(zip(_VAULT_COLUMNS, row[1:], strict=True)) | {"created_at": utcnow()}
                    for row in batch])
        for batch in spool.batches(
                "SELECT records.line, record, vector FROM records JOIN vectors USING (line) "
                "WHERE records.line > ? ORDER BY records.line LIMIT ?"):
            records = [check_fields(json.loads(record), _record_fields(), name="")
                       for _, record, _ in batch]
            existing = set(tx.session.scalars(
                select(MemoryRow.id).where(MemoryRow.id.in_([r["id"] for r in records]))))
            new = [(record, vector) for record, (*_, vector) in zip(records, batch, strict=True)
                   if record["id"] not in existing]
            skipped += len(records) - len(new)
            try:
                with tx.session.begin_nested():
                    _insert(athena, tx, new)
                imported += len(new)
            except IntegrityError:
                for one in new:
                    try:
                        with tx.session.begin_nested():
                            _insert(athena, tx, [one])
                        imported += 1
                    except IntegrityError:  # an identical event under another id
                        skipped += 1
            done += len(batch)
            if report is not None:
                report(done, total)
        from athena_core.prospective.transfer import write_intentions

        intentions = [(line, json.loads(record)) for line, record in spool.db.execute(
            "SELECT line, record FROM intentions ORDER BY line")]
        added, repeated = write_intentions(tx.session, intentions)
        _write_graph(athena, tx, spool)
    return ImportReport(imported=imported + added, skipped=skipped + repeated)


def _graph_kind(athena: Athena, number: int, value: Mapping[str, Any]) -> str | None:
    """The kind of a knowledge-graph line (checked), or ``None`` for a memory's."""
    from athena_core.graph.transfer import KINDS, check_line

    kinds = [kind for kind in KINDS if kind in value]
    if not kinds:
        return None
    if len(value) != 1:
        raise ImportFormatError(f"a {kinds[0]} line holds only that key.", line=number,
                                field=kinds[0])
    store = athena._require_store()

    def scope(name: str) -> str:
        _check_scope(store, name, number)
        return name

    try:
        check_line(kinds[0], value[kinds[0]], scope=scope)
    except ImportFormatError as exc:
        raise ImportFormatError(exc.message, line=number, field=exc.field) from None
    return kinds[0]


def _write_graph(athena: Athena, tx: Transaction, spool: _Spool) -> None:
    """Write the spooled knowledge-graph lines, after the memories they may name."""
    from athena_core.graph.transfer import check_line, write_lines

    lines = [(number, kind, check_line(kind, json.loads(record), scope=str))
             for number, kind, record in spool.db.execute(
                 "SELECT line, kind, record FROM graph ORDER BY line")]
    if lines:
        write_lines(tx.session, lines, lambda value, scope: tx.conceal(value, scope=scope))


def _insert(athena: Athena, tx: Transaction, new: list[tuple[dict[str, Any], bytes]]) -> None:
    """Insert checked ``new`` records (with their vectors' bytes) and their layers' rows."""
    import numpy as np

    if not new:
        return
    vectors = np.stack([np.frombuffer(vector, dtype=np.float32) for _, vector in new])
    rows = tx.insert_many([{name: record[name] for name in _COLUMNS} for record, _ in new],
                          vectors)
    for (record, _), row in zip(new, rows, strict=True):
        athena.layers[record["layer"]].import_fields(tx.session, row, record["fields"])
    tx.session.flush()


#: The columns of a memory row, as an export record names them.
_COLUMNS = ("id", "scope", "layer", "text", "metadata", "importance", "created_at",
            "updated_at", "valid_from", "valid_to")


def _size(source: IO[bytes]) -> int | None:
    """The bytes left to read in ``source``, if it can tell (a pipe cannot)."""
    try:
        if not source.seekable():
            return None
        here = source.tell()
        end = source.seek(0, os.SEEK_END)
        source.seek(here)
    except (OSError, ValueError):
        return None
    return end - here


def _numbered_lines(source: IO[bytes]) -> Iterator[tuple[int, dict[str, Any], int]]:
    """``(line number, JSON object, bytes read so far)`` of each non-blank line."""
    done = 0
    for number, raw in enumerate(source, start=1):
        done += len(raw)
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportFormatError(f"invalid UTF-8 at byte {exc.start} of the line.",
                                    line=number) from None
        try:
            value = json.loads(line, parse_constant=_reject_constant)
        except ValueError as exc:
            raise ImportFormatError(f"not valid JSON ({exc}).", line=number) from None
        except RecursionError:
            raise ImportFormatError("the line is nested too deeply to be an Athena record.",
                                    line=number) from None
        if not isinstance(value, dict):
            raise ImportFormatError("each line must be a JSON object.", line=number)
        yield number, value, done


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _layer_fields(athena: Athena, session: Any, rows: Iterable[MemoryRow]
                  ) -> dict[int, dict[str, Any]]:
    by_layer: dict[str, list[int]] = {}
    for row in rows:
        by_layer.setdefault(row.layer, []).append(row.pk)
    fields: dict[int, dict[str, Any]] = {}
    for layer, keys in by_layer.items():
        if layer in athena.layers:
            fields.update(athena.layers[layer].export_fields(session, keys))
    return fields


def _record(row: MemoryRow, fields: dict[str, Any]) -> dict[str, Any]:
    importance = row.importance
    return {"id": row.id, "layer": row.layer, "scope": row.scope, "text": row.text,
            "metadata": row.meta or {},
            "importance": importance if math.isfinite(importance) else 0.5,
            "created_at": isoformat(row.created_at), "updated_at": isoformat(row.updated_at),
            "valid_from": isoformat(row.valid_from), "valid_to": isoformat(row.valid_to),
            "fields": fields}


def _dumps(value: Mapping[str, Any]) -> str:
    """Compact JSON; timestamps as ISO-8601 strings."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=isoformat)
