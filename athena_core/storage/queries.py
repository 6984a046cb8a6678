"""SQL building blocks shared by the layers and the retrievers."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    String,
    and_,
    bindparam,
    insert,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from athena_core.errors import InvalidArgumentError
from athena_core.retrieval.filters import RecallFilter
from athena_core.storage.models import Base, EpisodeRow, MemoryRow

__all__ = [
    "MEMORIES_BY_KEY",
    "MEMORY_BY_ID",
    "insert_row",
    "key_batches",
    "matching_keys",
    "memory_conditions",
    "metadata_conditions",
    "scoped_keys",
]

_memories = MemoryRow.__table__
_episodes = EpisodeRow.__table__
#: ``memories`` with the episode columns of episodes (``NULL`` for other layers): hits and
#: ``get`` carry an episode's kind, actor, session and outcome (a primary-key lookup).
_WITH_EPISODE = _memories.outerjoin(_episodes, _episodes.c.memory_pk == _memories.c.pk)
_EPISODE_COLUMNS = (_episodes.c.kind, _episodes.c.actor, _episodes.c.session,
                    _episodes.c.outcome)
#: Keys per ``IN`` list (PostgreSQL and SQLite cap bound parameters per statement).
_KEY_BATCH = 10_000
#: One memory by public id within a scope (parameters ``id``, ``scope``), with the
#: episode columns.
MEMORY_BY_ID = (select(_memories, *_EPISODE_COLUMNS).select_from(_WITH_EPISODE)
                .where(_memories.c.id == bindparam("id"),
                       _memories.c.scope == bindparam("scope")))
#: Memories by internal key (parameter ``keys``, a list), with the episode columns.
MEMORIES_BY_KEY = (select(_memories, *_EPISODE_COLUMNS).select_from(_WITH_EPISODE)
                   .where(_memories.c.pk.in_(bindparam("keys", expanding=True))))


def scoped_keys(session: Any, scope: str, keys: Iterable[int]) -> set[int]:
    """Of the internal ``keys``, those of memories in ``scope``.

    The one primitive every lineage walk and delete passes its keys through, so that
    no expansion (a fact's versions, a layer's related rows) crosses a scope.
    """
    found: set[int] = set()
    for batch in key_batches(keys):
        found.update(session.scalars(select(MemoryRow.pk).where(
            MemoryRow.scope == scope, MemoryRow.pk.in_(batch))))
    return found


def key_batches(keys: Iterable[int]) -> Iterator[list[int]]:
    """``keys``, sorted, in lists short enough for one ``IN`` (bound-parameter caps)."""
    wanted = sorted(set(keys))
    for start in range(0, len(wanted), _KEY_BATCH):
        yield wanted[start:start + _KEY_BATCH]


def insert_row(session: Any, model: type[Base], values: Mapping[str, Any]) -> Any:
    """Insert one row of ``model`` (``values`` by column name); return its primary key.

    A Core ``INSERT`` in the session's transaction: the write path of every memory,
    kept off the ORM unit of work, which costs several times the insert itself.
    """
    result = session.connection().execute(insert(model.__table__), dict(values))
    return result.inserted_primary_key[0]


def memory_conditions(where: RecallFilter) -> ColumnElement[bool]:
    """The SQL form of a :class:`RecallFilter` over ``memories``."""
    parts: list[ColumnElement[bool]] = [MemoryRow.scope == where.scope]
    if where.layers is not None:
        parts.append(MemoryRow.layer.in_(sorted(where.layers)))
    if where.as_of is None:
        parts.append(MemoryRow.valid_to.is_(None))
    else:
        parts.append(MemoryRow.valid_from <= where.as_of)
        parts.append(or_(MemoryRow.valid_to.is_(None), MemoryRow.valid_to > where.as_of))
    if where.since is not None:
        parts.append(MemoryRow.valid_from >= where.since)
    if where.until is not None:
        parts.append(MemoryRow.valid_from < where.until)
    if where.keys is not None:
        parts.append(MemoryRow.pk.in_(sorted(where.keys)))
    return and_(true(), *parts)


def metadata_conditions(wanted: Mapping[str, Any], column: Any = None) -> list[ColumnElement[bool]]:
    """Equality on top-level metadata keys (strings, numbers, booleans, null).

    Types must agree, on every database: ``3`` matches ``3`` and ``3.0`` but not
    ``"3"`` or ``true``; ``True`` matches only ``true``. ``None`` matches a JSON
    null or a missing key.
    """
    if not isinstance(wanted, Mapping):
        raise InvalidArgumentError(
            f"metadata filter must be a mapping of keys to values, not {type(wanted).__name__}.")
    column = MemoryRow.meta if column is None else column
    parts: list[ColumnElement[bool]] = []
    for key, value in wanted.items():
        if not isinstance(key, str):
            raise InvalidArgumentError(
                f"metadata filter key {key!r}: keys are strings, not {type(key).__name__}.")
        if value is not None and not isinstance(value, bool | int | float | str):
            raise InvalidArgumentError(
                f"metadata filter {key!r}: only strings, numbers, booleans and null can be "
                f"matched, not {type(value).__name__}.")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidArgumentError(
                f"metadata filter {key!r}: {value!r} is not a JSON number.")
        for text in (key, value) if isinstance(value, str) else (key,):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidArgumentError(
                    f"metadata filter {key!r} is not valid Unicode text (lone surrogate)."
                ) from None
            if "\x00" in text:  # PostgreSQL can hold no NUL in text (nor in jsonb)
                raise InvalidArgumentError(
                    f"metadata filter {key!r} contains a NUL character.")
        if value is None:
            parts.append(_JsonValueIsNull(column, literal(key, String)))
        else:
            encoded = json.dumps(value, ensure_ascii=False)
            parts.append(_JsonValueEquals(column, literal(key, String),
                                            literal(encoded, String)))
    return parts


class _JsonValueEquals(FunctionElement[bool]):
    """True where the JSON ``column`` holds at top-level ``key`` the scalar JSON text ``value``.

    Numbers compare as numbers and the JSON types must agree (casting the stored
    value instead fails on PostgreSQL, and converts silently on SQLite, when some
    row holds another type under the same key).
    """

    type = Boolean()
    inherit_cache = True
    name = "json_value_equals"


class _JsonValueIsNull(FunctionElement[bool]):
    """True where the JSON ``column`` has no top-level ``key`` or holds null there."""

    type = Boolean()
    inherit_cache = True
    name = "json_value_is_null"


def _arg(element: FunctionElement[Any], compiler: Any, index: int, **kw: Any) -> str:
    # Render each use on its own, so positional parameters stay in order.
    return str(compiler.process(element.clauses.clauses[index], **kw))


@compiles(_JsonValueEquals, "postgresql")
def _json_value_equals_postgresql(element: _JsonValueEquals, compiler: Any, **kw: Any) -> str:
    column, key, value = (_arg(element, compiler, i, **kw) for i in range(3))
    # jsonb equality: numeric for numbers (1 = 1.0), exact for strings and booleans.
    return f"(CAST(({column} -> CAST({key} AS TEXT)) AS JSONB) = CAST({value} AS JSONB))"


@compiles(_JsonValueIsNull, "postgresql")
def _json_value_is_null_postgresql(element: _JsonValueIsNull, compiler: Any, **kw: Any
                                   ) -> str:
    column, key = (_arg(element, compiler, i, **kw) for i in range(2))
    return f"(({column} ->> CAST({key} AS TEXT)) IS NULL)"


# SQLite: json_each decodes the stored keys, so any key (accents, quotes, dots)
# is found however the JSON text escapes it, unlike a '$."key"' path.


@compiles(_JsonValueEquals)
def _json_value_equals_sqlite(element: _JsonValueEquals, compiler: Any, **kw: Any) -> str:
    def arg(index: int) -> str:
        return _arg(element, compiler, index, **kw)

    return (f"EXISTS (SELECT 1 FROM json_each({arg(0)}) AS athena_kv "
            f"WHERE athena_kv.key = {arg(1)} "
            f"AND CASE WHEN json_type({arg(2)}) IN ('integer', 'real') "
            f"THEN athena_kv.type IN ('integer', 'real') "
            f"ELSE athena_kv.type = json_type({arg(2)}) END "
            f"AND athena_kv.value = json_extract({arg(2)}, '$'))")


@compiles(_JsonValueIsNull)
def _json_value_is_null_sqlite(element: _JsonValueIsNull, compiler: Any, **kw: Any) -> str:
    column, key = (_arg(element, compiler, i, **kw) for i in range(2))
    return (f"NOT EXISTS (SELECT 1 FROM json_each({column}) AS athena_kv "
            f"WHERE athena_kv.key = {key} AND athena_kv.type != 'null')")


def matching_keys(session: Any, where: RecallFilter, wanted: Mapping[str, Any]) -> frozenset[int]:
    """Keys of memories matching ``where`` and the metadata filter ``wanted``."""
    query = select(MemoryRow.pk).where(memory_conditions(where), *metadata_conditions(wanted))
    return frozenset(session.scalars(query))
