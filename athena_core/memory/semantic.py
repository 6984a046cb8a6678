"""Semantic memory: facts, with history kept when they are superseded."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from athena_core._time import utcnow
from athena_core.api import operation
from athena_core.api.validation import check_fields, declared_defaults, declared_fields
from athena_core.errors import InvalidArgumentError, MemoryNotFoundError
from athena_core.memory.pages import Listing
from athena_core.memory.store import LayerContext, MemoryStore
from athena_core.memory.values import Fact, Memory
from athena_core.retrieval.filters import MetadataFilter, RecallFilter
from athena_core.storage.models import FactRow, MemoryRow
from athena_core.storage.queries import insert_row, key_batches, memory_conditions

__all__ = ["SemanticLayer"]

#: The largest version a fact may have (the column is a 32-bit integer on PostgreSQL).
_MAX_VERSION = 2**31 - 1


class SemanticLayer:
    """Facts and knowledge. ``athena.remember`` stores here by default."""

    name = "semantic"
    api_namespace = "semantic"

    def __init__(self, context: LayerContext) -> None:
        self._store = context.store

    def store_generic(self, text: str, *, metadata: Mapping[str, Any] | None,
                      importance: float, scope: str | None) -> str:
        store = self._store
        text = store.text(text)
        scope = store.scope(scope)
        metadata = store.metadata(metadata)
        importance = store.importance(importance)
        text = store.conceal(text, scope=scope)
        vector = store.embed([text])[0]
        with store.transaction() as tx:
            row = tx.insert(layer=self.name, text=text, scope=scope, vector=vector,
                            metadata=metadata, importance=importance)
            fact = {"memory_pk": row.pk, "lineage_id": row.id, "version": 1}
            insert_row(tx.session, FactRow, fact)
            tx.stored.append(Fact.from_rows(row, FactRow(**fact)))
        return row.id

    @operation(permissions="write")
    def update(self, id: str, text: str, *, reason: str | None = None,
               metadata: Mapping[str, Any] | None = None, importance: float | None = None,
               scope: str | None = None) -> str:
        """Supersede fact ``id`` with a new version and return the new version's id.

        The old version is kept with a validity end (see ``history`` and
        ``recall(..., as_of=...)``); plain recall returns only the new one.
        ``metadata`` and ``importance`` default to the old version's.
        """
        store = self._store
        text = store.text(text)
        scope = store.scope(scope)
        reason = _reason(reason)
        text = store.conceal(text, scope=scope)
        vector = store.embed([text])[0]
        with store.transaction() as tx:
            found = tx.session.execute(
                select(MemoryRow, FactRow).join(FactRow, FactRow.memory_pk == MemoryRow.pk)
                .where(MemoryRow.id == id, MemoryRow.scope == scope)).one_or_none()
            if found is None:
                raise MemoryNotFoundError(f"No fact {id!r} in scope {scope!r}.")
            old_row, old_fact = found
            if old_row.valid_to is not None:
                raise InvalidArgumentError(
                    f"Fact {id!r} was already superseded by {old_fact.superseded_by!r}.",
                    hint="Update the current version instead (see semantic.history).")
            now = utcnow()
            row = tx.insert(
                layer=self.name, text=text, scope=scope, vector=vector,
                metadata=old_row.meta if metadata is None else store.metadata(metadata),
                importance=old_row.importance if importance is None
                else store.importance(importance),
                valid_from=now, created_at=now)
            fact = {"memory_pk": row.pk, "lineage_id": old_fact.lineage_id,
                    "version": old_fact.version + 1}
            insert_row(tx.session, FactRow, fact)
            old_row.valid_to = now
            old_row.updated_at = now
            old_fact.superseded_by = row.id
            old_fact.supersede_reason = tx.conceal(reason, scope=scope)
            tx.changed_existing_rows([old_row.pk])
            new = Fact.from_rows(row, FactRow(**fact))
            tx.stored.append(new)
            tx.event("athena_after_supersede", old=Fact.from_rows(old_row, old_fact), new=new)
        return row.id

    @operation()
    def history(self, id: str, *, scope: str | None = None) -> list[Fact]:
        """Every version of the fact that ``id`` belongs to, oldest first."""
        scope = self._store.scope(scope)
        with self._store.storage.read() as session:
            lineage = session.scalar(
                select(FactRow.lineage_id).join(MemoryRow, FactRow.memory_pk == MemoryRow.pk)
                .where(MemoryRow.id == id, MemoryRow.scope == scope))
            if lineage is None:
                raise MemoryNotFoundError(f"No fact {id!r} in scope {scope!r}.")
            rows = session.execute(
                select(MemoryRow, FactRow).join(FactRow, FactRow.memory_pk == MemoryRow.pk)
                .where(FactRow.lineage_id == lineage, MemoryRow.scope == scope)
                .order_by(FactRow.version))
            return [Fact.from_rows(row, fact) for row, fact in rows]

    @operation()
    def facts(self, *, as_of: datetime | None = None, limit: int = 100, offset: int = 0,
              metadata: Mapping[str, Any] | None = None, cursor: str | None = None,
              scope: str | None = None) -> list[Fact]:
        """Facts that are current (or were valid ``as_of``), newest first.

        ``metadata`` is a metadata filter, as in ``recall``. Each fact carries a
        ``cursor``: pass the last one's back as ``cursor=`` for the next page (facts
        with the same time are neither repeated nor skipped); ``offset`` skips that
        many facts from where the page starts.
        """
        listing = Listing("semantic.facts", descending=True)
        where = RecallFilter(self._store.scope(scope), layers={self.name}, as_of=as_of,
                             metadata=MetadataFilter.parse(metadata))
        stmt = (select(MemoryRow, FactRow).join(FactRow, FactRow.memory_pk == MemoryRow.pk)
                .where(memory_conditions(where), *listing.after(cursor))
                .order_by(*listing.order_by())
                .limit(limit).offset(offset))
        with self._store.storage.read() as session:
            return [Fact.from_rows(row, fact, listing.cursor(row))
                    for row, fact in session.execute(stmt)]

    # --- export / import / forget ------------------------------------------------

    def export_fields(self, session: Session, keys: list[int]) -> dict[int, dict[str, Any]]:
        rows = session.scalars(select(FactRow).where(FactRow.memory_pk.in_(keys)))
        return {r.memory_pk: {"lineage_id": r.lineage_id, "version": r.version,
                              "superseded_by": r.superseded_by,
                              "supersede_reason": r.supersede_reason} for r in rows}

    def import_check(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """An imported fact's ``fields`` (those of :class:`Fact` beyond a memory's), checked:
        memory ids where ids go (no lineage: the fact's own id), a positive version, a
        reason as :meth:`update` takes it; absent ones take their defaults."""
        given = check_fields(fields, declared_fields(Fact, base=Memory), name="fields")
        checked = {**declared_defaults(Fact, base=Memory), **given}
        for name in _REFERENCES:
            checked[name] = (MemoryStore.memory_id(checked[name], name=f"fields.{name}")
                             if checked[name] else None)
        if not 1 <= checked["version"] <= _MAX_VERSION:
            raise InvalidArgumentError(
                f"fields.version must be an integer from 1 to {_MAX_VERSION:,}.",
                argument="fields.version")
        checked["supersede_reason"] = _reason(checked["supersede_reason"],
                                              name="fields.supersede_reason")
        return checked

    def import_fields(self, session: Session, row: MemoryRow, fields: Mapping[str, Any]
                      ) -> None:
        insert_row(session, FactRow, {"memory_pk": row.pk,
                                      "lineage_id": fields["lineage_id"] or row.id,
                                      "version": fields["version"],
                                      "superseded_by": fields["superseded_by"],
                                      "supersede_reason": fields["supersede_reason"]})

    def import_references(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Ids of other memories that imported ``fields`` (as :meth:`import_check`
        returned them) point at; an import requires them to be of the same scope."""
        return {name: fields[name] for name in _REFERENCES if fields[name] is not None}

    def related_for_forget(self, session: Session, keys: set[int]) -> set[int]:
        """Forgetting a fact forgets every version of it (the caller keeps only the
        versions in the forget's scope)."""
        related = set(keys)
        for batch in key_batches(keys):
            lineages = select(FactRow.lineage_id).where(FactRow.memory_pk.in_(batch))
            related.update(session.scalars(
                select(FactRow.memory_pk).where(FactRow.lineage_id.in_(lineages))))
        return related


#: The fields of an imported fact that name other memories.
_REFERENCES = ("lineage_id", "superseded_by")


def _reason(reason: str | None, *, name: str = "reason") -> str | None:
    """Why a fact was superseded: any text that fits its column, or ``None``."""
    if reason is None:
        return None
    return MemoryStore.label(reason, name=name, column=FactRow.supersede_reason, blank_ok=True)
