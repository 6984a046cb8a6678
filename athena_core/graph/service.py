"""``athena.graph``: the knowledge graph of one Athena instance, as operations.

:class:`Graph` is the owner object of the API registry's ``graph`` namespace, so host
applications, sandboxed programs (the ``athena`` module), classic MCP, discovery and the
CLI offer the same calls, each declared once with :func:`~athena_core.api.operation`,
bound to the caller's scope and checked against its permissions.

Facts live in two times (see :mod:`athena_core.graph.model`): ``as_of(entity,
valid_time=..., record_time=...)`` answers "what was true then" and "what did we believe
then"; ``current`` is ``as_of`` now and now, so it never returns a retracted or
superseded fact. Writes only append (:mod:`athena_core.graph.store`). Names, values and
attributes are stored as the privacy pipeline conceals them (placeholders for sensitive
values), like memories.
"""

from __future__ import annotations

import builtins
import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from athena_core._time import as_utc, utcnow
from athena_core.api import operation
from athena_core.api.limits import ArgumentLimits
from athena_core.errors import GraphInputError, InvalidArgumentError, MemoryNotFoundError
from athena_core.graph import store as rows
from athena_core.graph.extraction import Proposal, Rejected, Validated, rule_proposals, validate
from athena_core.graph.model import (
    MAX_NAME_CHARS,
    MAX_PREDICATE_CHARS,
    MAX_TYPE_CHARS,
    check_interval,
    check_label,
    entity_key,
)
from athena_core.memory.values import Hit

if TYPE_CHECKING:
    from athena_core.memory import MemoryStore
    from athena_core.runtime import Athena

__all__ = ["Graph"]

_NAME = ArgumentLimits(max_chars=MAX_NAME_CHARS, why="entity names")
_LIMITS = {name: _NAME for name in ("entity", "subject", "object", "source", "target",
                                    "name")}
_LIMITS["entities"] = ArgumentLimits(max_chars=MAX_NAME_CHARS, max_items=1_000,
                                     why="entity names")
_LIMITS["attributes"] = ArgumentLimits(max_chars=10_000, max_items=100,
                                       why="a fact's attributes")
_LIMITS["value"] = ArgumentLimits(max_chars=10_000, max_items=100, why="an observed value")
_TICK = timedelta(microseconds=1)


class Graph:
    """The ``graph`` operations of one :class:`~athena_core.Athena` instance."""

    api_namespace = "graph"

    def __init__(self, athena: Athena) -> None:
        self._athena = athena
        self._clock = threading.Lock()
        self._last = datetime.min.replace(tzinfo=utcnow().tzinfo)

    # --- declarations -----------------------------------------------------------------

    @operation(permissions="write", limits=_LIMITS)
    def entity(self, name: str, type: str = "thing", *, aliases: Sequence[str] = (),
               scope: str | None = None) -> dict[str, Any]:
        """Create entity ``name`` of ``type`` (or find it: by its name or an alias, case
        and spacing aside) and add ``aliases``. Returns ``name``, ``type``, ``aliases``
        and ``created``. An entity has one type: another raises ``GraphInputError``."""
        name = check_label(name, argument="name", limit=MAX_NAME_CHARS, what="an entity name")
        type = check_label(type, argument="type", limit=MAX_TYPE_CHARS, what="an entity type")
        names = [check_label(a, argument="aliases", limit=MAX_NAME_CHARS, what="an alias")
                 for a in aliases]
        store = self._store()
        scope = store.scope(scope)
        with store.transaction() as tx:
            now = self._now()
            pk, created = rows.add_entity(tx.session, scope, tx.conceal(name, scope=scope),
                                          type, extracted=False, now=now)
            for alias in names:
                rows.add_alias(tx.session, scope, pk, tx.conceal(alias, scope=scope))
            return {**self._entity(tx.session, pk), "created": created}

    @operation(permissions="write", limits={"type": ArgumentLimits(
        max_chars=MAX_PREDICATE_CHARS, why="relation types")})
    def declare(self, type: str, *, functional: bool = False,
                scope: str | None = None) -> dict[str, Any]:
        """Declare relation or observation type ``type``. A ``functional`` one holds one
        value at a time per subject (``lives_in``): a new fact supersedes the subject's
        overlapping ones. Others accumulate. Once a scope declares types, facts of
        undeclared types are refused (``UnknownRelationTypeError``). Returns ``type``,
        ``functional`` and ``created``."""
        type = _predicate(type, argument="type")
        store = self._store()
        scope = store.scope(scope)
        with store.transaction() as tx:
            created = rows.declare(tx.session, scope, type, functional=functional,
                                   now=self._now())
        return {"type": type, "functional": functional, "created": created}

    @operation(permissions="write")
    def cascade(self, trigger: str, dependent: str, *,
                scope: str | None = None) -> dict[str, Any]:
        """Declare that a change of a subject's ``trigger`` facts (a new one, a
        correction, a retraction) makes its ``dependent`` facts stale from then on
        (``cascade("lives_in", "commute_time")``); rules chain. A rule closing a cycle
        raises ``CascadeCycleError``. Stale facts are still returned, with
        ``stale: true``. Returns ``rules``: every rule of the scope."""
        trigger = _predicate(trigger, argument="trigger")
        dependent = _predicate(dependent, argument="dependent")
        if trigger == dependent:
            raise GraphInputError(f"A type cannot make itself stale ({trigger!r}).",
                                  argument="dependent", hint="Name another type.")
        store = self._store()
        scope = store.scope(scope)
        with store.transaction() as tx:
            for name, argument in ((trigger, "trigger"), (dependent, "dependent")):
                _check_declared(tx.session, scope, name, argument)
            rows.add_cascade(tx.session, scope, trigger, dependent, now=self._now())
            rules = rows.cascade_rules(tx.session, scope)
        return {"rules": [{"trigger": t, "dependent": d} for t, d in rules]}

    # --- assertions -------------------------------------------------------------------

    @operation(permissions="write", limits=_LIMITS)
    def relate(self, subject: str, predicate: str, object: str, *,
               valid_from: datetime | None = None, valid_to: datetime | None = None,
               attributes: Mapping[str, Any] | None = None,
               scope: str | None = None) -> dict[str, Any]:
        """Assert that ``subject`` -``predicate``-> ``object`` holds over [``valid_from``
        (default now), ``valid_to`` (default: until further notice)). Both entities must
        exist (``UnknownEntityError``); ``valid_to`` must be after ``valid_from``
        (``InvalidIntervalError``). For a functional type, the subject's overlapping facts
        of that type are superseded: retracted, and their parts outside the new interval
        stored again. Returns the new fact."""
        return self._assert(subject, predicate, object_name=object, value=None,
                            valid_from=valid_from, valid_to=valid_to,
                            attributes=attributes, scope=scope)

    @operation(permissions="write", limits=_LIMITS)
    def observe(self, subject: str, attribute: str, value: str | int | float | bool, *,
                valid_from: datetime | None = None, valid_to: datetime | None = None,
                attributes: Mapping[str, Any] | None = None,
                scope: str | None = None) -> dict[str, Any]:
        """Record that ``subject``'s ``attribute`` is ``value`` over [``valid_from``,
        ``valid_to``), as ``relate`` does for relations (same rules, same supersession:
        a functional ``attribute`` has one value at a time). Returns the new fact."""
        return self._assert(subject, attribute, object_name=None, value=value,
                            valid_from=valid_from, valid_to=valid_to,
                            attributes=attributes, scope=scope)

    @operation(permissions="write")
    def retract(self, id: str, *, reason: str | None = None,
                scope: str | None = None) -> dict[str, Any]:
        """Stop believing fact ``id`` from now on: it stays in ``history`` and in
        ``as_of`` answers about earlier record times. Cascade rules mark its subject's
        dependent facts stale. Returns the fact as retracted."""
        store = self._store()
        scope = store.scope(scope)
        with store.transaction() as tx:
            row = rows.retract(tx.session, scope, id, now=self._now(),
                               reason=_reason(tx.conceal(reason, scope=scope)))
            return self._fact(tx.session, scope, row.id)

    @operation(permissions="write", limits=_LIMITS)
    def correct(self, id: str, *, object: str | None = None,
                value: str | int | float | bool | None = None,
                valid_from: datetime | None = None, valid_to: datetime | None = None,
                reason: str | None = None, scope: str | None = None) -> dict[str, Any]:
        """Correct fact ``id``: retract it and assert its corrected form (the given
        ``object`` or ``value``, ``valid_from``, ``valid_to``; the rest as it was) in one
        transaction. What was believed before stays readable with ``as_of``. Returns the
        corrected fact (its ``derived_from`` is ``id``)."""
        store = self._store()
        scope = store.scope(scope)
        with store.transaction() as tx:
            old = rows.fact_row(tx.session, scope, id)
            if (old.object_pk is None and object is not None) or \
                    (old.object_pk is not None and value is not None):
                raise GraphInputError(
                    "A relation is corrected with object=, an observation with value=.",
                    argument="object" if object is not None else "value")
            now = self._now()
            start, end = check_interval(valid_from or old.valid_from,
                                        valid_to if valid_to is not None else old.valid_to,
                                        default_from=now)
            object_pk = old.object_pk if object is None else rows.require_entity(
                tx.session, scope, store.conceal_query(object, scope=scope), argument="object")
            functional = rows.check_predicate(tx.session, scope, old.predicate)
            rows.retract(tx.session, scope, id, now=now,
                         reason=_reason(tx.conceal(reason, scope=scope)))
            new_id = rows.assert_fact(
                tx.session, scope, subject_pk=old.subject_pk, predicate=old.predicate,
                object_pk=object_pk,
                value=old.value if value is None else tx.conceal(value, scope=scope),
                attributes=old.attributes or {}, valid_from=start, valid_to=end, now=now,
                functional=functional, derived_from=old.id)
            return self._fact(tx.session, scope, new_id)

    # --- queries ----------------------------------------------------------------------

    @operation(limits=_LIMITS)
    def as_of(self, entity: str, *, valid_time: datetime | None = None,
              record_time: datetime | None = None, predicate: str | None = None,
              scope: str | None = None) -> builtins.list[dict[str, Any]]:
        """``entity``'s facts (as subject) that Athena believed at ``record_time`` to hold
        at ``valid_time`` (each default: now), of type ``predicate`` if given: "what was
        true then" (``valid_time``) as "we knew it then" (``record_time``)."""
        valid, recorded = _times(valid_time, record_time)
        with self._reading(scope, entity=entity) as (db, scope, keys):
            facts = rows.as_of(db, scope, keys["entity"], valid_time=valid,
                               record_time=recorded, predicate=predicate)
        return [fact.to_dict() for fact in facts]

    @operation(limits=_LIMITS)
    def current(self, entity: str, *, predicate: str | None = None,
                scope: str | None = None) -> builtins.list[dict[str, Any]]:
        """``entity``'s facts true now as Athena believes now: never a retracted or
        superseded one (stale ones are marked ``stale: true``)."""
        return self.as_of(entity, predicate=predicate, scope=scope)

    @operation(limits=_LIMITS)
    def history(self, entity: str, *, predicate: str | None = None,
                scope: str | None = None) -> builtins.list[dict[str, Any]]:
        """Every fact ever recorded about ``entity`` (as subject), of type ``predicate`` if
        given, in the order they were recorded, retracted ones included: each with its
        valid interval, ``recorded_at``, ``retracted_at``, ``retracted_by`` (the fact
        that superseded it) and ``derived_from`` (the fact it corrects or is left of)."""
        with self._reading(scope, entity=entity) as (db, scope, keys):
            return [fact.to_dict() for fact in rows.history(db, scope, keys["entity"],
                                                             predicate=predicate)]

    @operation(limits=_LIMITS)
    def neighbours(self, entity: str, *, predicate: str | None = None,
                   direction: Literal["out", "in", "both"] = "both",
                   valid_time: datetime | None = None, record_time: datetime | None = None,
                   scope: str | None = None) -> builtins.list[dict[str, Any]]:
        """The entities ``entity`` is related to by relations holding at ``valid_time``
        as believed at ``record_time`` (each default: now): ``entity``, ``type``,
        ``predicate``, ``direction`` (``out``: ``entity`` is the subject) and ``fact``."""
        valid, recorded = _times(valid_time, record_time)
        with self._reading(scope, entity=entity) as (db, scope, keys):
            return rows.neighbours(db, scope, keys["entity"], valid_time=valid,
                                   record_time=recorded, predicate=predicate,
                                   direction=direction)

    @operation(limits=_LIMITS)
    def path(self, source: str, target: str, *, max_depth: int = 4, directed: bool = False,
             predicates: Sequence[str] | None = None, valid_time: datetime | None = None,
             record_time: datetime | None = None,
             scope: str | None = None) -> dict[str, Any] | None:
        """A shortest chain of relations from ``source`` to ``target`` of at most
        ``max_depth`` (1 to 6) steps, following relations either way unless ``directed``,
        of the ``predicates`` if given, holding at the two times: ``entities`` (names,
        ``source`` first) and ``facts`` (the relations' ids); ``None`` if there is none."""
        if not 1 <= max_depth <= rows.MAX_PATH_DEPTH:
            raise InvalidArgumentError(
                f"max_depth must be 1 to {rows.MAX_PATH_DEPTH}.", argument="max_depth")
        valid, recorded = _times(valid_time, record_time)
        with self._reading(scope, source=source, target=target) as (db, scope, keys):
            found = rows.path(db, scope, keys["source"], keys["target"], valid_time=valid,
                              record_time=recorded, max_depth=max_depth, directed=directed,
                              predicates=list(predicates) if predicates else None)
            if found is None:
                return None
            names = rows.entity_names(db, found[0])
        return {"entities": [names[key][0] for key in found[0]], "facts": found[1]}

    @operation(limits=_LIMITS)
    def subgraph(self, entities: Sequence[str], *, depth: int = 1,
                 format: Literal["json", "graphml"] = "json",
                 valid_time: datetime | None = None, record_time: datetime | None = None,
                 scope: str | None = None) -> Any:
        """The entities within ``depth`` (0 to 3) relations of ``entities`` and the
        relations and observations among them holding at the two times: JSON
        (``{"nodes": [...], "edges": [...], "observations": [...]}``) or, with
        ``format="graphml"``, a GraphML document (a string)."""
        from athena_core.graph.formats import collect_subgraph, to_graphml

        if not 0 <= depth <= 3:
            raise InvalidArgumentError("depth must be 0 to 3.", argument="depth")
        valid, recorded = _times(valid_time, record_time)
        with self._reading(scope) as (db, scope, _):
            store = self._store()
            start = [rows.require_entity(db, scope, store.conceal_query(name, scope=scope),
                                         argument="entities") for name in entities]
            graph = collect_subgraph(db, scope, start, depth=depth, valid_time=valid,
                                     record_time=recorded)
        return to_graphml(graph) if format == "graphml" else graph

    @operation()
    def communities(self, *, valid_time: datetime | None = None,
                    record_time: datetime | None = None,
                    scope: str | None = None) -> builtins.list[builtins.list[str]]:
        """Groups of closely related entities (modularity communities of the relations
        holding at the two times), largest first, each a sorted list of names. Needs the
        optional ``networkx`` package (``pip install 'athena-core[graph]'``); without it,
        ``MissingExtraError``."""
        from athena_core.graph.formats import communities

        valid, recorded = _times(valid_time, record_time)
        with self._reading(scope) as (db, scope, _):
            return communities(db, scope, valid_time=valid, record_time=recorded)

    # --- extraction and memories -----------------------------------------------------

    @operation()
    def extract(self, text: str, *, scope: str | None = None) -> dict[str, Any]:
        """What would be written from ``text``: the ``entities`` and ``relations`` the
        rules and the installed proposal plugins found that pass validation, and what
        was ``rejected`` and why. Writes nothing (``link`` writes a memory's)."""
        store = self._store()
        scope = store.scope(scope)
        concealed = store.conceal_query(store.text(text), scope=scope)
        with store.storage.snapshot() as db:
            return self._validated(db, scope, concealed).to_dict()

    @operation(permissions="write")
    def link(self, id: str, *, scope: str | None = None) -> dict[str, Any]:
        """Extract memory ``id``'s entities and relations (as ``extract`` validates them)
        into the graph: entities are created or found, linked to the memory as mentions,
        and relations asserted from the memory's valid time with the memory as their
        source. Forgetting the memory removes what only it asserted. Returns what was
        written and what was rejected."""
        from sqlalchemy import insert, select

        from athena_core.storage.models import GraphMentionRow, MemoryRow

        store = self._store()
        scope = store.scope(scope)
        with store.transaction() as tx:
            memory = tx.session.execute(select(MemoryRow.pk, MemoryRow.text,
                                               MemoryRow.valid_from).where(
                MemoryRow.scope == scope, MemoryRow.id == id)).first()
            if memory is None:
                raise MemoryNotFoundError(f"No memory {id!r} in scope {scope!r}.")
            found = self._validated(tx.session, scope, memory.text)
            now = self._now()
            keys: dict[str, int] = {}
            for name, type_ in found.entities:
                keys[entity_key(name)], _ = rows.add_entity(tx.session, scope, name, type_,
                                                            extracted=True, now=now)
            mentioned = set(keys.values())
            linked = {row[0] for row in tx.session.execute(
                select(GraphMentionRow.entity_pk).where(GraphMentionRow.memory_pk == memory.pk))}
            if mentioned - linked:
                tx.session.execute(insert(GraphMentionRow), [
                    {"memory_pk": memory.pk, "entity_pk": key}
                    for key in sorted(mentioned - linked)])
            facts = []
            for subject, predicate, obj in found.relations:
                subject_pk = keys.get(entity_key(subject)) or rows.require_entity(
                    tx.session, scope, subject, argument="subject")
                object_pk = keys.get(entity_key(obj)) or rows.require_entity(
                    tx.session, scope, obj, argument="object")
                facts.append(rows.assert_fact(
                    tx.session, scope, subject_pk=subject_pk, predicate=predicate,
                    object_pk=object_pk, value=None, attributes={},
                    valid_from=memory.valid_from, valid_to=None, now=now,
                    functional=rows.check_predicate(tx.session, scope, predicate),
                    sources=[memory.pk]))
        return {**found.to_dict(), "facts": facts}

    @operation()
    def recall(self, query: str, *, k: int = 10, scope: str | None = None
               ) -> builtins.list[Hit]:
        """``recall`` joined with the graph: the entities ``query`` names (by name or
        alias) bring in the current memories that mention them (see ``link``); both
        rankings are fused (reciprocal rank), so a memory found both ways comes first.
        Returns hits as ``recall`` does."""
        from athena_core.graph.recall import graph_recall

        store = self._store()
        return graph_recall(self._athena, store, query, k=k, scope=store.scope(scope))

    # --- host side (export, import, forget) ------------------------------------------

    def _validated(self, db: Any, scope: str, text: str) -> Validated:
        """Rule proposals and every plugin's (``athena_graph_proposals``), validated."""
        declared = rows.declared_types(db, scope)
        proposals: builtins.list[Proposal] = [rule_proposals(text)]
        failed: builtins.list[Rejected] = []
        hook = self._athena.plugins.hook.athena_graph_proposals
        for impl in hook.get_hookimpls():
            try:
                answer = impl.function(text=text, types=sorted(declared))
            except Exception as exc:  # a plugin's model failing must not stop extraction
                failed.append(Rejected(impl.plugin_name, "proposal",
                                       f"the plugin raised {type(exc).__name__}"))
                continue
            if answer is None:
                continue
            if not isinstance(answer, Mapping) or not all(
                    isinstance(answer.get(part, []), list | tuple)
                    and all(isinstance(item, Mapping) for item in answer.get(part, []))
                    for part in ("entities", "relations")):
                failed.append(Rejected(impl.plugin_name, "proposal",
                                       "not {'entities': [...], 'relations': [...]}"))
                continue
            proposals.append(Proposal(impl.plugin_name, tuple(answer.get("entities", [])),
                                      tuple(answer.get("relations", []))))

        def known(name: str) -> str | None:
            pk = rows.entity_pk(db, scope, name)
            return None if pk is None else rows.entity_names(db, [pk])[pk][1]

        found = validate(text, proposals, known=known, declared=declared)
        return Validated(found.entities, found.relations, (*failed, *found.rejected))

    def _assert(self, subject: str, predicate: str, *, object_name: str | None, value: Any,
                valid_from: datetime | None, valid_to: datetime | None,
                attributes: Mapping[str, Any] | None, scope: str | None) -> dict[str, Any]:
        predicate = _predicate(predicate, argument="predicate")
        store = self._store()
        scope = store.scope(scope)
        with store.transaction() as tx:
            now = self._now()
            start, end = check_interval(valid_from, valid_to, default_from=now)
            subject_pk = rows.require_entity(
                tx.session, scope, store.conceal_query(subject, scope=scope),
                argument="subject")
            object_pk = None if object_name is None else rows.require_entity(
                tx.session, scope, store.conceal_query(object_name, scope=scope),
                argument="object")
            functional = rows.check_predicate(tx.session, scope, predicate)
            new_id = rows.assert_fact(
                tx.session, scope, subject_pk=subject_pk, predicate=predicate,
                object_pk=object_pk, value=tx.conceal(value, scope=scope),
                attributes=tx.conceal(dict(attributes or {}), scope=scope), valid_from=start,
                valid_to=end, now=now, functional=functional)
            return self._fact(tx.session, scope, new_id)

    def _fact(self, db: Any, scope: str, fact_id: str) -> dict[str, Any]:
        return rows.fact(db, scope, fact_id).to_dict()

    def _entity(self, db: Any, pk: int) -> dict[str, Any]:
        from sqlalchemy import select

        from athena_core.storage.models import GraphAliasRow

        name, type_ = rows.entity_names(db, [pk])[pk]
        aliases = [row[0] for row in db.execute(select(GraphAliasRow.alias).where(
            GraphAliasRow.entity_pk == pk).order_by(GraphAliasRow.pk))]
        return {"name": name, "type": type_, "aliases": aliases}

    @contextlib.contextmanager
    def _reading(self, scope: str | None, **names: str
                 ) -> Iterator[tuple[Any, str, dict[str, int]]]:
        """A read snapshot, the call's scope, and the entity each of ``names`` (argument
        name -> entity name) is; ``UnknownEntityError`` naming the argument if none."""
        store = self._store()
        scope = store.scope(scope)
        with store.storage.snapshot() as db:
            yield db, scope, {argument: rows.require_entity(
                db, scope, store.conceal_query(name, scope=scope), argument=argument)
                for argument, name in names.items()}

    def _now(self) -> datetime:
        """The record time of a write: now, and always after the previous write's."""
        with self._clock:
            now = max(utcnow(), self._last + _TICK)
            self._last = now
            return now

    def _store(self) -> MemoryStore:
        return self._athena._require_store()


def _predicate(value: str, *, argument: str) -> str:
    from athena_core.graph.extraction import predicate_name

    name = check_label(value, argument=argument, limit=MAX_PREDICATE_CHARS,
                       what="a relation type")
    if predicate_name(name) != name:
        raise GraphInputError(
            f"{argument} must be lower-case letters, digits and _ (like 'lives_in'); "
            f"{predicate_name(name) or 'that'!r} would be accepted.", argument=argument)
    return name


def _check_declared(db: Any, scope: str, name: str, argument: str) -> None:
    try:
        rows.check_predicate(db, scope, name)
    except GraphInputError as exc:
        exc.argument = argument
        raise


def _times(valid_time: datetime | None, record_time: datetime | None
           ) -> tuple[datetime, datetime]:
    """The two times of a query, each defaulting to now."""
    now = utcnow()
    return (now if valid_time is None else as_utc(valid_time, name="valid_time"),
            now if record_time is None else as_utc(record_time, name="record_time"))


def _reason(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > 1_000):
        raise InvalidArgumentError("reason must be a string of at most 1,000 characters.",
                                   argument="reason")
    return value
