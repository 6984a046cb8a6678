"""Mining runs of plain calls that recur with different arguments and optional steps.

A **plain call** is a unit of a program (see :mod:`~athena_core.procedures.mining`) that is
nothing but one call of a registered operation through the ``athena`` module whose
arguments are all literal data: strings, numbers, booleans, and lists and dicts of them
(``athena.bfcl.fs.cd(folder="docs")``, ``athena.remember("note", importance=0.5)``). Its
arguments are read by name (positional ones bound by the operation's signature in the API
registry). A **window** is two or more consecutive plain calls of one kind (statements,
or elements of one list or tuple display), at most :data:`~athena_core.procedures.
mining.MAX_RUN` of them.

A **call pattern** is a sequence of operations of one kind. A window *supports* it when
its operations are the pattern's with some of them left out (an order-preserving
subsequence; the pattern's own sequence included). Windows are grouped by pattern
whatever their argument values, argument names and list lengths: those become the
procedure's parameters (see :mod:`~athena_core.procedures.pattern_drafting`). The
candidates are every sequence of operations some window has, and every **core with
different ends**: windows that are one sequence (the core) with one step before it or
after it, when two or more different steps come before it or two or more after it, as
the steps before it, the core and the steps after it, supported only by windows that
make the whole core. :func:`mine_patterns` proposes each candidate supported by windows
of at least ``min_runs`` different programs unless another **has each of its runs**
(can make the run's calls with its own required steps, or holds the run inside one of
its own) and is longer, or more general, or of two with each other's runs the first.

A window's calls are placed on the pattern's steps leftmost first (the core's steps
taken). Of the windows of one execution that support a pattern, one lying inside
another is left out (the longer one is the run); a step that one of the runs leaves out
is **optional**. The records mined are those
:func:`~athena_core.procedures.mining.mine` mines.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from athena_core._ast import parse_python
from athena_core.procedures.drafting import operation_of
from athena_core.procedures.gate import _athena_aliases
from athena_core.procedures.mining import (
    MAX_RUN,
    _minable,
    _records,
    program_units,
)

if TYPE_CHECKING:
    from athena_core.api import ApiRegistry
    from athena_core.audit.log import AuditLog

__all__ = ["Call", "Pattern", "PatternRun", "Window", "mine_patterns", "patterns_of",
           "plain_call", "subsequence"]

#: The kinds of a window: a display's elements, or statements.
KINDS: dict[type | None, str] = {ast.List: "list", ast.Tuple: "tuple", None: "statements"}


@attrs.frozen
class Call:
    """A plain call: the operation and its arguments by name, in the order written."""

    operation: str
    arguments: Mapping[str, Any]


@attrs.frozen
class Window:
    """Consecutive plain calls of one execution."""

    execution_id: str
    seq: int
    at: datetime
    scope: str
    #: ``(first unit, units)``, as :func:`~athena_core.procedures.mining.fragment` takes it.
    part: tuple[int, int]
    kind: str
    calls: tuple[Call, ...]
    #: sha256 of the program the window is in: windows of different programs count apart.
    context: str

    @property
    def operations(self) -> tuple[str, ...]:
        return tuple(call.operation for call in self.calls)


@attrs.frozen
class PatternRun:
    """A window supporting a pattern, and the pattern step of each of its calls."""

    window: Window
    positions: tuple[int, ...]


@attrs.frozen
class Pattern:
    """A call pattern and the windows that support it, oldest first."""

    #: sha256 of the kind, the operations and which steps are optional.
    key: str
    kind: str
    operations: tuple[str, ...]
    optional: tuple[bool, ...]
    runs: tuple[PatternRun, ...]

    def programs(self) -> int:
        """How many different programs its runs are in."""
        return len({run.window.context for run in self.runs})


def plain_call(node: ast.AST, kind: type | None, aliases: dict[str, str],
               registry: ApiRegistry) -> Call | None:
    """The unit ``node`` as a :class:`Call`, or ``None`` if it is not a plain call."""
    if kind is None:
        if not isinstance(node, ast.Expr):
            return None
        node = node.value
    if not isinstance(node, ast.Call):
        return None
    operation = operation_of(node.func, aliases, registry)
    if operation is None or any(isinstance(arg, ast.Starred) for arg in node.args) or any(
            keyword.arg is None for keyword in node.keywords):
        return None
    try:
        args = [ast.literal_eval(arg) for arg in node.args]
        kwargs = {keyword.arg: ast.literal_eval(keyword.value) for keyword in node.keywords
                  if keyword.arg is not None}
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if not all(_data(value) for value in [*args, *kwargs.values()]):
        return None
    try:
        bound = registry.get(operation).signature.bind(*args, **kwargs)
    except TypeError:
        return None
    return Call(operation, dict(bound.arguments))


def _data(value: Any) -> bool:
    """Whether ``value`` is literal data a parameter can hold (no ``None``, no sets, no
    tuples: what crosses the bridge as itself)."""
    if isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list):
        return all(_data(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _data(item) for key, item in value.items())
    return False


def subsequence(short: Sequence[str], long: Sequence[str],
                required: frozenset[int] = frozenset()) -> tuple[int, ...] | None:
    """Where the items of ``short`` are in ``long``, in order and leftmost first, with
    every position in ``required`` taken; ``None`` if there is no such placement (with
    nothing required: if ``short`` is not an order-preserving subsequence of ``long``)."""
    def place(item: int, start: int) -> tuple[int, ...] | None:
        if item == len(short):
            return () if all(at < start for at in required) else None
        for at in range(start, len(long)):
            if long[at] == short[item]:
                rest = place(item + 1, at + 1)
                if rest is not None:
                    return (at, *rest)
                if not required:  # placed leftmost, nothing later can do better
                    return None
            if at in required:
                return None  # a required step left out
        return None
    return place(0, 0)


def windows_of(audit: AuditLog, registry: ApiRegistry, *, scope: str | None = None,
               since: datetime | str | None = None
               ) -> tuple[list[Window], dict[str, tuple[int, int]]]:
    """Every window of the records mined, oldest first; and, of each execution whose
    program is nothing but plain calls of one kind (one or more), their part."""
    found: list[Window] = []
    whole: dict[str, tuple[int, int]] = {}
    for record in _records(audit, scope=scope, since=since):
        if not _minable(record):
            continue
        assert record.payload is not None
        try:
            tree = parse_python(record.payload)
        except (SyntaxError, ValueError):
            continue
        _, units = program_units(tree)
        aliases = _athena_aliases(tree)
        calls = [plain_call(node, kind, aliases, registry) for _, node, kind in units]
        context = hashlib.sha256(record.payload.encode("utf-8")).hexdigest()
        start = 0
        while start < len(units):
            end = start
            while end < len(units) and calls[end] is not None \
                    and units[end][0] == units[start][0]:
                end += 1
            if end > start and start == 0 and end == len(units):
                whole[record.id] = (0, end)
            for first in range(start, end):
                for length in range(2, min(MAX_RUN, end - first) + 1):
                    found.append(Window(
                        execution_id=record.id, seq=record.seq, at=record.at,
                        scope=record.scope, part=(first, length),
                        kind=KINDS[units[first][2]],
                        calls=tuple(call for call in calls[first:first + length]
                                    if call is not None),
                        context=context))
            start = max(end, start + 1)
    return found, whole


def mine_patterns(audit: AuditLog, registry: ApiRegistry, *, scope: str | None = None,
                  since: datetime | str | None = None, min_runs: int = 3
                  ) -> tuple[list[Pattern], set[tuple[str, tuple[int, int] | None]]]:
    """The call patterns to propose (see the module's documentation), in the order of
    their first run; and the runs (``(execution id, part)``, part ``None`` for a whole
    program) that need no procedure of their own shape: every window that supports a
    candidate (proposed, or left out for another that has its runs), and every program
    that is a single plain call (its procedure would be that operation again)."""
    windows, whole = windows_of(audit, registry, scope=scope, since=since)
    return patterns_of(windows, whole, min_runs=min_runs)


def patterns_of(windows: Sequence[Window], whole: Mapping[str, tuple[int, int]], *,
                min_runs: int = 3
                ) -> tuple[list[Pattern], set[tuple[str, tuple[int, int] | None]]]:
    """:func:`mine_patterns` of the windows ``windows`` (``whole``: as
    :func:`windows_of` gives it)."""
    by_sequence: dict[_Sequence, list[Window]] = {}
    for window in windows:
        by_sequence.setdefault((window.kind, window.operations), []).append(window)
    sequences = sorted(by_sequence, key=lambda key: (key[0], -len(key[1]), key[1]))

    def enough(members: Sequence[tuple[_Sequence, tuple[int, ...]]]) -> bool:
        return len({window.context for sequence, _ in members
                    for window in by_sequence[sequence]}) >= min_runs

    candidates = [candidate for candidate in (*_with_steps_left_out(sequences),
                                              *_alternative_ends(sequences))
                  if enough(candidate.members)]
    kept = _longest(candidates, by_sequence)
    covered: set[tuple[str, tuple[int, int] | None]] = {
        (execution, None) for execution, part in whole.items() if part[1] == 1}
    for candidate in candidates:  # each a pattern kept or stood for by one
        for sequence, _ in candidate.members:
            for window in by_sequence[sequence]:
                covered.add((window.execution_id, window.part))
                if whole.get(window.execution_id) == window.part:
                    covered.add((window.execution_id, None))
    patterns = [_pattern(candidate, by_sequence) for candidate in kept]
    patterns.sort(key=lambda pattern: (pattern.runs[0].window.seq,
                                       pattern.runs[0].window.part[0],
                                       -pattern.runs[0].window.part[1], pattern.key))
    return patterns, covered


#: ``(kind, operations)`` of windows.
_Sequence = tuple[str, tuple[str, ...]]


@attrs.frozen
class _Candidate:
    """A pattern that may be proposed: its operations, and the window sequences that
    support it, each with the step of each of its calls."""

    kind: str
    operations: tuple[str, ...]
    members: tuple[tuple[_Sequence, tuple[int, ...]], ...]


def _with_steps_left_out(sequences: Sequence[_Sequence]) -> list[_Candidate]:
    """Each window sequence, supported by every window sequence that is it with some
    steps left out."""
    return [_supported(kind, operations, frozenset(), sequences)
            for kind, operations in sequences]


def _alternative_ends(sequences: Sequence[_Sequence]) -> list[_Candidate]:
    """Window sequences that are one sequence (the core) with another step before it or
    after it, as one, when two or more different steps come before it or after it: the
    steps before it, each optional, the core, required, and the steps after it, each
    optional (in the order of ``sequences``); supported by the window sequences that
    are it with some of its optional steps left out."""
    ends: dict[tuple[str, tuple[str, ...]], tuple[dict[str, None], dict[str, None]]] = {}
    for kind, operations in sequences:
        if len(operations) >= 2:
            ends.setdefault((kind, operations[1:]), ({}, {}))[0][operations[0]] = None
            ends.setdefault((kind, operations[:-1]), ({}, {}))[1][operations[-1]] = None
    return [_supported(kind, (*heads, *core, *tails),
                       frozenset(range(len(heads), len(heads) + len(core))), sequences)
            for (kind, core), (heads, tails) in ends.items()
            if len(heads) >= 2 or len(tails) >= 2]


def _supported(kind: str, operations: tuple[str, ...], core: frozenset[int],
               sequences: Sequence[_Sequence]) -> _Candidate:
    """The candidate ``operations``, supported by the window sequences of ``kind`` that
    are it with some steps outside ``core`` left out."""
    names = set(operations)
    return _Candidate(kind, operations, tuple(
        (other, positions) for other in sequences
        if other[0] == kind and len(other[1]) <= len(operations)
        and names.issuperset(other[1])
        and (positions := subsequence(other[1], operations, core)) is not None))


def _longest(candidates: Sequence[_Candidate],
             by_sequence: Mapping[_Sequence, Sequence[Window]]) -> list[_Candidate]:
    """``candidates`` without those another stands for: one that has each of their runs
    (it can make the run, leaving out only optional steps, or the run lies inside one of
    its own) and is longer, or more general (they do not have each of its runs), or, of
    two that have each other's runs, the first."""
    runs = [_runs(candidate, by_sequence) for candidate in candidates]
    required = [_required(candidate, found) for candidate, found in zip(candidates, runs,
                                                                         strict=True)]
    spans: list[dict[str, list[tuple[int, int]]]] = []
    for found in runs:
        spans.append({})
        for run in found:
            spans[-1].setdefault(run.window.execution_id, []).append(run.window.part)

    def has(one: int, other: int) -> bool:
        """Whether candidate ``one`` has every run of candidate ``other``."""
        if candidates[one].kind != candidates[other].kind:
            return False
        for run in runs[other]:
            start, length = run.window.part
            if not any(first <= start and start + length <= first + span for first, span
                       in spans[one].get(run.window.execution_id, ())) and subsequence(
                    run.window.operations, candidates[one].operations,
                    required[one]) is None:
                return False
        return True

    def stands_for(one: int, other: int) -> bool:
        longer = len(candidates[one].operations) - len(candidates[other].operations)
        return one != other and longer >= 0 and has(one, other) and (
            longer > 0 or not has(other, one) or one < other)

    return [candidate for number, candidate in enumerate(candidates)
            if not any(stands_for(other, number) for other in range(len(candidates)))]


def _runs(candidate: _Candidate, by_sequence: Mapping[_Sequence, Sequence[Window]]
          ) -> list[PatternRun]:
    """The windows supporting ``candidate`` that lie inside no other, oldest first."""
    positions = dict(candidate.members)
    supporting = [window for sequence, _ in candidate.members
                  for window in by_sequence[sequence]]
    runs = [PatternRun(window, positions[(window.kind, window.operations)])
            for window in _outermost(supporting)]
    runs.sort(key=lambda run: (run.window.seq, run.window.part))
    return runs


def _required(candidate: _Candidate, runs: Sequence[PatternRun]) -> frozenset[int]:
    """The steps every run makes."""
    return frozenset(step for step in range(len(candidate.operations))
                     if all(step in run.positions for run in runs))


def _pattern(candidate: _Candidate, by_sequence: Mapping[_Sequence, Sequence[Window]]
             ) -> Pattern:
    runs = _runs(candidate, by_sequence)
    required = _required(candidate, runs)
    optional = tuple(step not in required for step in range(len(candidate.operations)))
    key = hashlib.sha256(json.dumps(["calls", candidate.kind, list(candidate.operations),
                                     list(optional)]).encode("utf-8")).hexdigest()
    return Pattern(key=key, kind=candidate.kind, operations=candidate.operations,
                   optional=optional, runs=tuple(runs))


def _outermost(windows: Sequence[Window]) -> list[Window]:
    """``windows`` without those lying inside another of the same execution."""
    def inside(inner: Window, outer: Window) -> bool:
        (start, length), (first, span) = inner.part, outer.part
        return inner is not outer and inner.execution_id == outer.execution_id \
            and first <= start and start + length <= first + span
    by_execution: dict[str, list[Window]] = {}
    for window in windows:
        by_execution.setdefault(window.execution_id, []).append(window)
    return [window for window in windows
            if not any(inside(window, other) for other in by_execution[window.execution_id])]
