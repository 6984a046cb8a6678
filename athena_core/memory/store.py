"""The one write path into storage, shared by every memory layer.

A layer opens a :class:`Transaction`, inserts memories (with their vectors) and
its own rows, and on commit the transaction updates the recall index and tells
observer plugins (``athena_after_remember`` for each new memory, then the events
the layer queued with :meth:`Transaction.event`). Argument checks that every layer
needs - text size and encoding, metadata shape, importance, scope, short labels, ids -
live here; an import checks each line of its file with the same ones.
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
from athena_core.errors import InvalidArgumentError, PluginContractError
from athena_core.memory.values import Memory
from athena_core.retrieval.index import RecallIndex
from athena_core.retrieval.vectors import VectorEntry
from athena_core.storage import Storage
from athena_core.storage.models import MemoryRow
from athena_core.storage.queries import insert_memory_rows, insert_row

if TYPE_CHECKING:
    import numpy as np

    from athena_core.privacy.vault import Kept, Vault

__all__ = ["LayerContext", "MemoryLayer", "MemoryStore", "Transaction", "check_layer"]

#: The scope column's width (scopes also come from call contexts, not only arguments).
_MAX_SCOPE = NAME_CHARS
_MAX_METADATA_BYTES = 64_000


@attrs.define
class Transaction:
    """One write transaction; see :meth:`MemoryStore.transaction`."""

    #: The SQLAlchemy session of the transaction: insert the layer's own rows with it.
    session: Session
    #: The recall index the transaction stages vectors for (Athena's; leave it alone).
    index: RecallIndex
    #: Vector entries to add to the index once committed (:meth:`insert` appends).
    added: list[VectorEntry] = attrs.field(factory=list)
    #: Keys to remove from the index once committed (:meth:`changed_existing_rows`).
    removed: list[int] = attrs.field(factory=list)
    #: New memories to announce to ``athena_after_remember`` observers once committed:
    #: append what you stored (``Memory.from_row(row)``, or a richer value of yours).
    stored: list[Memory] = attrs.field(factory=list)
    #: The index epoch this transaction bumped, if it changed existing memories.
    epoch: int | None = None
    #: Keys of existing memories this transaction changed, recorded for other processes.
    changed: set[int] = attrs.field(factory=set)
    #: Observer hooks to call once the transaction has committed, with their arguments.
    events: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)
    #: The vault of sensitive values, when ``[privacy] conceal`` is on: every memory's
    #: text and metadata are stored in placeholder form, the values kept in it.
    vault: Vault | None = None

    def event(self, hook: str, **kwargs: Any) -> None:
        """Call observer ``hook`` (``athena_after_supersede``...) with ``kwargs`` (and
        ``athena``) after this transaction commits; never if it rolls back."""
        self.events.append((hook, kwargs))

    #: False for a bulk write (an import): new vector entries are not kept in memory until
    #: commit; the vector backend loads them from the database at its next sync, as it
    #: does the memories other processes write.
    keep_entries: bool = True

    def insert(self, *, layer: str, text: str, scope: str, vector: np.ndarray,
               metadata: Mapping[str, Any] | None = None, importance: float = 0.5,
               valid_from: datetime | None = None, valid_to: datetime | None = None,
               id: str | None = None, created_at: datetime | None = None,
               updated_at: datetime | None = None) -> MemoryRow:
        """Insert one memory and its vector; returns its row (``pk`` assigned), not attached
        to the session.

        Check the values first (:class:`MemoryStore` ``text``, ``scope``, ``metadata``,
        ``importance``); key the layer's own row to ``row.pk``, and append what was
        stored to :attr:`stored`."""
        now = utcnow()
        meta = dict(metadata or {})
        if self.vault is not None:
            text, meta, vector = self._concealed(text, meta, scope, vector)
        columns = {"id": id or _ids.new_id(), "scope": scope, "layer": layer, "text": text,
                   "importance": importance, "created_at": created_at or now,
                   "updated_at": updated_at or created_at or now,
                   "valid_from": valid_from or created_at or now, "valid_to": valid_to}
        pk = insert_row(self.session, MemoryRow, {**columns, "metadata": meta})
        row = MemoryRow(pk=pk, meta=meta, **columns)  # the values; never added to the session
        self._stage([row], vector.reshape(1, -1))
        return row

    def conceal(self, value: Any, *, scope: str) -> Any:
        """``value`` (a string, or JSON data) for a layer's own row, in placeholder form,
        its sensitive values kept in this transaction (an episode's outcome, a fact's
        supersede reason). ``None`` stays ``None``; unchanged when concealing is off."""
        if value is None or self.vault is None:
            return value
        concealed, found = self.vault.conceal_data(value, scope=scope, session=self.session)
        self.vault.keep(self.session, scope, found.values())
        return concealed

    def _concealed(self, text: str, metadata: dict[str, Any], scope: str,
                   vector: np.ndarray) -> tuple[str, dict[str, Any], np.ndarray]:
        """``text`` and ``metadata`` in placeholder form, their values kept in this
        transaction. A text that did not come from :meth:`MemoryStore.conceal` (a layer
        that stores text of its own making) is concealed here and embedded again, so no
        vector is made from a sensitive value."""
        from athena_core.privacy.vault import ConcealedText

        assert self.vault is not None
        kept: list[Kept] = []
        if isinstance(text, ConcealedText):
            kept += text.kept
        else:
            concealed = self.vault.conceal(text, scope=scope, session=self.session)
            if concealed.text != text:
                kept += concealed.values.values()
                text = concealed.text
                vector = self.index.embed([text])[0]
        metadata, found = self.vault.conceal_data(metadata, scope=scope, session=self.session)
        self.vault.keep(self.session, scope, [*kept, *found.values()])
        return str(text), metadata, vector

    def insert_many(self, memories: Sequence[Mapping[str, Any]], vectors: np.ndarray
                    ) -> list[MemoryRow]:
        """Insert ``memories`` (each with every column :meth:`insert` sets, ``id``,
        ``created_at``... included, and ``metadata``) and their ``vectors`` in a few
        statements: the bulk write of an import. Returns their rows, in order.

        Their text and metadata must be in placeholder form already, their values kept
        (an import conceals each record when it checks it: :mod:`athena_core.transfer`)."""
        keys = insert_memory_rows(self.session, memories)
        rows = [MemoryRow(pk=pk, meta=dict(values["metadata"]),
                          **{name: value for name, value in values.items() if name != "metadata"})
                for pk, values in zip(keys, memories, strict=True)]
        self._stage(rows, vectors)
        return rows

    def _stage(self, rows: Sequence[MemoryRow], vectors: np.ndarray) -> None:
        entries = self.index.stage(self.session, rows, vectors)
        if self.keep_entries:
            self.added.extend(entries)

    def changed_existing_rows(self, keys: Sequence[int] = (), *, removed: bool = False) -> None:
        """Record that existing memories with internal ``keys`` changed (their text,
        validity or vector) or, with ``removed``, were deleted, so that every process's
        vector index applies the change."""
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
            self.added.extend(self.index.changed_rows(self.session, keys))


@attrs.define
class MemoryStore:
    """Shared services of the memory layers of one Athena instance: the one write path,
    embedding, and the argument checks every layer needs."""

    #: The database (:class:`~athena_core.storage.Storage`): ``read()`` for a read-only
    #: session; write through :meth:`transaction`, never ``storage.write()`` directly.
    storage: Storage
    #: The recall index (embedder and vector backend); use :meth:`embed`, and
    #: :func:`athena_core.memory.recall.hybrid_recall` to search.
    index: RecallIndex
    #: The instance's effective configuration.
    config: Config
    #: ``notify(hook, **kwargs)`` tells observer plugins, after a commit (the instance's
    #: :meth:`~athena_core.plugins.PluginHost.notify`; a failing observer is logged).
    notify: Callable[..., None] = lambda hook, **kwargs: None
    #: The vault of sensitive values (``None`` when ``[privacy] conceal`` is off).
    vault: Vault | None = None
    #: Called with each write transaction that stored memories, before it commits (the
    #: instance's prospective memory evaluates its event triggers there).
    before_commit: Callable[[Transaction], None] | None = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction, committed when the ``with`` block exits without an error.

        Insert memories with :meth:`Transaction.insert` and the layer's own rows with
        ``tx.session``; after the commit the recall index is updated and the memories
        in ``tx.stored`` are announced to observers. An exception rolls everything back.
        """
        with self.storage.write() as session:
            tx = Transaction(session, self.index, vault=self.vault)
            yield tx
            if tx.stored and self.before_commit is not None:
                self.before_commit(tx)  # event triggers fire in the same transaction
        # committed: now update the in-memory index and tell observers
        self.index.applied(tx.added, tx.removed, tx.epoch)
        for memory in tx.stored:
            self.notify("athena_after_remember", memory=memory)
        for hook, kwargs in tx.events:
            self.notify(hook, **kwargs)

    def conceal(self, text: str, *, scope: str) -> str:
        """``text`` (checked with :meth:`text`) in placeholder form, to embed and store:
        each sensitive value the scope's ``[privacy]`` rules detect replaced by its
        placeholder. The values travel with the returned text and are kept, encrypted,
        by the transaction that inserts it. Unchanged when ``[privacy] conceal`` is off."""
        if self.vault is None:
            return text
        from athena_core.privacy.vault import ConcealedText

        concealed = self.vault.conceal(text, scope=scope)
        return ConcealedText(concealed.text, concealed.values.values())

    def conceal_query(self, query: str, *, scope: str) -> str:
        """A search text as stored texts hold it: its sensitive values as placeholders
        (so searching by a value finds the memories that hold it). Writes nothing."""
        return query if self.vault is None else self.vault.conceal_query(query, scope=scope)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The embedder's vectors for ``texts`` (one float32 row each), for
        :meth:`Transaction.insert`. Embed before opening the transaction: it may be slow,
        and a write transaction blocks other writers."""
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
                f"scope must be a non-empty string of at most {_MAX_SCOPE} characters.",
                argument="scope")
        _plain_size(scope, "scope")
        return scope

    def text(self, text: str, *, name: str = "text") -> str:
        """``text`` if it is storable (not blank, valid Unicode, no NUL, within
        ``[memory] max_text_bytes``), else :class:`InvalidArgumentError` naming ``name``."""
        if not text.strip():
            raise InvalidArgumentError(f"{name} must not be empty or only whitespace.",
                                       argument=name)
        limit = self.config.memory.max_text_bytes
        size = _plain_size(text, name)
        if size > limit:
            raise InvalidArgumentError(
                f"{name} is {size:,} bytes; the limit is {limit:,} bytes "
                "([memory] max_text_bytes).",
                hint="Split it into several memories, or raise the limit in athena.toml.",
                argument=name)
        return text

    @staticmethod
    def label(value: str, *, name: str, column: Any, blank_ok: bool = False) -> str:
        """A short string stored in ``column`` (a model attribute such as
        ``EpisodeRow.kind``): at most the column's width in characters, valid Unicode
        without NUL, and not empty or only whitespace unless ``blank_ok``."""
        if not isinstance(value, str):
            raise InvalidArgumentError(f"{name} must be a string.", argument=name)
        if not blank_ok and not value.strip():
            raise InvalidArgumentError(f"{name} must not be empty or only whitespace.",
                                       argument=name)
        width = getattr(column.type, "length", None)
        if width is not None and len(value) > width:
            raise InvalidArgumentError(
                f"{name} is {len(value):,} characters; the limit is {width}.", argument=name)
        _plain_size(value, name)
        return value

    @staticmethod
    def memory_id(value: str, *, name: str = "id") -> str:
        """A memory id as Athena makes them (:mod:`athena_core._ids`)."""
        if not _ids.is_id(value):
            raise InvalidArgumentError(
                f"{name} must be a memory id: {_ids.LENGTH} characters of "
                f"{_ids.ALPHABET}.", argument=name)
        return value

    def metadata(self, metadata: Mapping[str, Any] | None, *, name: str = "metadata"
                 ) -> dict[str, Any]:
        """``metadata`` as a plain JSON dict (``{}`` for ``None``) if it is storable
        (JSON, no NUL, at most 64 kB), else :class:`InvalidArgumentError` naming ``name``."""
        if metadata is None:
            return {}
        try:
            encoded = json.dumps(metadata, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"{name} must be JSON-serialisable: {exc}.",
                                       argument=name) from None
        except RecursionError:
            raise InvalidArgumentError(f"{name} is nested too deeply.",
                                       argument=name) from None
        try:
            size = len(encoded.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise InvalidArgumentError(
                f"{name} is not valid Unicode text (lone surrogate at index {exc.start} of "
                "its JSON form).", argument=name) from None
        if "\\u0000" in encoded:
            raise InvalidArgumentError(f"{name} contains a NUL character.", argument=name)
        if size > _MAX_METADATA_BYTES:
            raise InvalidArgumentError(
                f"{name} is larger than {_MAX_METADATA_BYTES:,} bytes as JSON; store large "
                "content as the memory's text instead.", argument=name)
        return json.loads(encoded)  # type: ignore[no-any-return]

    @staticmethod
    def importance(value: float) -> float:
        """``value`` if it is a finite number from 0 to 1, else :class:`InvalidArgumentError`."""
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise InvalidArgumentError(f"importance must be between 0 and 1, not {value!r}.",
                                       argument="importance")
        return value


def _plain_size(value: str, name: str) -> int:
    """The UTF-8 size of ``value``; raises if it holds a lone surrogate or a NUL."""
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidArgumentError(
            f"{name} is not valid Unicode text (lone surrogate at index {exc.start}).",
            hint="Decode bytes with errors='replace' before storing them.",
            argument=name) from None
    if "\x00" in value:
        raise InvalidArgumentError(f"{name} contains a NUL character.", argument=name)
    return size


@attrs.frozen
class LayerContext:
    """What a memory layer factory receives (``factory(context)``)."""

    #: The shared services: the write path, embedding, scope and argument checks.
    store: MemoryStore
    #: The instance's effective configuration (``config.data_dir``, ``config.memory``, ...).
    config: Config


class MemoryLayer(Protocol):
    """What a memory layer provides besides its :func:`~athena_core.api.operation` methods.

    Every member below is required: a layer may subclass this protocol or merely have
    the members, and Athena refuses to open (:class:`PluginContractError`) with a layer
    that lacks one or is named otherwise than it was registered.
    """

    #: The registered name: the ``layer`` of its memories and ``remember(..., layer=name)``.
    name: str
    #: The namespace of its operations (``athena.<api_namespace>.*``); the same as ``name``.
    api_namespace: str

    def store_generic(self, text: str, *, metadata: Mapping[str, Any] | None,
                      importance: float, scope: str | None) -> str:
        """Store ``text`` for ``athena.remember(..., layer=name)``; return the new id.

        Raise :class:`InvalidArgumentError` (saying which operation to use instead) if
        the layer cannot store bare text."""
        ...

    def export_fields(self, session: Session, keys: list[int]) -> dict[int, dict[str, Any]]:
        """The layer's own fields of the memories with internal ``keys``, for export:
        JSON data by key (``{}`` for a layer without a table of its own)."""
        ...

    def import_fields(self, session: Session, row: MemoryRow, fields: Mapping[str, Any]
                      ) -> None:
        """Insert the layer's own row for imported ``row`` from exported ``fields`` (as
        ``import_check`` returned them, if the layer has one)."""
        ...

    def related_for_forget(self, session: Session, keys: set[int]) -> set[int]:
        """Keys to delete when ``keys`` are forgotten: ``keys`` themselves, plus any memory
        that must go with them (e.g. every version of a fact).

        Athena deletes only those of them in the forget's scope."""
        ...

    # Optional: ``import_check(fields) -> dict[str, Any]`` checks an imported record's
    # ``fields`` before anything is written, with the checks the layer's own writes use,
    # and returns them normalised; it raises ``InvalidArgumentError`` whose ``argument``
    # is ``fields.<name>``, which the import reports with the line number. Without it,
    # the fields reach ``import_fields`` unchecked.
    # Optional: ``import_references(fields) -> dict[str, Any]`` names, by field, the ids
    # of other memories an imported record's (checked) ``fields`` point at (a fact's
    # ``lineage_id``). An import refuses a file where one is not a memory of the same
    # scope and layer, in the file or already stored.


#: The members of :class:`MemoryLayer` a layer must define itself.
_LAYER_METHODS = ("store_generic", "export_fields", "import_fields", "related_for_forget")


def check_layer(layer: object, *, name: str, plugin: str) -> None:
    """Raise :class:`PluginContractError` unless ``layer``, registered as ``name`` by
    ``plugin``, has every member of :class:`MemoryLayer` (not the protocol's empty
    bodies) and is named ``name``."""
    missing = [method for method in _LAYER_METHODS
               if getattr(type(layer), method, None) in (None, vars(MemoryLayer)[method])]
    where = f"Memory layer {name!r} of plugin {plugin!r}"
    if missing:
        raise PluginContractError(
            f"{where} does not implement {', '.join(missing)} (members of "
            "athena_core.memory.MemoryLayer, which has no default for them).",
            hint="Implement each as docs/plugins.md describes; a layer without a table of "
                 "its own returns {} from export_fields, does nothing in import_fields and "
                 "returns keys from related_for_forget.")
    for attribute in ("name", "api_namespace"):
        value = getattr(layer, attribute, None)
        if value != name:
            raise PluginContractError(
                f"{where} has {attribute} {value!r}; both name and api_namespace must be "
                f"the name it is registered under, {name!r}.",
                hint=f"Set name = api_namespace = {name!r} on the layer, or register it "
                     "under its own name.")
