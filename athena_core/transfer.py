"""Export and import of memories as JSON Lines.

The first line is a header (``{"format": "athena-export", "version": 1}``); each
following line is one memory of any layer, in the order it was stored, with its
id, scope, timestamps and layer fields, so an export imported into an empty
data dir and exported again gives the same file. Vectors are not exported (they
belong to an embedder); they are recomputed on import.

An import validates the whole file before writing anything, so a malformed file
imports nothing - nor one whose records leave the scope the import is bound to
(``athena.bound(scope=...)``, ``athena import --scope``), or link a memory to one of
another scope; memories whose id already exists are skipped, so an interrupted
import can simply be run again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any

import attrs
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from athena_core._time import as_utc, isoformat
from athena_core.errors import AthenaError, ImportFormatError
from athena_core.storage.models import MemoryRow

if TYPE_CHECKING:
    from athena_core.runtime import Athena

__all__ = ["FORMAT", "VERSION", "ImportReport", "export_jsonl", "import_jsonl"]

FORMAT = "athena-export"
VERSION = 1
_BATCH = 256
_REQUIRED = {"id": str, "layer": str, "scope": str, "text": str, "metadata": dict,
             "importance": (int, float), "created_at": str, "updated_at": str,
             "valid_from": str, "valid_to": (str, type(None)), "fields": dict}

Progress = Callable[[int, int], None]


@attrs.frozen
class ImportReport:
    imported: int
    skipped: int

    def to_dict(self) -> dict[str, int]:
        return attrs.asdict(self)


def export_jsonl(athena: Athena, out: IO[str], *, scope: str | None = None,
                 progress: Progress | None = None) -> int:
    """Write every memory (of ``scope``, or all scopes) to ``out``; returns how many."""
    from sqlalchemy import func

    storage = athena._require_store().storage
    out.write(_dumps({"format": FORMAT, "version": VERSION}) + "\n")
    count, after = 0, 0
    with storage.read() as session:
        total_query = select(func.count()).select_from(MemoryRow)
        if scope is not None:
            total_query = total_query.where(MemoryRow.scope == scope)
        total = session.scalar(total_query) or 0
        while True:
            query = select(MemoryRow).where(MemoryRow.pk > after)
            if scope is not None:
                query = query.where(MemoryRow.scope == scope)
            rows = list(session.scalars(query.order_by(MemoryRow.pk).limit(_BATCH)))
            if not rows:
                break
            fields = _layer_fields(athena, session, rows)
            for row in rows:
                out.write(_dumps(_record(row, fields.get(row.pk, {}))) + "\n")
            count += len(rows)
            after = rows[-1].pk
            if progress:
                progress(count, total)
    return count


def import_jsonl(athena: Athena, source: IO[bytes], *, progress: Progress | None = None
                 ) -> ImportReport:
    """Import an export file (opened in binary mode). Raises :class:`ImportFormatError`."""
    numbered = list(_parse(athena, source))
    _check_references(athena, numbered)
    records = [record for _, record in numbered]
    store = athena._require_store()
    imported = skipped = 0
    for start in range(0, len(records), _BATCH):
        batch = records[start:start + _BATCH]
        vectors = store.embed([r["text"] for r in batch])
        with store.transaction() as tx:
            existing = set(tx.session.scalars(
                select(MemoryRow.id).where(MemoryRow.id.in_([r["id"] for r in batch]))))
            for record, vector in zip(batch, vectors, strict=True):
                if record["id"] in existing:
                    skipped += 1
                    continue
                try:
                    with tx.session.begin_nested():
                        row = tx.insert(
                            layer=record["layer"], text=record["text"], scope=record["scope"],
                            vector=vector, metadata=record["metadata"],
                            importance=float(record["importance"]),
                            valid_from=record["valid_from"], valid_to=record["valid_to"],
                            id=record["id"], created_at=record["created_at"],
                            updated_at=record["updated_at"])
                        athena.layers[record["layer"]].import_fields(tx.session, row,
                                                                     record["fields"])
                        tx.session.flush()
                except IntegrityError:  # an identical event under another id
                    tx.added.pop()
                    skipped += 1
                    continue
                imported += 1
        if progress:
            progress(start + len(batch), len(records))
    report = ImportReport(imported=imported, skipped=skipped)
    athena.plugins.notify("athena_after_import", athena=athena, report=report)
    return report


def _parse(athena: Athena, source: IO[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    store = athena._require_store()
    lines = _numbered_lines(source)
    try:
        number, header = next(lines)
    except StopIteration:
        raise ImportFormatError("the file is empty; expected an Athena export.") from None
    if header.get("format") != FORMAT:
        raise ImportFormatError(f"the first line is not an {FORMAT} header.", line=number)
    if header.get("version") != VERSION:
        raise ImportFormatError(
            f"export format version {header.get('version')!r} is not supported "
            f"(this Athena reads version {VERSION}).", line=number)
    seen: set[str] = set()
    for number, record in lines:
        for key, kind in _REQUIRED.items():
            if key not in record:
                raise ImportFormatError(f"missing field {key!r}.", line=number)
            if not isinstance(record[key], kind) or isinstance(record[key], bool):
                raise ImportFormatError(f"field {key!r} has the wrong type.", line=number)
        if record["layer"] not in athena.layers:
            raise ImportFormatError(
                f"unknown layer {record['layer']!r}; this Athena has "
                f"{', '.join(sorted(athena.layers))}.", line=number)
        if record["id"] in seen:
            raise ImportFormatError(f"id {record['id']!r} appears twice.", line=number)
        seen.add(record["id"])
        try:
            store.text(record["text"])
            store.scope(record["scope"])
            store.metadata(record["metadata"])
            store.importance(float(record["importance"]))
            for key in ("created_at", "updated_at", "valid_from", "valid_to"):
                if record[key] is not None:
                    record[key] = as_utc(record[key], name=key)
        except AthenaError as exc:
            raise ImportFormatError(exc.message, line=number) from None
        yield number, record


def _check_references(athena: Athena, records: list[tuple[int, dict[str, Any]]]) -> None:
    """Refuse a file whose layer fields point at a memory of another scope or layer.

    A reference (a fact's ``lineage_id``, ``superseded_by``) must name the record
    itself, another record of the file, or a stored memory - of the same scope and
    layer: one forged line must never link a memory to another tenant's.
    """
    in_file = {record["id"]: (record["scope"], record["layer"]) for _, record in records}
    wanted: list[tuple[int, dict[str, Any], str, str]] = []
    for number, record in records:
        layer = athena.layers[record["layer"]]
        try:
            references = getattr(layer, "import_references", lambda fields: {})(
                record["fields"])
        except AthenaError as exc:
            raise ImportFormatError(exc.message, line=number) from None
        for field, target in references.items():
            if not isinstance(target, str):
                raise ImportFormatError(f"fields.{field} must be a memory id (a string).",
                                        line=number)
            wanted.append((number, record, field, target))
    # Stored memories first: a record of the file whose id is already stored is skipped
    # on import, so what it says of its own scope must not count.
    stored: dict[str, tuple[str, str]] = {}
    targets = sorted({target for *_, target in wanted})
    if targets:
        with athena._require_store().storage.read() as session:
            for start in range(0, len(targets), _BATCH):
                stored.update((row.id, (row.scope, row.layer)) for row in session.execute(
                    select(MemoryRow.id, MemoryRow.scope, MemoryRow.layer)
                    .where(MemoryRow.id.in_(targets[start:start + _BATCH]))))
    for number, record, field, target in wanted:
        owner = stored.get(target) or in_file.get(target)
        if owner != (record["scope"], record["layer"]):
            raise ImportFormatError(
                f"fields.{field} {target!r} is not a {record['layer']} memory of scope "
                f"{record['scope']!r}, in this file or stored; a memory can only be linked "
                "to memories of its own scope.", line=number)


def _numbered_lines(source: IO[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, raw in enumerate(source, start=1):
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
        if not isinstance(value, dict):
            raise ImportFormatError("each line must be a JSON object.", line=number)
        yield number, value


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


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
