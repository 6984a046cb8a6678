"""Turning a call pattern into a procedure's code.

Each argument of each step of a :class:`~athena_core.procedures.call_patterns.Pattern`
is a **slot**; its value in each run is the argument's literal, or absent (the step or
the argument was left out). Slots become keyword-only parameters of ``run``:

- slots with the same values in every run (absent in the same runs) that differed
  between runs become one parameter (a file created and then written to); slots that
  never differed become one parameter when they also have the same argument name and
  value, whichever runs they are absent from (one token passed to two steps);
- a parameter is named after the argument (a name taken gets ``_2``, ...); its type is
  the values' (``str``, ``int``, ``float`` - also for ints mixed with floats -, ``bool``,
  ``list[X]``, ``dict[str, Any]``);
- a slot that never differed becomes a parameter whose default is its value (the
  procedure does what the runs did unless told otherwise);
- an **optional argument** (absent in a run whose step was there) gets the default
  ``None`` and is passed only when given, through ``**_given(...)``;
- an **optional step** runs when its *guard* is given: the first parameter of its own
  (used by no other step) that differed between runs and is there exactly when the step
  is (``if folder is not None:``); a step with no such parameter gets a flag
  ``with_<operation in snake case>: bool = False`` (``if with_press_brake_pedal:``).
  Its other parameters are passed as they are when it runs.

``run`` collects each call's result in order and returns what the runs' programs did:
the list of results (a list display), their tuple (a tuple display), or the last
result (statements).
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from collections.abc import Sequence
from typing import Any

import attrs

from athena_core._ast import parse_python
from athena_core.procedures.call_patterns import Pattern
from athena_core.procedures.drafting import ENTRY, Draft, Parameter, _unique

__all__ = ["ABSENT", "draft_pattern", "run_inputs"]


#: A slot's value in a run that left it out (no argument of a plain call is ``None``).
ABSENT = None


class _Required:
    def __repr__(self) -> str:
        return "<required>"


#: The default of a parameter that has none.
_REQUIRED: Any = _Required()
_GIVEN = "_given"
_RESULTS = "results"
_GIVEN_SOURCE = f'''
def {_GIVEN}(**arguments: Any) -> dict[str, Any]:
    """The arguments given a value (not None)."""
    return {{name: value for name, value in arguments.items() if value is not None}}
'''


@attrs.frozen
class _Input:
    """A parameter of a pattern's procedure and how each step uses it."""

    name: str
    annotation: str
    #: Its value in each run (:data:`ABSENT` where left out).
    values: tuple[Any, ...]
    #: ``(step, argument)`` pairs it fills.
    slots: tuple[tuple[int, str], ...]
    #: The default (``_REQUIRED``: none).
    default: Any
    #: Passed through ``_given`` where its step ran without it.
    optional_argument: bool = False
    #: A step's flag (``with_...``), not an argument.
    flag_of: int | None = None


def run_inputs(parameters: Sequence[Parameter], defaults: dict[str, Any], run: int
               ) -> dict[str, Any]:
    """The inputs that make the procedure repeat run number ``run``: each parameter's
    value there, unless absent or its default."""
    inputs = {}
    for parameter in parameters:
        value = parameter.values[run]
        if value is ABSENT or (parameter.name in defaults and _typed(value) == _typed(
                defaults[parameter.name])):
            continue
        inputs[parameter.name] = value
    return inputs


def draft_pattern(pattern: Pattern, *, docstring: str
                  ) -> tuple[Draft, dict[str, Any]]:
    """The procedure code for ``pattern``, and its parameters' defaults (by name)."""
    runs = pattern.runs
    steps = len(pattern.operations)
    present = [tuple(step in run.positions for run in runs) for step in range(steps)]
    columns: dict[tuple[int, str], list[Any]] = {}
    for number, run in enumerate(runs):
        for call, step in zip(run.window.calls, run.positions, strict=True):
            for name, value in call.arguments.items():
                columns.setdefault((step, name), [ABSENT] * len(runs))[number] = value
    slots = sorted(columns, key=lambda slot: (slot[0], _first_index(runs, slot)))
    groups: dict[str, list[tuple[int, str]]] = {}
    for slot in slots:
        column = columns[slot]
        key = json.dumps([[_typed(value) for value in column], None] if _varies(column)
                         else [_typed(next(v for v in column if v is not ABSENT)), slot[1]])
        groups.setdefault(key, []).append(slot)
    taken = {ENTRY, _GIVEN, _RESULTS, "athena", "Any"}
    inputs: list[_Input] = []
    for members in groups.values():
        # the value of each run: the members' (one value, or a constant where given)
        values = tuple(next((columns[slot][number] for slot in members
                             if columns[slot][number] is not ABSENT), ABSENT)
                       for number in range(len(runs)))
        name = _unique(members[0][1], taken)
        taken.add(name)
        inputs.append(_Input(
            name=name, annotation=_annotation([v for v in values if v is not ABSENT]),
            values=values, slots=tuple(members), default=_REQUIRED,
            optional_argument=any(columns[slot][number] is ABSENT and present[slot[0]][number]
                                  for slot in members for number in range(len(runs)))))
    guards: dict[int, str] = {}
    for step in range(steps):
        if not pattern.optional[step]:
            continue
        guard = next((item.name for item in inputs
                      if {s for s, _ in item.slots} == {step} and not item.optional_argument
                      and _varies(item.values)
                      and tuple(v is not ABSENT for v in item.values) == present[step]), None)
        if guard is None:
            method = pattern.operations[step].rsplit(".", 1)[-1]
            guard = _unique("with_" + _snake(method), taken)
            taken.add(guard)
            inputs.append(_Input(name=guard, annotation="bool", values=present[step],
                                 slots=(), default=False, flag_of=step))
        guards[step] = guard
    for number, item in enumerate(inputs):
        if item.flag_of is not None:
            continue
        if item.optional_argument or item.name in guards.values() or (
                _varies(item.values) and any(pattern.optional[s] for s, _ in item.slots)):
            default = None
        elif not _varies(item.values):
            default = next(value for value in item.values if value is not ABSENT)
        else:
            continue
        inputs[number] = attrs.evolve(item, default=default)
    body: list[str] = [f"{_RESULTS}: list[Any] = []"]
    uses_given = False
    for step, operation in enumerate(pattern.operations):
        direct = [(argument, item.name) for item in inputs for s, argument in item.slots
                  if s == step and not item.optional_argument]
        optional = [(argument, item.name) for item in inputs for s, argument in item.slots
                     if s == step and item.optional_argument]
        order = {argument: index for index, argument in enumerate(
            _argument_order(runs, step))}
        direct.sort(key=lambda pair: order[pair[0]])
        optional.sort(key=lambda pair: order[pair[0]])
        arguments = [f"{argument}={name}" for argument, name in direct]
        if optional:
            uses_given = True
            arguments.append(f"**{_GIVEN}(" + ", ".join(
                f"{argument}={name}" for argument, name in optional) + ")")
        line = f"{_RESULTS}.append(athena.{operation}({', '.join(arguments)}))"
        if step in guards:
            flag = any(item.flag_of == step for item in inputs)
            condition = guards[step] if flag else f"{guards[step]} is not None"
            body += [f"if {condition}:", f"    {line}"]
            # a value of the step's own given without its guard is refused, never ignored
            own = [item.name for item in inputs if item.name != guards[step]
                   and item.slots and {s for s, _ in item.slots} == {step}
                   and item.default is None]
            if own:
                message = (f"{operation} runs only when {guards[step]} is given; "
                           f"{', '.join(own)} without it would be ignored")
                given = " or ".join(f"{name} is not None" for name in own)
                body += [f"elif {given}:", f"    raise ValueError({message!r})"]
        else:
            body.append(line)
    body.append({"list": f"return {_RESULTS}", "tuple": f"return tuple({_RESULTS})",
                 "statements": f"return {_RESULTS}[-1]"}[pattern.kind])
    signature = ", ".join(_parameter_source(item) for item in inputs)
    text = textwrap.fill(docstring, 84).replace("\n", "\n    ")
    code = (
        "import athena\nfrom typing import Any\n\n"
        + (_GIVEN_SOURCE + "\n" if uses_given else "\n")
        + f"def {ENTRY}(" + (f"*, {signature}" if signature else "") + ") -> Any:\n"
        + f'    """{text}"""\n' + "".join(f"    {line}\n" for line in body))
    code = ast.unparse(parse_python(code)) + "\n"  # one canonical layout
    parameters = tuple(Parameter(name=item.name, type=item.annotation, values=item.values,
                                 slots=()) for item in inputs)
    defaults = {item.name: item.default for item in inputs if item.default is not _REQUIRED}
    return Draft(code=code, parameters=parameters,
                 permissions=tuple(dict.fromkeys(pattern.operations)),
                 constant_literals=0, returns_value=True), defaults


def _parameter_source(item: _Input) -> str:
    annotation = item.annotation if item.default is not None \
        else f"{item.annotation} | None"
    if item.default is _REQUIRED:
        return f"{item.name}: {annotation}"
    return f"{item.name}: {annotation} = {item.default!r}"


def _first_index(runs: Sequence[Any], slot: tuple[int, str]) -> int:
    """Where the argument is among its call's arguments, in the first run that has it."""
    step, name = slot
    for run in runs:
        for call, at in zip(run.window.calls, run.positions, strict=True):
            if at == step and name in call.arguments:
                return list(call.arguments).index(name)
    return 0


def _argument_order(runs: Sequence[Any], step: int) -> list[str]:
    """The step's argument names, in the order the runs first wrote them."""
    order: dict[str, None] = {}
    for run in runs:
        for call, at in zip(run.window.calls, run.positions, strict=True):
            if at == step:
                order.update(dict.fromkeys(call.arguments))
    return list(order)


def _varies(values: Sequence[Any]) -> bool:
    """Whether the values given (not absent) differ."""
    return len({_typed(value) for value in values if value is not ABSENT}) > 1


def _typed(value: Any) -> Any:
    """``value`` with its types, hashable: ``1``, ``1.0`` and ``True`` differ."""
    if isinstance(value, list):
        return ("list", tuple(_typed(item) for item in value))
    if isinstance(value, dict):
        return ("dict", tuple((key, _typed(item)) for key, item in value.items()))
    return (type(value).__name__, value)


def _annotation(values: Sequence[Any]) -> str:
    """The annotation of a parameter taking ``values``."""
    kinds = {type(value) for value in values}
    if kinds <= {int, float} and float in kinds:
        return "float"
    if len(kinds) == 1:
        kind = kinds.pop()
        if kind in (str, int, bool, float):
            return kind.__name__
        if kind is list:
            items = [item for value in values for item in value]
            inner = _annotation(items) if items else "Any"
            return f"list[{inner if inner in ('str', 'int', 'float', 'bool') else 'Any'}]"
        if kind is dict:
            return "dict[str, Any]"
    return "Any"


def _snake(name: str) -> str:
    """``pressBrakePedal`` -> ``press_brake_pedal``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().strip("_") or "step"
