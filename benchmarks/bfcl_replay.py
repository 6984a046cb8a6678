"""Turning BFCL ground truth into Athena programs, and replaying it with shortcuts.

Pure logic, no Athena and no ``bfcl-eval`` needed (the smoke test runs it on made-up
tasks):

- :func:`parse_turn`: a turn's ground-truth calls (``"cd(folder='document')"``) as
  :class:`Step`s, each an operation and its arguments by name (positional ones bound to
  the method's signature);
- :func:`program`: the program an agent writes for a turn (one ``athena`` call a line);
- :class:`Template`: the call sequence a saved procedure makes, read from its code
  (:func:`template_from_code`): each argument a parameter of the procedure or a constant;
  :meth:`Template.bind` says with which inputs the procedure makes exactly a run of calls;
- :func:`name_macros`: the naive baseline, the most frequent contiguous n-grams of
  operation names, each usable wherever its names occur, whatever the arguments;
- :func:`cover`: the fewest calls that issue a turn's calls, each one either a single
  call or a shortcut (a procedure or a macro) standing for a contiguous run of them.
"""

from __future__ import annotations

import ast
import inspect
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

__all__ = ["Choice", "Param", "Step", "Template", "cover", "name_macros", "parse_call",
           "parse_turn", "program", "template_from_code"]


@attrs.frozen
class Step:
    """One call: the operation (``bfcl.fs.cd``) and its arguments by name."""

    operation: str
    arguments: Mapping[str, Any]

    def source(self) -> str:
        """The call as a program writes it: ``athena.bfcl.fs.cd(folder='document')``."""
        args = ", ".join(f"{name}={value!r}" for name, value in self.arguments.items())
        return f"athena.{self.operation}({args})"


def parse_call(text: str, resolve: Callable[[str], tuple[str, inspect.Signature]]) -> Step:
    """A ground-truth call string as a :class:`Step`.

    ``resolve(method)`` gives the operation name and the method's signature (without
    ``self``); arguments are Python literals, positional ones bound by that signature.
    """
    node = ast.parse(text.strip(), mode="eval").body
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ValueError(f"not a plain function call: {text!r}")
    name, signature = resolve(node.func.id)
    args = [ast.literal_eval(arg) for arg in node.args]
    kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}
    bound = signature.bind(*args, **kwargs)
    return Step(name, dict(bound.arguments))


def parse_turn(calls: Iterable[str], resolve: Callable[[str], tuple[str, inspect.Signature]]
               ) -> list[Step]:
    return [parse_call(call, resolve) for call in calls]


def program(steps: Sequence[Step]) -> str:
    """The program for one turn: the list of its calls' results, the program's value
    (what an agent reads back)."""
    return "import athena\n[\n" + "".join(f"    {step.source()},\n" for step in steps) + "]\n"


@attrs.frozen
class Param:
    """An argument (or a part of one) that is the procedure's parameter ``name``, of the
    JSON type its annotation ``type`` names (``str``, ``int``, ``float``, ``bool``)."""

    name: str
    type: str = ""


@attrs.frozen
class Template:
    """The calls a procedure makes, in order: each an operation and its arguments, each
    argument a constant, a :class:`Param`, or a list or dict holding them.

    A step may also take ``optional`` arguments (passed only when their parameter is
    given: ``**_given(tags=tags)``) and have a ``guard``: ``(parameter, is_flag)``, the step
    runs only when that parameter is given (``if folder is not None:``) or true (``if
    with_cd:``)."""

    id: str
    steps: tuple[tuple[str, Mapping[str, Any]], ...]
    #: Every parameter of the entry function: a binding gives each a value or leaves it
    #: to its default.
    params: frozenset[str] = frozenset()
    #: The parameters without a default (default: all of ``params``).
    required: frozenset[str] | None = None
    optional: tuple[Mapping[str, Param], ...] = ()
    guards: tuple[tuple[str, bool] | None, ...] = ()

    def bind(self, run: Sequence[Step]) -> dict[str, Any] | None:
        """The inputs with which the procedure makes exactly the calls of ``run``, or
        ``None`` if it cannot (other operations, other argument names, a constant or a
        parameter that does not fit)."""
        guards = self.guards or (None,) * len(self.steps)
        optional = self.optional or ({},) * len(self.steps)
        required = self.params if self.required is None else self.required & self.params

        def match(index: int, at: int, inputs: dict[str, Any], unset: frozenset[str]
                  ) -> dict[str, Any] | None:
            if index == len(self.steps):
                done = at == len(run) and unset.isdisjoint(inputs) \
                    and required <= set(inputs) <= self.params
                return inputs if done else None
            operation, arguments = self.steps[index]
            guard = guards[index]
            if at < len(run) and run[at].operation == operation \
                    and set(arguments) <= set(run[at].arguments) \
                    <= set(arguments) | set(optional[index]):
                trial = dict(inputs)
                step = run[at]
                absent = {param.name for name, param in optional[index].items()
                          if name not in step.arguments}
                if all(_unify(want, step.arguments[name], trial)
                       for name, want in [*arguments.items(), *(
                           (name, param) for name, param in optional[index].items()
                           if name in step.arguments)]):
                    if guard is not None and guard[1]:
                        trial[guard[0]] = True
                    found = match(index + 1, at + 1, trial, unset | absent)
                    if found is not None:
                        return found
            if guard is not None:  # the step left out
                return match(index + 1, at, inputs, unset | {guard[0]})
            return None

        return match(0, 0, {}, frozenset())

    @property
    def operations(self) -> tuple[str, ...]:
        return tuple(operation for operation, _ in self.steps)


_TYPES = {"str": str, "int": int, "float": float, "bool": bool}


def _typed_as(value: Any, annotation: str) -> bool:
    """Whether ``value`` is of the type ``annotation`` names, as a procedure's input
    schema checks it: a ``float`` parameter is a JSON number, so a whole number fits it
    (and is passed on as the whole number it is)."""
    if annotation == "float" and type(value) is int:
        return True
    return type(value) is _TYPES.get(annotation)


def _unify(want: Any, value: Any, inputs: dict[str, Any]) -> bool:
    """Whether ``value`` fits ``want``, binding the parameters in it (in ``inputs``)."""
    if isinstance(want, Param):
        if want.type and not _typed_as(value, want.type):
            return False
        if want.name in inputs:
            return _same(inputs[want.name], value)
        inputs[want.name] = value
        return True
    if isinstance(want, list):
        return (isinstance(value, list) and len(value) == len(want)
                and all(_unify(w, v, inputs) for w, v in zip(want, value, strict=True)))
    if isinstance(want, dict):
        return (isinstance(value, dict) and len(value) == len(want)
                and all(_unify(wk, vk, inputs) and _unify(wv, vv, inputs)
                        for (wk, wv), (vk, vv) in zip(want.items(), value.items(),
                                                      strict=True)))
    return _same(want, value)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


class _Unknown(Exception):
    """An argument the procedure computes: no binding can say what it will be."""


def template_from_code(procedure_id: str, code: str, entry: str = "run") -> Template | None:
    """The template of a procedure whose calls are a fixed sequence: the ``athena.<op>(...)``
    calls of its entry function in the order they run, each with keyword arguments that
    are literals and parameters (and optional ones, ``**_given(name=parameter, ...)``),
    each on its own or alone under ``if parameter is not None:`` or ``if flag:`` (an
    optional step); ``None`` for anything else (a loop, another branch, a helper function,
    positional arguments, a computed argument)."""
    tree = ast.parse(code)
    function = next((node for node in tree.body if isinstance(node, ast.FunctionDef)
                     and node.name == entry), None)
    if function is None:
        return None
    args = function.args
    params = {a.arg: a.annotation.id if isinstance(a.annotation, ast.Name) else ""
              for a in [*args.args, *args.kwonlyargs]}
    defaulted = {a.arg for a in args.args[len(args.args) - len(args.defaults):]} | {
        a.arg for a, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)
        if default is not None}
    steps: list[tuple[str, Mapping[str, Any]]] = []
    optional: list[Mapping[str, Param]] = []
    guards: list[tuple[str, bool] | None] = []
    for statement in function.body:
        calls = _athena_calls(statement)
        guard = None
        if calls and isinstance(statement, ast.If):
            guard = _guard(statement, params)
            if guard is None or len(calls) != 1:
                return None
        elif calls and isinstance(statement, ast.For | ast.While | ast.Try | ast.With
                                  | ast.FunctionDef | ast.Match):
            return None
        for call in calls:
            parsed = _call(call, params)
            if parsed is None:
                return None
            steps.append((_dotted(call.func)[len("athena."):], parsed[0]))
            optional.append(parsed[1])
            guards.append(guard)
    if not steps:
        return None
    return Template(procedure_id, tuple(steps), frozenset(params),
                    frozenset(params) - defaulted, tuple(optional), tuple(guards))


def _guard(statement: ast.If, params: Mapping[str, str]) -> tuple[str, bool] | None:
    """``(parameter, is_flag)`` of ``if parameter is not None:`` or ``if flag:`` guarding
    one statement (and at most an ``elif ...:`` that only raises: inputs given without
    the guard are refused, which makes no call), else ``None``."""
    if len(statement.body) != 1 or not (not statement.orelse or _refusal(statement.orelse)):
        return None
    test = statement.test
    if isinstance(test, ast.Name) and test.id in params:
        return test.id, True
    if isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) \
            and test.left.id in params and len(test.ops) == 1 \
            and isinstance(test.ops[0], ast.IsNot) \
            and isinstance(test.comparators[0], ast.Constant) \
            and test.comparators[0].value is None:
        return test.left.id, False
    return None


def _refusal(orelse: list[ast.stmt]) -> bool:
    """Whether an ``if``'s else branch is ``elif ...: raise ...`` and nothing else."""
    return len(orelse) == 1 and isinstance(orelse[0], ast.If) and not orelse[0].orelse \
        and len(orelse[0].body) == 1 and isinstance(orelse[0].body[0], ast.Raise) \
        and not _athena_calls(orelse[0])


def _call(call: ast.Call, params: Mapping[str, str]
          ) -> tuple[dict[str, Any], dict[str, Param]] | None:
    """A call's keyword arguments, and its optional ones (``**_given(...)``)."""
    if call.args:
        return None
    arguments: dict[str, Any] = {}
    optional: dict[str, Param] = {}
    try:
        for keyword in call.keywords:
            if keyword.arg is not None:
                arguments[keyword.arg] = _argument(keyword.value, params)
                continue
            given = keyword.value
            if not (isinstance(given, ast.Call) and isinstance(given.func, ast.Name)
                    and given.func.id == "_given" and not given.args):
                return None
            for item in given.keywords:
                if item.arg is None or not (isinstance(item.value, ast.Name)
                                            and item.value.id in params):
                    return None
                optional[item.arg] = Param(item.value.id, params[item.value.id])
    except _Unknown:
        return None
    return arguments, optional


def _argument(node: ast.expr, params: Mapping[str, str]) -> Any:
    """A call's argument as a constant, a :class:`Param`, or a list or dict of them."""
    if isinstance(node, ast.Name) and node.id in params:
        return Param(node.id, params[node.id])
    if isinstance(node, ast.List | ast.Tuple):
        return [_argument(item, params) for item in node.elts]
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise _Unknown
        return {_argument(key, params): _argument(value, params)  # type: ignore[arg-type]
                for key, value in zip(node.keys, node.values, strict=True)}
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise _Unknown from None


def _dotted(node: ast.expr) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _athena_calls(node: ast.AST) -> list[ast.Call]:
    """The ``athena.<op>(...)`` calls under ``node``, in the order Python evaluates them
    (arguments before the call that takes them)."""
    found: list[ast.Call] = []

    def visit(current: ast.AST) -> None:
        for child in ast.iter_child_nodes(current):
            visit(child)
        if isinstance(current, ast.Call) and _dotted(current.func).startswith("athena."):
            found.append(current)

    visit(node)
    return found


def name_macros(turns: Iterable[Sequence[str]], *, min_count: int = 3, max_n: int = 8,
                limit: int | None = None) -> list[tuple[str, ...]]:
    """The contiguous n-grams (2 <= n <= ``max_n``) of operation names seen at least
    ``min_count`` times in ``turns``, most frequent first (longer first on ties), at most
    ``limit`` of them."""
    counts: Counter[tuple[str, ...]] = Counter()
    for names in turns:
        for n in range(2, min(max_n, len(names)) + 1):
            for start in range(len(names) - n + 1):
                counts[tuple(names[start:start + n])] += 1
    ranked = sorted((gram for gram, count in counts.items() if count >= min_count),
                    key=lambda gram: (-counts[gram], -len(gram), gram))
    return ranked if limit is None else ranked[:limit]


@attrs.frozen
class Choice:
    """One call of a covered turn: ``length`` ground-truth calls from ``start``, issued as
    the shortcut ``via`` (``None``: the call itself) with ``inputs``."""

    start: int
    length: int
    via: str | None = None
    inputs: Mapping[str, Any] = attrs.field(factory=dict)


def cover(steps: Sequence[Step],
          shortcuts: Sequence[tuple[str, Callable[[Sequence[Step]], Mapping[str, Any] | None],
                                    int]]) -> list[Choice]:
    """The fewest calls issuing ``steps`` in order: each a single step, or a shortcut
    ``(name, bind, longest)`` whose ``bind(run)`` accepts a run of at most ``longest``
    steps there (returning its inputs). Among covers with equally few calls, the earliest
    choice takes the longest shortcut."""
    n = len(steps)
    best: list[tuple[int, Choice | None]] = [(0, None)] * (n + 1)
    for i in range(n - 1, -1, -1):
        option = (best[i + 1][0] + 1, Choice(i, 1))
        for name, bind, longest in sorted(shortcuts, key=lambda s: -s[2]):
            for length in range(min(longest, n - i), 1, -1):
                inputs = bind(steps[i:i + length])
                if inputs is not None and best[i + length][0] + 1 < option[0]:
                    option = (best[i + length][0] + 1, Choice(i, length, name, inputs))
        best[i] = option
    choices, i = [], 0
    while i < n:
        choice = best[i][1]
        assert choice is not None
        choices.append(choice)
        i += choice.length
    return choices
