"""The knowledge graph's rows: writes that only append, and the queries of two times.

Every function takes the SQLAlchemy session (writes) or connection (reads) of one
transaction and the scope it runs in; nothing here reaches another scope. Writes:

* :func:`assert_fact` stores a fact and applies supersession inside its *slot* - the
  same subject and predicate for a functional predicate, the same subject, predicate and
  value otherwise. Each believed fact of the slot whose valid interval overlaps the new
  one is retracted, and the parts of it outside the new interval are stored again as new
  facts (``derived_from`` the old one): the old record, and what was believed before,
  stay readable with ``as_of``. An open-ended new fact ends where the slot's next known
  fact begins (a late-arriving "from then on" does not overwrite what came after it).
  Facts of other subjects or other slots are never touched.
* :func:`retract` closes a fact's record interval; cascade rules mark the subject's
  dependent facts stale (:func:`mark_dependants`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, func, insert, or_, select, text, update
from sqlalchemy.orm import aliased

from athena_core import _ids
from athena_core.errors import (
    CascadeCycleError,
    GraphFactNotFoundError,
    GraphInputError,
    UnknownEntityError,
    UnknownRelationTypeError,
)
from athena_core.graph.model import Direction, Fact, entity_key
from athena_core.storage.models import (
    GraphAliasRow,
    GraphCascadeRow,
    GraphEntityRow,
    GraphFactRow,
    GraphFactSourceRow,
    GraphMentionRow,
    GraphStaleRow,
    GraphTypeRow,
    UTCDateTime,
)

__all__ = ["AS_OF", "AS_OF_PREDICATE", "MAX_PATH_DEPTH", "add_alias", "add_cascade",
           "add_entity", "as_of", "assert_fact", "cascade_rules", "check_predicate",
           "count_facts", "declare", "declared_types", "entity_names", "entity_pk", "fact",
           "fact_row", "forget_memories", "history", "mark_dependants", "neighbours", "path",
           "require_entity", "retract", "to_fact", "visible_clause"]

#: The deepest path search (each level multiplies the walks the database follows).
MAX_PATH_DEPTH = 6

_facts = GraphFactRow.__table__
_subject = aliased(GraphEntityRow, name="subject_entity")
_object = aliased(GraphEntityRow, name="object_entity")


# --- entities and declarations --------------------------------------------------------


_BY_NAME = select(GraphEntityRow.pk).where(GraphEntityRow.scope == bindparam("scope"),
                                            GraphEntityRow.key == bindparam("key"))
_BY_ALIAS = select(GraphAliasRow.entity_pk).where(GraphAliasRow.scope == bindparam("scope"),
                                                  GraphAliasRow.key == bindparam("key"))


def entity_pk(db: Any, scope: str, name: str) -> int | None:
    """The entity ``name`` is (its name or one of its aliases), or ``None``."""
    params = {"scope": scope, "key": entity_key(name)}
    found = db.execute(_BY_NAME, params).scalar()
    if found is None:
        found = db.execute(_BY_ALIAS, params).scalar()
    return None if found is None else int(found)


def require_entity(db: Any, scope: str, name: str, *, argument: str) -> int:
    """:func:`entity_pk`, or :class:`UnknownEntityError` naming ``argument``."""
    pk = entity_pk(db, scope, name)
    if pk is None:
        raise UnknownEntityError(
            f"{argument}: this scope's graph has no entity by that name or alias; "
            "relations and observations only link entities it holds.", argument=argument,
            hint="Create it first with graph.entity(name, type).")
    return pk


def add_entity(db: Any, scope: str, name: str, type: str, *, extracted: bool,
               now: datetime) -> tuple[int, bool]:
    """The entity named ``name`` (created with ``type`` if new) and whether it was created.
    An existing entity of another type raises :class:`GraphInputError`."""
    pk = entity_pk(db, scope, name)
    if pk is not None:
        existing = db.execute(select(GraphEntityRow.type, GraphEntityRow.extracted)
                              .where(GraphEntityRow.pk == pk)).one()
        if existing.type != type:
            raise GraphInputError(
                f"The entity is already of type {existing.type!r}, not {type!r}; an "
                "entity has one type.", argument="type",
                hint=f"Use type={existing.type!r}, or another name.")
        if existing.extracted and not extracted:  # a caller now vouches for it
            db.execute(update(GraphEntityRow).where(GraphEntityRow.pk == pk)
                       .values(extracted=False))
        return pk, False
    result = db.execute(insert(GraphEntityRow).values(
        scope=scope, key=entity_key(name), name=name, type=type, extracted=extracted,
        created_at=now))
    return int(result.inserted_primary_key[0]), True


def add_alias(db: Any, scope: str, pk: int, alias: str) -> None:
    """Make ``alias`` find entity ``pk``; an alias already naming another entity raises
    :class:`GraphInputError`."""
    other = entity_pk(db, scope, alias)
    if other == pk:
        return
    if other is not None:
        raise GraphInputError(
            "An alias already names another entity of this graph; a name finds one entity.",
            argument="aliases", hint="Leave that alias out, or merge the two entities.")
    db.execute(insert(GraphAliasRow).values(scope=scope, key=entity_key(alias), alias=alias,
                                            entity_pk=pk))


def declared_types(db: Any, scope: str) -> dict[str, bool]:
    """The scope's declared relation and observation types: name -> functional."""
    return {row.name: bool(row.functional) for row in db.execute(
        select(GraphTypeRow.name, GraphTypeRow.functional).where(GraphTypeRow.scope == scope))}


def declare(db: Any, scope: str, name: str, *, functional: bool, now: datetime) -> bool:
    """Declare type ``name``; ``False`` if it already was, alike. Declaring it again with
    another ``functional`` raises :class:`GraphInputError` (its facts were stored under the
    first declaration)."""
    existing = declared_types(db, scope).get(name)
    if existing is not None:
        if existing != functional:
            raise GraphInputError(
                f"Type {name!r} is already declared with functional={existing}; a type's "
                "supersession rule cannot change once facts may use it.",
                argument="functional", hint="Declare a type of another name.")
        return False
    db.execute(insert(GraphTypeRow).values(scope=scope, name=name, functional=functional,
                                           created_at=now))
    return True


def check_predicate(db: Any, scope: str, predicate: str) -> bool:
    """Whether ``predicate`` is functional. When the scope declares types, an undeclared
    one raises :class:`UnknownRelationTypeError` listing them."""
    types = declared_types(db, scope)
    if types and predicate not in types:
        shown = ", ".join(sorted(types)[:20])
        raise UnknownRelationTypeError(
            f"Type {predicate!r} is not declared in this scope's graph; declared: {shown}.",
            argument="predicate", hint="Use a declared type, or declare it with "
                                       "graph.declare(name, functional=...).")
    return types.get(predicate, False)


def cascade_rules(db: Any, scope: str) -> list[tuple[str, str]]:
    """The scope's cascade rules as (trigger, dependent) pairs."""
    return [(row.trigger, row.dependent) for row in db.execute(
        select(GraphCascadeRow.trigger, GraphCascadeRow.dependent)
        .where(GraphCascadeRow.scope == scope)
        .order_by(GraphCascadeRow.trigger, GraphCascadeRow.dependent))]


def add_cascade(db: Any, scope: str, trigger: str, dependent: str, *, now: datetime) -> bool:
    """Add the rule "a change of ``trigger`` makes ``dependent`` stale"; ``False`` if it
    exists. A rule closing a cycle raises :class:`CascadeCycleError` giving the cycle."""
    rules = cascade_rules(db, scope)
    if (trigger, dependent) in rules:
        return False
    cycle = _cycle([*rules, (trigger, dependent)], start=trigger)
    if cycle:
        raise CascadeCycleError(
            f"The rule {trigger!r} -> {dependent!r} would close the cycle "
            f"{' -> '.join(cycle)}; cascade rules must not lead back to their trigger.",
            argument="dependent", hint="Leave one rule of the cycle out.")
    db.execute(insert(GraphCascadeRow).values(scope=scope, trigger=trigger,
                                              dependent=dependent, created_at=now))
    return True


def _cycle(rules: Sequence[tuple[str, str]], *, start: str) -> list[str]:
    """A path of ``rules`` from ``start`` back to it, or ``[]``."""
    following: dict[str, list[str]] = {}
    for trigger, dependent in rules:
        following.setdefault(trigger, []).append(dependent)
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, trail = stack.pop()
        for nxt in following.get(node, []):
            if nxt == start:
                return [*trail, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*trail, nxt]))
    return []


def _dependants(rules: Sequence[tuple[str, str]], predicate: str) -> set[str]:
    """Every type a change of ``predicate`` makes stale, through chained rules."""
    found: set[str] = set()
    todo = [predicate]
    while todo:
        current = todo.pop()
        for trigger, dependent in rules:
            if trigger == current and dependent not in found:
                found.add(dependent)
                todo.append(dependent)
    return found


# --- writes ---------------------------------------------------------------------------


def assert_fact(db: Any, scope: str, *, subject_pk: int, predicate: str, object_pk: int | None,
                value: Any, attributes: Mapping[str, Any], valid_from: datetime,
                valid_to: datetime | None, now: datetime, functional: bool,
                sources: Iterable[int] = (), derived_from: str | None = None) -> str:
    """Store one fact with supersession in its slot (see the module docstring); return its
    id. ``sources`` are memory keys that asserted it."""
    believed = select(_facts).where(_facts.c.subject_pk == subject_pk,
                                    _facts.c.predicate == predicate,
                                    _facts.c.retracted_at.is_(None))
    if not functional:
        believed = believed.where(_facts.c.object_pk.is_(None) if object_pk is None
                                  else _facts.c.object_pk == object_pk)

    def in_slot(row: Any) -> bool:
        return functional or row.value == value  # JSON values compare here, not in SQL

    if valid_to is None:  # "from then on" ends where the slot's next known fact begins
        later = db.execute(believed.where(_facts.c.valid_from > valid_from)
                           .order_by(_facts.c.valid_from))
        valid_to = next((row.valid_from for row in later if in_slot(row)), None)
    overlapping = believed.where(or_(_facts.c.valid_to.is_(None),
                                     _facts.c.valid_to > valid_from))
    if valid_to is not None:
        overlapping = overlapping.where(_facts.c.valid_from < valid_to)
    new_id = _ids.new_id()
    for row in db.execute(overlapping.order_by(_facts.c.pk)).all():
        if in_slot(row):
            _retract_row(db, row.pk, now=now, by=new_id, reason=None)
            kept = _sources(db, row.pk)
            for start, end in _outside(row.valid_from, row.valid_to, valid_from, valid_to):
                _insert(db, scope, subject_pk=subject_pk, predicate=predicate,
                        object_pk=row.object_pk, value=row.value, attributes=row.attributes,
                        valid_from=start, valid_to=end, now=now, derived_from=row.id,
                        fact_id=_ids.new_id(), sources=kept)
    _insert(db, scope, subject_pk=subject_pk, predicate=predicate, object_pk=object_pk,
            value=value, attributes=dict(attributes), valid_from=valid_from, valid_to=valid_to,
            now=now, derived_from=derived_from, fact_id=new_id, sources=sources)
    mark_dependants(db, scope, subject_pk=subject_pk, predicate=predicate, since=valid_from,
                    cause=new_id, now=now)
    return new_id


def retract(db: Any, scope: str, fact_id: str, *, now: datetime, reason: str | None
            ) -> Any:
    """Retract believed fact ``fact_id`` (its record interval ends at ``now``) and mark its
    dependants stale; return its row. An unknown id raises
    :class:`GraphFactNotFoundError`, a retracted one :class:`GraphInputError`."""
    row = fact_row(db, scope, fact_id)
    if row.retracted_at is not None:
        by = f" (superseded by {row.retracted_by})" if row.retracted_by else ""
        raise GraphInputError(
            f"Fact {fact_id!r} is already retracted{by}; only a fact still believed can be "
            "retracted or corrected.", argument="id",
            hint="graph.history(entity) lists the facts that replaced it.")
    _retract_row(db, row.pk, now=now, by=None, reason=reason)
    mark_dependants(db, scope, subject_pk=row.subject_pk, predicate=row.predicate,
                    since=row.valid_from, cause=row.id, now=now)
    return row


def fact_row(db: Any, scope: str, fact_id: str) -> Any:
    """The row of fact ``fact_id`` in ``scope``; :class:`GraphFactNotFoundError` if none."""
    row = db.execute(select(_facts).where(_facts.c.scope == scope,
                                          _facts.c.id == fact_id)).first()
    if row is None:
        raise GraphFactNotFoundError(f"No fact {fact_id!r} in scope {scope!r}.")
    return row


def mark_dependants(db: Any, scope: str, *, subject_pk: int, predicate: str,
                    since: datetime, cause: str, now: datetime) -> int:
    """Mark stale the subject's believed facts of the types a change of ``predicate``
    makes stale (through chained rules) whose valid interval reaches past ``since``;
    return how many."""
    dependants = _dependants(cascade_rules(db, scope), predicate)
    if not dependants:
        return 0
    keys = [row.pk for row in db.execute(select(_facts.c.pk).where(
        _facts.c.subject_pk == subject_pk, _facts.c.predicate.in_(sorted(dependants)),
        _facts.c.retracted_at.is_(None),
        or_(_facts.c.valid_to.is_(None), _facts.c.valid_to > since)))]
    if keys:
        db.execute(insert(GraphStaleRow), [{"fact_pk": key, "cause": cause, "marked_at": now}
                                           for key in keys])
    return len(keys)


def forget_memories(db: Any, scope: str, memory_keys: Sequence[int], *,
                    everything: bool = False) -> int:
    """Before memories ``memory_keys`` are deleted: delete the facts that only they
    asserted and the extracted entities that only they mention (and nothing of them holds
    a fact); with ``everything``, the scope's whole graph. Returns how many facts went."""
    if everything:
        gone = count_facts(db, scope)
        for table in (GraphEntityRow, GraphTypeRow, GraphCascadeRow):
            db.execute(delete(table).where(table.scope == scope))  # facts cascade
        return gone
    if not memory_keys:
        return 0
    keys = sorted(memory_keys)
    asserted = select(GraphFactSourceRow.fact_pk).where(GraphFactSourceRow.memory_pk.in_(keys))
    others = select(GraphFactSourceRow.fact_pk).where(
        GraphFactSourceRow.memory_pk.not_in(keys))
    only = [row[0] for row in db.execute(
        select(_facts.c.pk).where(_facts.c.scope == scope, _facts.c.pk.in_(asserted),
                                  _facts.c.pk.not_in(others)))]
    if only:
        db.execute(delete(GraphFactRow).where(GraphFactRow.pk.in_(only)))
    mentioned = select(GraphMentionRow.entity_pk).where(GraphMentionRow.memory_pk.in_(keys))
    elsewhere = select(GraphMentionRow.entity_pk).where(GraphMentionRow.memory_pk.not_in(keys))
    used = select(_facts.c.subject_pk).union(
        select(_facts.c.object_pk).where(_facts.c.object_pk.is_not(None)))
    db.execute(delete(GraphEntityRow).where(
        GraphEntityRow.scope == scope, GraphEntityRow.extracted.is_(True),
        GraphEntityRow.pk.in_(mentioned), GraphEntityRow.pk.not_in(elsewhere),
        GraphEntityRow.pk.not_in(used)))
    return len(only)


def forget_subject(db: Any, scope: str, forms: Sequence[str]) -> int:
    """For ``forget(subject=...)``: delete every entity of ``scope`` whose name or alias
    holds one of ``forms`` (the value, its placeholder) with every fact about or toward it,
    and every fact whose value, attributes or reason holds one. Returns how many entities
    and facts went."""
    from sqlalchemy import Text, cast

    def holding(column: Any) -> Any:
        text_form = cast(column, Text)
        return or_(*(condition for form in forms for condition in (
            text_form.contains(form, autoescape=True),
            text_form.contains(json.dumps(form)[1:-1], autoescape=True))))

    named = select(GraphAliasRow.entity_pk).where(GraphAliasRow.scope == scope,
                                                  holding(GraphAliasRow.alias))
    entities = [row[0] for row in db.execute(select(GraphEntityRow.pk).where(
        GraphEntityRow.scope == scope,
        or_(holding(GraphEntityRow.name), GraphEntityRow.pk.in_(named))))]
    facts = [row[0] for row in db.execute(select(_facts.c.pk).where(
        _facts.c.scope == scope,
        or_(_facts.c.subject_pk.in_(entities), _facts.c.object_pk.in_(entities),
            holding(_facts.c.value), holding(_facts.c.attributes),
            holding(_facts.c.reason))))]
    if facts:
        db.execute(delete(GraphFactRow).where(GraphFactRow.pk.in_(facts)))
    if entities:
        db.execute(delete(GraphEntityRow).where(GraphEntityRow.pk.in_(entities)))
    return len(entities) + len(facts)


def _sources(db: Any, fact_pk: int) -> list[int]:
    return [row[0] for row in db.execute(select(GraphFactSourceRow.memory_pk)
                                         .where(GraphFactSourceRow.fact_pk == fact_pk))]


def _retract_row(db: Any, pk: int, *, now: datetime, by: str | None, reason: str | None
                 ) -> None:
    # The one change a stored fact ever sees: its record interval closes, once.
    db.execute(update(GraphFactRow).where(GraphFactRow.pk == pk,
                                          GraphFactRow.retracted_at.is_(None))
               .values(retracted_at=now, retracted_by=by, reason=reason))


def _insert(db: Any, scope: str, *, subject_pk: int, predicate: str, object_pk: int | None,
            value: Any, attributes: Mapping[str, Any], valid_from: datetime,
            valid_to: datetime | None, now: datetime, derived_from: str | None,
            fact_id: str, sources: Iterable[int]) -> int:
    result = db.execute(insert(GraphFactRow).values(
        id=fact_id, scope=scope, subject_pk=subject_pk, predicate=predicate,
        object_pk=object_pk, value=value, attributes=dict(attributes), valid_from=valid_from,
        valid_to=valid_to, recorded_at=now, derived_from=derived_from))
    pk = int(result.inserted_primary_key[0])
    rows = [{"fact_pk": pk, "memory_pk": key} for key in dict.fromkeys(sources)]
    if rows:
        db.execute(insert(GraphFactSourceRow), rows)
    return pk


def _outside(old_from: datetime, old_to: datetime | None, new_from: datetime,
             new_to: datetime | None) -> list[tuple[datetime, datetime | None]]:
    """The parts of [old_from, old_to) outside [new_from, new_to)."""
    parts: list[tuple[datetime, datetime | None]] = []
    if old_from < new_from:
        parts.append((old_from, new_from))
    if new_to is not None and (old_to is None or old_to > new_to):
        parts.append((new_to, old_to))
    return parts


# --- reads ----------------------------------------------------------------------------


def _fact_columns(record_time: Any) -> list[Any]:
    stale = exists().where(GraphStaleRow.fact_pk == _facts.c.pk)
    if record_time is not None:
        stale = stale.where(GraphStaleRow.marked_at <= record_time)
    return [_facts, _subject.name.label("subject_name"), _object.name.label("object_name"),
            stale.label("is_stale")]


def _joined(query: Any) -> Any:
    return (query.join(_subject, _subject.pk == _facts.c.subject_pk)
            .outerjoin(_object, _object.pk == _facts.c.object_pk))


def visible_clause(valid_time: Any, record_time: Any) -> Any:
    """The SQL form of :func:`athena_core.graph.model.visible`."""
    return and_(_facts.c.recorded_at <= record_time,
                or_(_facts.c.retracted_at.is_(None), _facts.c.retracted_at > record_time),
                _facts.c.valid_from <= valid_time,
                or_(_facts.c.valid_to.is_(None), _facts.c.valid_to > valid_time))


def to_fact(row: Any) -> Fact:
    """A :class:`Fact` from a row of :func:`_fact_columns`."""
    return Fact(id=row.id, subject=row.subject_name, predicate=row.predicate,
                object=row.object_name, value=row.value, attributes=dict(row.attributes or {}),
                valid_from=row.valid_from, valid_to=row.valid_to, recorded_at=row.recorded_at,
                retracted_at=row.retracted_at, retracted_by=row.retracted_by,
                derived_from=row.derived_from, reason=row.reason, stale=bool(row.is_stale))


_VALID = bindparam("valid_time", type_=UTCDateTime())
_RECORD = bindparam("record_time", type_=UTCDateTime())
_AS_OF = _joined(select(*_fact_columns(_RECORD)).select_from(_facts)).where(
    _facts.c.subject_pk == bindparam("subject"), _facts.c.scope == bindparam("scope"),
    visible_clause(_VALID, _RECORD))
_ORDER = (_facts.c.predicate, _facts.c.valid_from, _facts.c.pk)
#: ``as_of`` of one subject (all its types, or one): built once, run with parameters.
AS_OF = _AS_OF.order_by(*_ORDER)
AS_OF_PREDICATE = _AS_OF.where(_facts.c.predicate == bindparam("predicate")).order_by(*_ORDER)


def as_of(db: Any, scope: str, subject_pk: int, *, valid_time: datetime,
          record_time: datetime, predicate: str | None = None) -> list[Fact]:
    """The subject's facts believed at ``record_time`` to hold at ``valid_time``."""
    params = {"subject": subject_pk, "scope": scope, "valid_time": valid_time,
              "record_time": record_time, "predicate": predicate}
    query = AS_OF if predicate is None else AS_OF_PREDICATE
    return [to_fact(row) for row in db.execute(query, params)]


def fact(db: Any, scope: str, fact_id: str) -> Fact:
    """Fact ``fact_id`` as stored (its stale flag: marked at any time)."""
    row = db.execute(_joined(select(*_fact_columns(None)).select_from(_facts)).where(
        _facts.c.scope == scope, _facts.c.id == fact_id)).first()
    if row is None:
        raise GraphFactNotFoundError(f"No fact {fact_id!r} in scope {scope!r}.")
    return to_fact(row)


def history(db: Any, scope: str, subject_pk: int, *, predicate: str | None = None
            ) -> list[Fact]:
    """Every fact ever stored about the subject (retracted ones too), in record order."""
    conditions = [_facts.c.subject_pk == subject_pk, _facts.c.scope == scope]
    if predicate is not None:
        conditions.append(_facts.c.predicate == predicate)
    query = _joined(select(*_fact_columns(None)).select_from(_facts)).where(
        *conditions).order_by(_facts.c.recorded_at, _facts.c.pk)
    return [to_fact(row) for row in db.execute(query)]


def neighbours(db: Any, scope: str, pk: int, *, valid_time: datetime, record_time: datetime,
               predicate: str | None, direction: Direction) -> list[dict[str, Any]]:
    """The entities linked to entity ``pk`` by relations visible at the two times: each
    with ``entity``, ``type``, ``predicate``, ``direction`` and ``fact`` (its id)."""
    found: list[dict[str, Any]] = []
    sides = {"out": [("out", _facts.c.subject_pk, _facts.c.object_pk)],
             "in": [("in", _facts.c.object_pk, _facts.c.subject_pk)]}
    for name, here, there in sides.get(direction, [*sides["out"], *sides["in"]]):
        query = (select(GraphEntityRow.name, GraphEntityRow.type, _facts.c.predicate,
                        _facts.c.id)
                 .select_from(_facts).join(GraphEntityRow, GraphEntityRow.pk == there)
                 .where(_facts.c.scope == scope, here == pk, _facts.c.object_pk.is_not(None),
                        visible_clause(valid_time, record_time))
                 .order_by(_facts.c.predicate, GraphEntityRow.name))
        if predicate is not None:
            query = query.where(_facts.c.predicate == predicate)
        found += [{"entity": row.name, "type": row.type, "predicate": row.predicate,
                   "direction": name, "fact": row.id} for row in db.execute(query)]
    return found


_PATH_SQL = """
WITH RECURSIVE edges(here, there, fact) AS (
    SELECT subject_pk, object_pk, id FROM graph_facts WHERE {visible}
    {reverse}
), walk(node, depth, nodes, facts) AS (
    SELECT CAST(:source AS INTEGER), 0, CAST(',' || CAST(:source AS TEXT) || ',' AS TEXT),
           CAST('' AS TEXT)
    UNION ALL
    SELECT e.there, w.depth + 1, CAST(w.nodes || CAST(e.there AS TEXT) || ',' AS TEXT),
           CAST(w.facts || e.fact || ',' AS TEXT)
    FROM walk w JOIN edges e ON e.here = w.node
    WHERE w.depth < :max_depth AND w.node <> :target
      AND w.nodes NOT LIKE '%,' || CAST(e.there AS TEXT) || ',%'
)
SELECT nodes, facts FROM walk WHERE node = :target ORDER BY depth, nodes LIMIT 1
"""
_EDGE_FILTER = ("scope = :scope AND object_pk IS NOT NULL AND recorded_at <= :record_time "
                "AND (retracted_at IS NULL OR retracted_at > :record_time) "
                "AND valid_from <= :valid_time AND (valid_to IS NULL OR valid_to > :valid_time)"
                "{predicate}")


def path(db: Any, scope: str, source: int, target: int, *, valid_time: datetime,
         record_time: datetime, max_depth: int, directed: bool,
         predicates: Sequence[str] | None) -> tuple[list[int], list[str]] | None:
    """A shortest path from entity ``source`` to ``target`` over relations visible at the
    two times, found with a recursive query (``WITH RECURSIVE``, on SQLite and
    PostgreSQL): its entity keys and fact ids, or ``None`` within ``max_depth`` steps."""
    params: dict[str, Any] = {"scope": scope, "source": source, "target": target,
                              "max_depth": max_depth, "valid_time": valid_time,
                              "record_time": record_time}
    wanted = ""
    if predicates:
        names = {f"p{i}": name for i, name in enumerate(predicates)}
        params.update(names)
        wanted = f" AND predicate IN ({', '.join(':' + key for key in names)})"
    visible = _EDGE_FILTER.format(predicate=wanted)
    reverse = "" if directed else (
        f"UNION ALL SELECT object_pk, subject_pk, id FROM graph_facts WHERE {visible}")
    statement = text(_PATH_SQL.format(visible=visible, reverse=reverse)).bindparams(
        bindparam("valid_time", type_=UTCDateTime()),
        bindparam("record_time", type_=UTCDateTime()))
    row = db.execute(statement, params).first()
    if row is None:
        return None
    nodes = [int(part) for part in row.nodes.strip(",").split(",")]
    facts = [part for part in row.facts.strip(",").split(",") if part]
    return nodes, facts


def entity_names(db: Any, keys: Iterable[int]) -> dict[int, tuple[str, str]]:
    """Name and type of each entity of ``keys``."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    return {row.pk: (row.name, row.type) for row in db.execute(
        select(GraphEntityRow.pk, GraphEntityRow.name, GraphEntityRow.type)
        .where(GraphEntityRow.pk.in_(wanted)))}


def count_facts(db: Any, scope: str) -> int:
    """How many facts (believed or not) the scope's graph holds."""
    return int(db.execute(select(func.count()).select_from(_facts)
                          .where(_facts.c.scope == scope)).scalar() or 0)
