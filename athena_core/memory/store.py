"""The one write path into storage, shared by every memory layer.

A layer opens a :class:`Transaction`, inserts memories (with their vectors) and
its own rows, and on commit the transaction updates the recall index and tells
observer plugins (``athena_after_remember``). Argument checks that every layer
needs - text size and encoding, metadata shape, importance, scope - live here.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import attrs
from sqlalchemy.orm import Session

from athena_core import _ids, calls
from athena_core._time import utcnow
from athena_core.api.limits import NAME_CHARS
from athena_core.config import Config
from athena_core.errors import InvalidArgumentError
from athena_core.memory.values import Memory
from athena_core.retrieval.index import RecallIndex
from athena_core.retrieval.vectors import VectorEntry
from athena_core.storage import Storage
from athena_core.storage.models import MemoryRow
from athena_core.storage.queries import insert_row

if TYPE_CHECKING:
    import numpy as np

__all__ = ["LayerContext", "MemoryLayer", "MemoryStore", "Transaction"]

#: The scope column's width (scopes also come from call contexts, not only arguments).
_MAX_SCOPE = NAME_CHARS
_MAX_METADATA_BYTES = 64_000


@attrs.define
class Transaction:
    """One write transaction; see :meth:`MemoryStore.transaction`."""

    session: Session
    index: RecallIndex
    added: list[VectorEntry] = attrs.field(factory=list)
    removed: list[int] = attrs.field(factory=list)
    stored: list[Memory] = attrs.field(factory=list)
    epoch: int | None = None
    #: Existing memories this transaction changed, recorded for other processes.
    changed: set[int] = attrs.field(factory=set)

    def insert(self, *, layer: str, text: str, scope: str, vector: np.ndarray,
               metadata: Mapping[str, Any] | None = None, importance: float = 0.5,
               valid_from: datetime | None = None, valid_to: datetime | None = None,
               id: str | None = None, created_at: datetime | None = None,
               updated_at: datetime | None = None) -> MemoryRow:
        """Insert one memory and its vector; returns its row (``pk`` assigned), not attached
        to the session."""
        now = utcnow()
        meta = dict(metadata or {})
        columns = {"id": id or _ids.new_id(), "scope": scope, "layer": layer, "text": text,
                   "importance": importance, "created_at": created_at or now,
                   "updated_at": updated_at or created_at or now,
                   "valid_from": valid_from or created_at or now, "valid_to": valid_to}
        pk = insert_row(self.session, MemoryRow, {**columns, "metadata": meta})
        row = MemoryRow(pk=pk, meta=meta, **columns)  # the values; never added to the session
        self.added.extend(self.index.stage(self.session, [row], vector.reshape(1, -1)))
        return row

    def changed_existing_rows(self, keys: Sequence[int] = (), *, removed: bool = False) -> None:
        """Record that existing memories changed (``removed``: were deleted)."""
        keys = list(keys)
        if self.epoch is None:
            self.epoch = self.index.bump_epoch(self.session)
        new = [key for key in dict.fromkeys(keys) if key not in self.changed]
        self.changed.update(new)
        self.index.note_changed(self.session, self.epoch, new)
        if removed:
            self.removed.extend(keys)
            self.index.note_removed(self.session, keys)
        else:
            self.session.flush()
            self.added.extend(self.index.vector_rows(self.session, keys))


@attrs.define
class MemoryStore:
    """Shared services of the memory layers of one Athena instance."""

    storage: Storage
    index: RecallIndex
    config: Config
    #: Called with each committed new memory (fires ``athena_after_remember``).
    on_stored: Callable[[Memory], None] = lambda memory: None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self.storage.write() as session:
            tx = Transaction(session, self.index)
            yield tx
        # committed: now update the in-memory index and tell observers
        self.index.applied(tx.added, tx.removed, tx.epoch)
        for memory in tx.stored:
            self.on_stored(memory)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.index.require_current()
        return self.index.embed(texts)

    # --- argument checks shared by the layers ---------------------------------

    def scope(self, scope: str | None) -> str:
        """The scope a call runs in: the one its entry point bound (see
        :mod:`athena_core.calls`), else ``scope``, else ``[memory] default_scope``.
        Asking for another scope than the bound one raises ``ScopeViolationError``."""
        context = calls.current()
        if context is not None:
            scope = context.resolve(scope)
        if scope is None:
            return self.config.memory.default_scope
        if not scope.strip() or len(scope) > _MAX_SCOPE:
            raise InvalidArgumentError(
                f"scope must be a non-empty string of at most {_MAX_SCOPE} characters.")
        return scope

    def text(self, text: str, *, name: str = "text") -> str:
        if not text.strip():
            raise InvalidArgumentError(f"{name} must not be empty or only whitespace.")
        limit = self.config.memory.max_text_bytes
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise InvalidArgumentError(
                f"{name} is not valid Unicode text (lone surrogate at index {exc.start}).",
                hint="Decode bytes with errors='replace' before storing them.") from None
        if size > limit:
            raise InvalidArgumentError(
                f"{name} is {size:,} bytes; the limit is {limit:,} bytes "
                "([memory] max_text_bytes).",
                hint="Split it into several memories, or raise the limit in athena.toml.")
        if "\x00" in text:
            raise InvalidArgumentError(f"{name} contains a NUL character.")
        return text

    def metadata(self, metadata: Mapping[str, Any] | None, *, name: str = "metadata"
                 ) -> dict[str, Any]:
        if metadata is None:
            return {}
        try:
            encoded = json.dumps(metadata, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"{name} must be JSON-serialisable: {exc}.") from None
        except RecursionError:
            raise InvalidArgumentError(f"{name} is nested too deeply.") from None
        try:
            size = len(encoded.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise InvalidArgumentError(
                f"{name} is not valid Unicode text (lone surrogate at index {exc.start} of "
                "its JSON form).") from None
        if "\\u0000" in encoded:
            raise InvalidArgumentError(f"{name} contains a NUL character.")
        if size > _MAX_METADATA_BYTES:
            raise InvalidArgumentError(
                f"{name} is larger than {_MAX_METADATA_BYTES:,} bytes as JSON; store large "
                "content as the memory's text instead.")
        return json.loads(encoded)  # type: ignore[no-any-return]

    @staticmethod
    def importance(value: float) -> float:
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise InvalidArgumentError(f"importance must be between 0 and 1, not {value!r}.")
        return value


@attrs.frozen
class LayerContext:
    """What a memory layer factory receives."""

    store: MemoryStore
    config: Config


class MemoryLayer(Protocol):
    """What a memory layer provides besides its :func:`~athena_core.api.operation` methods."""

    #: The registered name; also the namespace of its operations (``athena.<name>.*``).
    name: str
    api_namespace: str

    def store_generic(self, text: str, *, metadata: Mapping[str, Any] | None,
                      importance: float, scope: str | None) -> str:
        """Store ``text`` for ``athena.remember(..., layer=name)``; return the new id."""
        ...

    def export_fields(self, session: Session, keys: list[int]) -> dict[int, dict[str, Any]]:
        """The layer's own fields of the memories with internal ``keys``, for export."""
        ...

    def import_fields(self, session: Session, row: MemoryRow, fields: Mapping[str, Any]
                      ) -> None:
        """Insert the layer's own row for imported ``row`` from exported ``fields``."""
        ...

    def related_for_forget(self, session: Session, keys: set[int]) -> set[int]:
        """Keys to delete when ``keys`` are forgotten (e.g. every version of a fact).

        Athena deletes only those of them in the forget's scope."""
        ...

    # Optional: ``import_references(fields) -> dict[str, Any]`` names, by field, the ids
    # of other memories an imported record's ``fields`` point at (a fact's
    # ``lineage_id``). An import refuses a file where one is not a memory of the same
    # scope and layer, in the file or already stored.
