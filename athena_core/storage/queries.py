"""SQL building blocks shared by the layers and the retrievers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    Float,
    String,
    Table,
    Text,
    and_,
    bindparam,
    false,
    insert,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from athena_core.retrieval.filters import MetadataCondition, MetadataFilter, RecallFilter
from athena_core.storage.models import Base, EpisodeRow, MemoryRow

__all__ = [
    "KEYS",
    "MEMORIES_BY_KEY",
    "MEMORY_BY_ID",
    "episode_conditions",
    "in_keys",
    "insert_row",
    "key_batches",
    "memory_conditions",
    "memory_matches",
    "metadata_conditions",
    "scoped_keys",
]

_memories = MemoryRow.__table__
_episodes = EpisodeRow.__table__
#: ``memories`` with the episode columns of episodes (``NULL`` for other layers): hits and
#: ``get`` carry an episode's kind, actor, session and outcome (a primary-key lookup).
_WITH_EPISODE = _memories.outerjoin(_episodes, _episodes.c.memory_pk == _memories.c.pk)
#: The episodes a filter's session, actor or kind looks at (an alias: the statement it is
#: part of may read ``episodes`` too).
_FILTERED_EPISODE = _episodes.alias("athena_filtered_episode")
_EPISODE_COLUMNS = (_episodes.c.kind, _episodes.c.actor, _episodes.c.session,
                    _episodes.c.outcome)
#: Keys per ``IN`` list (PostgreSQL and SQLite cap bound parameters per statement).
_KEY_BATCH = 10_000
#: One memory by public id within a scope (parameters ``id``, ``scope``), with the
#: episode columns.
MEMORY_BY_ID = (select(_memories, *_EPISODE_COLUMNS).select_from(_WITH_EPISODE)
                .where(_memories.c.id == bindparam("id"),
                       _memories.c.scope == bindparam("scope")))


class KeyList(TypeDecorator[list[int]]):
    """A list of integer keys bound as *one* parameter (JSON text), however long.

    An ``IN`` list binds one parameter per key: statements grow with the list, and
    past the database's cap (250,000 on SQLite here) they fail. :func:`in_keys`
    unpacks the one parameter in SQL instead.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str:
        return json.dumps([int(key) for key in value])


#: The parameter ``keys`` (a list of internal keys) of the statements below.
KEYS = bindparam("keys", type_=KeyList())


class _InKeys(FunctionElement[bool]):
    """True where the integer expression is one of the keys of a :class:`KeyList`."""

    type = Boolean()
    inherit_cache = True
    name = "in_keys"


@compiles(_InKeys, "postgresql")
def _in_keys_postgresql(element: _InKeys, compiler: Any, **kw: Any) -> str:
    column, keys = (_arg(element, compiler, i, **kw) for i in range(2))
    return (f"({column} = ANY (ARRAY(SELECT CAST(jsonb_array_elements_text("
            f"CAST({keys} AS JSONB)) AS BIGINT))))")


@compiles(_InKeys)
def _in_keys_sqlite(element: _InKeys, compiler: Any, **kw: Any) -> str:
    column, keys = (_arg(element, compiler, i, **kw) for i in range(2))
    return f"({column} IN (SELECT value FROM json_each({keys})))"


def in_keys(column: Any, keys: Iterable[int] | BindParameter[Any]) -> ColumnElement[bool]:
    """``column IN keys`` with the keys bound as one parameter (:class:`KeyList`)."""
    bound = keys if isinstance(keys, BindParameter) else literal(list(keys), KeyList())
    return _InKeys(column, bound)


#: Memories by internal key (parameter ``keys``, a list), with the episode columns.
MEMORIES_BY_KEY = (select(_memories, *_EPISODE_COLUMNS).select_from(_WITH_EPISODE)
                   .where(in_keys(_memories.c.pk, KEYS)))


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
    table: Table = model.__table__  # type: ignore[assignment]  # a FromClause to mypy
    result = session.connection().execute(insert(table), dict(values))
    return result.inserted_primary_key[0]


def insert_memory_rows(session: Any, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert memory ``rows`` (by column name) in one executemany; return their internal
    keys, in order: the bulk form of :func:`insert_row`, for imports.

    The keys are read back by id in one query: ``INSERT ... RETURNING`` of many rows in
    order is one statement per row on SQLite.
    """
    if not rows:
        return []
    session.connection().execute(insert(MemoryRow), [dict(r) for r in rows])
    ids = [r["id"] for r in rows]
    keys = dict(session.connection().execute(
        select(_memories.c.id, _memories.c.pk).where(_memories.c.id.in_(ids))).all())
    return [keys[memory_id] for memory_id in ids]


def memory_conditions(where: RecallFilter) -> ColumnElement[bool]:
    """The SQL form of a :class:`RecallFilter` over ``memories``: every part of it,
    metadata and episode fields included, is a condition the database evaluates."""
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
        parts.append(in_keys(MemoryRow.pk, where.keys))
    parts += metadata_conditions(where.metadata)
    episode = episode_conditions(where, _FILTERED_EPISODE)
    if episode:
        # Correlated: evaluated only for the memories the other conditions leave.
        parts.append(select(literal(1)).select_from(_FILTERED_EPISODE)
                     .where(_FILTERED_EPISODE.c.memory_pk == MemoryRow.pk, *episode)
                     .correlate_except(_FILTERED_EPISODE).exists())
    return and_(true(), *parts)


def episode_conditions(where: RecallFilter, episodes: Any = None) -> list[ColumnElement[bool]]:
    """The conditions of ``where`` on ``episodes`` (the table, or an alias of it): session,
    actor and kind."""
    columns = (_episodes if episodes is None else episodes).c
    return [column == value for column, value in ((columns.session, where.session),
                                                  (columns.actor, where.actor),
                                                  (columns.kind, where.kind))
            if value is not None]


def memory_matches(where: RecallFilter, key: ColumnElement[Any]) -> ColumnElement[bool]:
    """True where ``key`` (an expression of another table, such as a vector backend's
    key column in Athena's database) is the key of a memory that ``where`` allows."""
    return (select(literal(1)).select_from(_memories)
            .where(_memories.c.pk == key, memory_conditions(where))
            .correlate_except(_memories).exists())


def metadata_conditions(wanted: MetadataFilter | Mapping[str, Any] | None, column: Any = None,
                        *, name: str = "metadata") -> list[ColumnElement[bool]]:
    """SQL conditions for a metadata filter on the JSON ``column`` (``memories.metadata``
    by default): one per condition, with the same meaning on SQLite and PostgreSQL.

    Types must agree, on every database: ``3`` matches ``3`` and ``3.0`` but not
    ``"3"`` or ``true``; ``True`` matches only ``true``; ``None`` matches a JSON null
    or a missing key. A mapping is checked first (see
    :meth:`~athena_core.retrieval.filters.MetadataFilter.parse`).
    """
    parsed = wanted if isinstance(wanted, MetadataFilter) else MetadataFilter.parse(
        wanted, name=name)
    column = MemoryRow.meta if column is None else column
    return [_condition(column, condition) for condition in parsed.conditions]


def _condition(column: Any, condition: MetadataCondition) -> ColumnElement[bool]:
    key = literal(condition.key, String)
    operator, value = condition.operator, condition.value
    if operator in ("eq", "in"):
        values = (value,) if operator == "eq" else value
        present = [item for item in values if item is not None]
        parts: list[ColumnElement[bool]] = []
        if len(present) < len(values):
            parts.append(_JsonValueIsNull(column, key))
        if present:
            parts.append(_JsonValueIn(column, key, _json(present)))
        return or_(false(), *parts)
    if operator == "contains":
        return _JsonListContains(column, key, _json([value]))
    bound = literal(value, String) if isinstance(value, str) else literal(value, Float)
    return _COMPARISONS[operator](column, key, bound)


def _json(values: list[Any]) -> BindParameter[Any]:
    return literal(json.dumps(values, ensure_ascii=False), String)


class _JsonValueIn(FunctionElement[bool]):
    """True where the JSON ``column`` holds at top-level ``key`` one of the scalars of the
    JSON array text ``values``.

    Numbers compare as numbers and the JSON types must agree (casting the stored
    value instead fails on PostgreSQL, and converts silently on SQLite, when some
    row holds another type under the same key).
    """

    type = Boolean()
    inherit_cache = True
    name = "json_value_in"


class _JsonListContains(FunctionElement[bool]):
    """True where the JSON ``column`` holds at top-level ``key`` a list with an element
    equal (as in :class:`_JsonValueIn`) to one of the scalars of the array ``values``."""

    type = Boolean()
    inherit_cache = True
    name = "json_list_contains"


class _JsonValueIsNull(FunctionElement[bool]):
    """True where the JSON ``column`` has no top-level ``key`` or holds null there."""

    type = Boolean()
    inherit_cache = True
    name = "json_value_is_null"


class _JsonCompare(FunctionElement[bool]):
    """True where the JSON ``column`` holds at top-level ``key`` a value of the kind of
    ``value`` (a number, or a string) that compares to it by :attr:`operator`: numbers
    by value, strings by code point on every database."""

    type = Boolean()
    inherit_cache = True
    name = "json_compare"
    operator = ""


#: One class per operator: the operator is part of the statement's cache key.
_COMPARISONS: dict[str, type[_JsonCompare]] = {
    name: type(f"_JsonCompare_{name}", (_JsonCompare,),
               {"operator": sql, "inherit_cache": True})
    for name, sql in (("gt", ">"), ("gte", ">="), ("lt", "<"), ("lte", "<="))}


def _arg(element: FunctionElement[Any], compiler: Any, index: int, **kw: Any) -> str:
    # Render each use on its own, so positional parameters stay in order.
    return str(compiler.process(element.clauses.clauses[index], **kw))


def _is_string(element: _JsonCompare) -> bool:
    return isinstance(element.clauses.clauses[2].type, String)


# PostgreSQL: jsonb comparisons (numbers by value, 1 = 1.0), guarded by jsonb_typeof so
# that no cast can fail on a row holding another type; strings in the "C" collation
# (code point order), whatever the database's collation is.

def _pg_value(column: str, key: str) -> str:
    return f"(CAST({column} AS JSONB) -> CAST({key} AS TEXT))"


@compiles(_JsonValueIn, "postgresql")
def _json_value_in_postgresql(element: _JsonValueIn, compiler: Any, **kw: Any) -> str:
    column, key, values = (_arg(element, compiler, i, **kw) for i in range(3))
    return (f"({_pg_value(column, key)} IN "
            f"(SELECT jsonb_array_elements(CAST({values} AS JSONB))))")


@compiles(_JsonListContains, "postgresql")
def _json_list_contains_postgresql(element: _JsonListContains, compiler: Any, **kw: Any
                                   ) -> str:
    def value() -> str:
        return _pg_value(_arg(element, compiler, 0, **kw), _arg(element, compiler, 1, **kw))

    guard = f"CASE WHEN jsonb_typeof({value()}) = 'array' THEN {value()} ELSE '[]' END"
    values = _arg(element, compiler, 2, **kw)
    return (f"EXISTS (SELECT 1 FROM jsonb_array_elements(CAST({guard} AS JSONB)) "
            f"AS athena_item(v) WHERE athena_item.v IN "
            f"(SELECT jsonb_array_elements(CAST({values} AS JSONB))))")


@compiles(_JsonValueIsNull, "postgresql")
def _json_value_is_null_postgresql(element: _JsonValueIsNull, compiler: Any, **kw: Any
                                   ) -> str:
    column, key = (_arg(element, compiler, i, **kw) for i in range(2))
    return f"(({column} ->> CAST({key} AS TEXT)) IS NULL)"


@compiles(_JsonCompare, "postgresql")
def _json_compare_postgresql(element: _JsonCompare, compiler: Any, **kw: Any) -> str:
    def value() -> str:
        return _pg_value(_arg(element, compiler, 0, **kw), _arg(element, compiler, 1, **kw))

    if _is_string(element):
        text = (f"(CAST({_arg(element, compiler, 0, **kw)} AS JSONB) ->> "
                f"CAST({_arg(element, compiler, 1, **kw)} AS TEXT))")
        operand = _arg(element, compiler, 2, **kw)
        return (f"(jsonb_typeof({value()}) = 'string' AND {text} COLLATE \"C\" "
                f"{element.operator} CAST({operand} AS TEXT) COLLATE \"C\")")
    operand = _arg(element, compiler, 2, **kw)
    return (f"(jsonb_typeof({value()}) = 'number' AND {value()} {element.operator} "
            f"to_jsonb(CAST({operand} AS NUMERIC)))")


# SQLite: json_each decodes the stored keys, so any key (accents, quotes, dots)
# is found however the JSON text escapes it, unlike a '$."key"' path. Values compare
# in SQLite's BINARY collation: strings by UTF-8 bytes, which is code point order.

def _same_value(stored: str, wanted: str) -> str:
    """SQL: json_each rows ``stored`` and ``wanted`` hold equal scalars of agreeing types."""
    return (f"CASE WHEN {wanted}.type IN ('integer', 'real') "
            f"THEN {stored}.type IN ('integer', 'real') "
            f"ELSE {stored}.type = {wanted}.type END "
            f"AND {stored}.value = {wanted}.value")


@compiles(_JsonValueIn)
def _json_value_in_sqlite(element: _JsonValueIn, compiler: Any, **kw: Any) -> str:
    column, key, values = (_arg(element, compiler, i, **kw) for i in range(3))
    return (f"EXISTS (SELECT 1 FROM json_each({column}) AS athena_kv, "
            f"json_each({values}) AS athena_wanted "
            f"WHERE athena_kv.key = {key} AND {_same_value('athena_kv', 'athena_wanted')})")


@compiles(_JsonListContains)
def _json_list_contains_sqlite(element: _JsonListContains, compiler: Any, **kw: Any) -> str:
    column, key, values = (_arg(element, compiler, i, **kw) for i in range(3))
    # json_each of a non-list value would fail (its text is not JSON): only lists are read.
    return (f"EXISTS (SELECT 1 FROM json_each({column}) AS athena_kv, "
            f"json_each(CASE WHEN athena_kv.type = 'array' THEN athena_kv.value "
            f"ELSE '[]' END) AS athena_item, json_each({values}) AS athena_wanted "
            f"WHERE athena_kv.key = {key} AND athena_kv.type = 'array' "
            f"AND {_same_value('athena_item', 'athena_wanted')})")


@compiles(_JsonValueIsNull)
def _json_value_is_null_sqlite(element: _JsonValueIsNull, compiler: Any, **kw: Any) -> str:
    column, key = (_arg(element, compiler, i, **kw) for i in range(2))
    return (f"NOT EXISTS (SELECT 1 FROM json_each({column}) AS athena_kv "
            f"WHERE athena_kv.key = {key} AND athena_kv.type != 'null')")


@compiles(_JsonCompare)
def _json_compare_sqlite(element: _JsonCompare, compiler: Any, **kw: Any) -> str:
    column, key, operand = (_arg(element, compiler, i, **kw) for i in range(3))
    kinds = "('text')" if _is_string(element) else "('integer', 'real')"
    return (f"EXISTS (SELECT 1 FROM json_each({column}) AS athena_kv "
            f"WHERE athena_kv.key = {key} AND athena_kv.type IN {kinds} "
            f"AND athena_kv.value {element.operator} {operand})")
