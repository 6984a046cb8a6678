"""What one ``forget`` call selects: ids, or memories in bulk, always within one scope."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
from sqlalchemy import Text, cast, or_, select
from sqlalchemy.orm import Session

from athena_core.errors import InvalidArgumentError, MemoryNotFoundError
from athena_core.storage.models import EpisodeRow, FactRow, MemoryRow
from athena_core.storage.queries import metadata_conditions

__all__ = ["ForgetSelection"]

_ID_BATCH = 10_000


@attrs.frozen
class ForgetSelection:
    """The selectors of one forget; several keep what matches all of them."""

    ids: frozenset[str] | None = None
    session: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    metadata: Mapping[str, Any] | None = None
    everything: bool = False
    #: The forms a subject takes in stored text (the value itself, its placeholder): a
    #: memory whose text or metadata holds any of them is selected.
    subject: tuple[str, ...] | None = None

    @classmethod
    def of(cls, ids: str | Sequence[str] | None, *, session: str | None,
           start: datetime | None, end: datetime | None,
           metadata: Mapping[str, Any] | None, everything: bool,
           subject: Sequence[str] | None = None) -> ForgetSelection:
        """Check the selectors of ``forget()``; raise ``InvalidArgumentError`` if they
        select nothing or contradict each other."""
        wanted = None if ids is None else frozenset([ids] if isinstance(ids, str) else ids)
        if wanted is not None and not wanted:
            raise InvalidArgumentError("forget() was given an empty list of ids.")
        selection = cls(wanted, session, start, end, metadata or None, everything,
                        None if subject is None else tuple(subject))
        if not selection.kind:
            raise InvalidArgumentError(
                "forget() needs ids, or a bulk selector: session=, start=/end=, metadata=, "
                "subject=, or everything=True for the whole scope.")
        if everything and selection.kind != "everything":
            raise InvalidArgumentError(
                "forget(everything=True) forgets the whole scope; give it no other selector.")
        if start is not None and end is not None and start >= end:
            raise InvalidArgumentError("forget(): start must be before end.")
        if metadata is not None:
            metadata_conditions(metadata)  # checks the filter's shape
        return selection

    @property
    def kind(self) -> str:
        """The selectors used, for the audit log (``ids``, ``session+time``, ...)."""
        used = [name for name, on in (
            ("ids", self.ids is not None), ("session", self.session is not None),
            ("time", self.start is not None or self.end is not None),
            ("metadata", bool(self.metadata)), ("subject", self.subject is not None),
            ("everything", self.everything)) if on]
        return "+".join(used)

    def rows(self, db: Session, scope: str, *, elsewhere: frozenset[str] = frozenset()
             ) -> list[Any]:
        """``(pk, id, layer)`` of the selected memories of ``scope``.

        Raises ``MemoryNotFoundError`` (deleting nothing) if an id is not in ``scope``
        (ids in ``elsewhere`` name other records of the scope, such as intentions).
        """
        columns = (MemoryRow.pk, MemoryRow.id, MemoryRow.layer)
        conditions: list[Any] = [MemoryRow.scope == scope]
        if self.start is not None:
            conditions.append(MemoryRow.valid_from >= self.start)
        if self.end is not None:
            conditions.append(MemoryRow.valid_from < self.end)
        conditions += metadata_conditions(self.metadata or {})
        if self.subject is not None:
            metadata_text = cast(MemoryRow.meta, Text)
            conditions.append(or_(*(
                condition for form in self.subject for condition in (
                    MemoryRow.text.contains(form, autoescape=True),
                    metadata_text.contains(form, autoescape=True),
                    metadata_text.contains(json.dumps(form)[1:-1], autoescape=True),
                    MemoryRow.pk.in_(select(EpisodeRow.memory_pk).where(
                        EpisodeRow.outcome.contains(form, autoescape=True))),
                    MemoryRow.pk.in_(select(FactRow.memory_pk).where(
                        FactRow.supersede_reason.contains(form, autoescape=True)))))))
        if self.session is not None:
            conditions.append(MemoryRow.pk.in_(
                select(EpisodeRow.memory_pk).where(EpisodeRow.session == self.session)))
        if self.ids is None:
            return list(db.execute(select(*columns).where(*conditions)).all())
        wanted = sorted(self.ids)
        found: list[Any] = []
        for start in range(0, len(wanted), _ID_BATCH):
            batch = wanted[start:start + _ID_BATCH]
            found += db.execute(select(*columns).where(MemoryRow.id.in_(batch),
                                                       *conditions)).all()
        missing = self.ids - {row.id for row in found} - elsewhere
        if missing:
            raise MemoryNotFoundError(
                f"No memory {sorted(missing)[0]!r} in scope {scope!r}"
                f"{' matching the other selectors' if self.kind != 'ids' else ''}; "
                "nothing was deleted.")
        return found
