"""Shared by the fuzz tests: argument strategies derived from an operation's signature,
the store every fuzz starts from, and a snapshot of everything a refused call must
leave unchanged.

Arguments are drawn from the operation's declared signature (never from a hand-written
list of operations): for each parameter, either a value of its declared type or a
hostile one - a wrong type, a huge integer, a non-finite number, NUL, a lone surrogate,
a huge string, deep nesting, a circular dict, Python objects that have no JSON form.
A parameter named ``id`` or ``ids`` sometimes gets the id of a stored memory, as a
:class:`StoredId` resolved when the call is made.
"""

from __future__ import annotations

import collections.abc as cabc
import inspect
import math
import types
import typing
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from hypothesis import strategies as st
from sqlalchemy import select

from athena_core.storage.models import AuditRow, EpisodeRow, FactRow, MemoryRow

__all__ = ["EDGE_VALUES", "UNWIRE", "StoredId", "arguments", "json_values", "plain_arguments",
           "resolve", "seed", "snapshot", "stored_ids", "to_wire"]

#: The memories every fuzzed store starts from (re-added when a fuzzed forget took them).
SEED = (("semantic", "the staging server runs on port 8443", {"team": "ops"}),
        ("semantic", "deploys happen on tuesdays", {"team": "web", "n": 3}),
        ("episodic", "Caroline asked to rename the billing module in March 2026?", {}),
        ("episodic", "Melanie deployed the billing service", {"branch": "main"}))
_T0 = datetime(2026, 3, 1, tzinfo=UTC)


@attrs.frozen
class StoredId:
    """The id of the ``index``-th stored memory (modulo how many there are)."""

    index: int


def seed(athena: Any) -> None:
    """Store :data:`SEED` (and a superseded fact) unless the store already has memories."""
    if len(snapshot(athena)["memories"]) >= len(SEED):
        return
    for n, (layer, text, metadata) in enumerate(SEED):
        if layer == "episodic":
            athena.episodic.record(text, occurred_at=_T0 + timedelta(days=n), session="s1",
                                   actor=text.split()[0], kind="conversation", context=metadata)
        else:
            athena.remember(text, metadata=metadata, importance=0.3 + 0.1 * n)
    first = athena.semantic.facts(limit=1)[0]
    athena.semantic.update(first.id, first.text + " (moved)", reason="moved")


def snapshot(athena: Any) -> dict[str, Any]:
    """Every row a refused call must leave as it was: memories, episodes, facts, audit."""
    with athena.storage.read() as session:
        return {
            "memories": sorted(tuple(row) for row in session.execute(select(
                MemoryRow.id, MemoryRow.scope, MemoryRow.layer, MemoryRow.text, MemoryRow.meta,
                MemoryRow.importance, MemoryRow.valid_to))),
            "episodes": sorted((tuple(row) for row in session.execute(select(
                EpisodeRow.memory_pk, EpisodeRow.session, EpisodeRow.kind, EpisodeRow.actor,
                EpisodeRow.outcome))), key=repr),
            "facts": sorted((tuple(row) for row in session.execute(select(
                FactRow.memory_pk, FactRow.version, FactRow.superseded_by))), key=repr),
            "audit": sorted(tuple(row) for row in session.execute(
                select(AuditRow.seq, AuditRow.hash))),
        }


def stored_ids(athena: Any) -> list[str]:
    """The ids of the stored memories, oldest first (what :class:`StoredId` indexes)."""
    with athena.storage.read() as session:
        return list(session.scalars(select(MemoryRow.id).order_by(MemoryRow.pk)))


def resolve(value: Any, ids: list[str]) -> Any:
    """``value`` with each :class:`StoredId` replaced by a stored memory's id."""
    if isinstance(value, StoredId):
        return ids[value.index % len(ids)] if ids else "01NOSUCHMEMORY000000000000"
    if isinstance(value, list):
        return [resolve(v, ids) for v in value]
    return value


# --- values ---------------------------------------------------------------------------

_SHORT_TEXT = st.text(max_size=40)
#: Strings a database treats specially, or that are not text at all.
_NASTY_TEXT = st.one_of(
    st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "%", "_", "'; --",
                     "\\", "\u2028", "🦉", "NaN", "null", "2026-13-45", "9999-12-31T23:59-05:00",
                     "0001-01-01T00:00+05:00"]),
    # Any characters, lone surrogates and NUL included.
    st.text(st.characters() | st.characters(max_codepoint=0x1F)
            | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=30),
)
#: Long enough to pass a column's width or a size limit.
_HUGE_TEXT = st.sampled_from([27, 65, 256, 10_001, 64_001, 1_000_001, 2_000_000]).map(
    lambda n: "a" * n)
_HUGE_INT = st.sampled_from([2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**70,
                             -(2**70), 2**2000, 10**4000])
#: What breaks a driver or a column most often, tried first.
_EDGE_TEXT = st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfffy", "a" * 27, "k" * 65,
                              "s" * 256, "", "   "])
_EDGE_INT = st.sampled_from([0, -1, 1_001, 10_001, 2**31, 2**63, 2**70, -(2**70)])
_NUMBERS = st.one_of(st.integers(-3, 20_000), _HUGE_INT,
                     st.floats(allow_nan=True, allow_infinity=True))


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value] if depth % 2 else {"k": value}
    return value


def _circular() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


def json_values(*, nasty: bool = True) -> st.SearchStrategy[Any]:
    """JSON data (what a sandboxed program can send), hostile parts included."""
    scalars = st.one_of(st.none(), st.booleans(), _NUMBERS,
                        _SHORT_TEXT | _NASTY_TEXT if nasty else _SHORT_TEXT)
    nested = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(_SHORT_TEXT | _NASTY_TEXT, inner, max_size=4),
                          max_leaves=12)
    deep = st.sampled_from([20, 33, 99, 150, 400]).map(_nested)
    wide = st.sampled_from([10_001, 70_000]).map(lambda n: list(range(n)))
    return st.one_of(nested, deep, wide, _HUGE_TEXT)


def _python_only(program: bool) -> st.SearchStrategy[Any]:
    """Values that have no JSON form. A program can pass all but datetimes, which its
    ``athena`` module sends as ISO-8601 strings."""
    values = st.one_of(st.binary(max_size=8), st.sets(st.integers(), max_size=3),
                       st.builds(object), st.just(_circular()), st.just(1j),
                       st.dictionaries(st.integers(), st.integers(), min_size=1, max_size=2))
    if program:
        return values
    return values | st.datetimes() | st.just(datetime.max.replace(tzinfo=UTC))


def _hostile(program: bool) -> st.SearchStrategy[Any]:
    return json_values() | _python_only(program)


#: Plausible values by argument name, so that a call is refused for the argument the
#: fuzz made hostile, not for another.
_PLAUSIBLE_TEXT = {
    "layer": st.sampled_from(["semantic", "episodic"]),
    "kind": st.sampled_from(["observation", "conversation", "deployment"]),
    "scope": st.sampled_from(["default", "default", "team-a"]),
    "session": st.sampled_from(["s1", "s2"]),
    "actor": st.sampled_from(["Caroline", "Melanie"]),
    "code": st.sampled_from(["1 + 1", "import athena\nathena.recall('billing')", "print(2)"]),
    "policy": st.sampled_from(["strict", "research"]),
}
_WORDS = st.lists(st.sampled_from(["billing", "staging", "deploys", "port", "Caroline",
                                   "March", "2026", "tuesdays", "service", "?"]),
                  min_size=1, max_size=6).map(" ".join)


def _of_type(kind: Any, name: str, *, edgy: bool, program: bool) -> st.SearchStrategy[Any]:
    """A value of the declared type ``kind``: a plausible one, or (``edgy``) one at or
    past the edges of that type (huge integers, non-finite numbers, nasty strings...)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is typing.Union or origin is types.UnionType:
        return st.one_of([_of_type(option, name, edgy=edgy, program=program)
                          for option in args])
    if origin is typing.Literal:
        return st.sampled_from(args)
    if kind is type(None) or kind is None:
        return st.none()
    if kind is bool:
        return st.booleans()
    if kind is int:
        return (_EDGE_INT | _HUGE_INT) if edgy else st.integers(1, 20)
    if kind is float:
        return (st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308]) | _HUGE_INT
                | st.floats()) if edgy else st.floats(0, 1)
    if kind is datetime:
        aware = st.datetimes(timezones=st.just(UTC)) if edgy else st.datetimes(
            min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
            timezones=st.just(UTC))
        as_text = aware.map(lambda d: d.isoformat())
        return as_text if program else aware | as_text
    if kind is str:
        if edgy:
            return _EDGE_TEXT | _NASTY_TEXT | _HUGE_TEXT
        if name in ("id", "ids"):
            return st.builds(StoredId, st.integers(0, 50))
        return _PLAUSIBLE_TEXT.get(name, _WORDS)
    if origin in (list, tuple, cabc.Sequence, cabc.Iterable, cabc.Collection):
        item = _of_type(args[0] if args else Any, name, edgy=edgy, program=program)
        return st.lists(item, max_size=4) if edgy else st.lists(item, min_size=1, max_size=3)
    if origin in (dict, cabc.Mapping, cabc.MutableMapping):
        if edgy:
            return st.dictionaries(_SHORT_TEXT | _NASTY_TEXT, json_values(), max_size=3)
        return st.dictionaries(st.sampled_from(["team", "n", "branch"]),
                               st.sampled_from(["ops", "web", "main", 3]), max_size=2)
    return _hostile(program)


@st.composite
def arguments(draw: st.DrawFn, signature: inspect.Signature, *, program: bool = False
              ) -> tuple[list[Any], dict[str, Any]]:
    """``(args, kwargs)`` for a call of an operation with ``signature``.

    Every argument given has a plausible value of its type, except (mostly) one, which
    is at the edge of its type or hostile; sometimes a required argument is left out or
    an unknown keyword or extra positional argument is added. ``program``: only what a
    sandboxed program can pass (datetimes only as ISO-8601 strings)."""
    params = list(signature.parameters.values())
    given = [p for p in params if p.default is p.empty or draw(st.booleans())]
    target = draw(st.sampled_from(given)) if given else None
    how = draw(st.sampled_from(["edgy", "edgy", "hostile", "plain"]))
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for param in given:
        if param is target and how == "hostile":
            value = draw(_hostile(program))
        else:
            value = draw(_of_type(param.annotation, param.name,
                                  edgy=param is target and how == "edgy", program=program))
        if param.kind is param.POSITIONAL_OR_KEYWORD and not kwargs and draw(st.booleans()):
            args.append(value)
        else:
            kwargs[param.name] = value
    shape = draw(st.integers(0, 29))
    if shape == 0 and args:
        args.pop()  # a required argument left out
    elif shape == 1:
        kwargs["no_such_argument"] = draw(json_values())
    elif shape == 2:
        args.append(draw(json_values()))
    return args, kwargs


#: Values that have broken a driver, a column or a conversion, tried on every argument of
#: every operation in turn (the other arguments plain): the sweep that the random fuzz
#: adds combinations to.
EDGE_VALUES: tuple[Any, ...] = (
    None, True, 0, -1, 1_001, 10_001, 2**31, 2**63, 2**70, -(2**70), 2**2000, math.nan,
    math.inf, "", "   ", "\x00", "a\x00b", "\ud800", "a" * 27, "k" * 65, "s" * 256,
    "a" * 10_001, "a" * 2_000_000, "9999-12-31T23:59:00-05:00", [], {}, ["\x00"],
    {"\x00": 1}, {"k": "\ud800"}, {1: "one"}, {"n": 2**70}, _nested(33), _nested(150),
    list(range(10_001)), b"bytes", {1, 2}, object(), 1j, datetime.max.replace(tzinfo=UTC),
)
_PLAIN_TEXT = {"layer": "semantic", "kind": "observation", "scope": "default",
               "session": "s1", "actor": "Caroline", "code": "1 + 1", "policy": "strict"}


def plain_value(kind: Any, name: str) -> Any:
    """One plausible value of the declared type ``kind`` (ids as :class:`StoredId`)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is typing.Union or origin is types.UnionType:
        return plain_value(next(a for a in args if a is not type(None)), name)
    if origin is typing.Literal:
        return args[0]
    if origin in (list, tuple, cabc.Sequence, cabc.Iterable, cabc.Collection):
        return [plain_value(args[0] if args else str, name)]
    if origin in (dict, cabc.Mapping, cabc.MutableMapping):
        return {"team": "ops"}
    if kind is str:
        return StoredId(0) if name in ("id", "ids") else _PLAIN_TEXT.get(name, "billing service")
    return {bool: False, int: 5, float: 0.5, datetime: "2026-03-01T00:00:00+00:00"}.get(kind)


def plain_arguments(signature: inspect.Signature) -> dict[str, Any]:
    """Plausible values of the required arguments of ``signature``, by name."""
    return {p.name: plain_value(p.annotation, p.name)
            for p in signature.parameters.values() if p.default is p.empty}


# --- values sent into a sandboxed program -------------------------------------------------

_WIRE = "__athena_fuzz__"
#: Python source that rebuilds what :func:`to_wire` encoded: the ``object_hook`` of the
#: program's ``json.loads``.
UNWIRE = f"""
def unwire(d):
    kind = d.get({_WIRE!r})
    if kind is None:
        return d
    if kind == "repeat":
        return d["text"] * d["times"]
    if kind == "range":
        return list(range(d["n"]))
    if kind == "bytes":
        return bytes.fromhex(d["hex"])
    if kind == "set":
        return set(d["items"])
    if kind == "pairs":
        return dict((k, v) for k, v in d["items"])
    if kind == "circular":
        loop = {{}}
        loop["self"] = loop
        return loop
    return {{"object": object(), "complex": 1j}}[kind]
"""


def to_wire(value: Any, _seen: frozenset[int] = frozenset()) -> Any:
    """``value`` as JSON data that :data:`UNWIRE` turns back into it inside a program
    (long repeated strings and ranges compactly, so the program stays small)."""
    if isinstance(value, str):
        if len(value) > 1_000 and value == value[0] * len(value):
            return {_WIRE: "repeat", "text": value[0], "times": len(value)}
        return value
    if isinstance(value, bytes):
        return {_WIRE: "bytes", "hex": value.hex()}
    if isinstance(value, set | frozenset):
        return {_WIRE: "set", "items": sorted(value)}
    if isinstance(value, complex):
        return {_WIRE: "complex"}
    if isinstance(value, list | tuple):
        if len(value) > 1_000 and list(value) == list(range(len(value))):
            return {_WIRE: "range", "n": len(value)}
        return [to_wire(v, _seen) for v in value]
    if isinstance(value, dict):
        if id(value) in _seen:
            return {_WIRE: "circular"}
        inner = _seen | {id(value)}
        if all(isinstance(k, str) for k in value):
            return {k: to_wire(v, inner) for k, v in value.items()}
        return {_WIRE: "pairs", "items": [[k, to_wire(v, inner)] for k, v in value.items()]}
    if value is None or isinstance(value, bool | int | float):
        return value
    return {_WIRE: "object"}
