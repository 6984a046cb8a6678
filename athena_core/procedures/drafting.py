"""Turning a mined shape into a parameterised procedure's code.

The literals that differed between the shape's runs become the typed parameters of an
entry function ``run``; the ones that stayed the same stay in the code. Literals whose
values moved together in every run (the same query passed to two operations) become one
parameter. A parameter is named after what its literal is passed to: the keyword
(``k=5`` -> ``k``), the operation's parameter at that position, read from the API
registry (``athena.recall("deploys")`` -> ``query``), or the variable a top-level
assignment gives it (``topic = "deploys"``, which is then dropped: the parameter takes
its place); otherwise ``text_1``, ``number_1`` or ``flag_1`` by type. A name the program
already uses gets a suffix (``_2``, ...).

The program's leading imports stay at module level; the rest becomes the body of
``run``, and a final expression - what the program returned as its value in
``Athena.execute`` - is returned. The code is written by :func:`ast.unparse`, so the
program's comments and layout are not kept.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import sys
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from athena_core._ast import parse_python
from athena_core.procedures.gate import _athena_aliases
from athena_core.procedures.mining import Shape, literals, names_in

if TYPE_CHECKING:
    from athena_core.api import ApiRegistry

__all__ = ["ENTRY", "Draft", "Parameter", "draft", "operation_of"]

#: The entry function of a learned procedure.
ENTRY = "run"
_FALLBACK = {"str": "text", "int": "number", "float": "number", "bool": "flag"}


@attrs.frozen
class Parameter:
    """A literal that varied between the runs, now an input."""

    name: str
    #: Its annotation: ``str``, ``int``, ``float`` or ``bool``.
    type: str
    #: Its value in each run of the shape, oldest first.
    values: tuple[Any, ...]
    #: The literal positions (indexes into the shape's slots) it replaces.
    slots: tuple[int, ...]


@attrs.frozen
class Draft:
    """The code of a proposal and what it was made from."""

    code: str
    parameters: tuple[Parameter, ...]
    #: The operations it calls, by name, in the order first called.
    permissions: tuple[str, ...]
    #: Literals left in the code because they were the same in every run.
    constant_literals: int
    #: Whether ``run`` returns the program's final expression (else it returns ``None``).
    returns_value: bool


def draft(shape: Shape, registry: ApiRegistry, *, docstring: str) -> Draft:
    """The procedure code for ``shape`` (its first run's program, parameterised)."""
    runs = shape.runs
    columns = [tuple(run.values[slot] for run in runs) for slot in range(len(shape.slots))]
    varying: dict[tuple[Any, ...], list[int]] = {}
    for slot, column in enumerate(columns):
        if len({(type(value), value) for value in column}) > 1:
            varying.setdefault(tuple((type(v).__name__, v) for v in column), []).append(slot)
    tree = parse_python(runs[0].program)
    nodes = literals(tree)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    aliases = _athena_aliases(tree)
    used = _bound_names(tree) | set(aliases) | {ENTRY}
    dropped: set[int] = set()   # ids of top-level assignments a parameter replaces
    taken: set[str] = set()
    parameters: list[Parameter] = []
    unnamed: dict[str, int] = {}
    for slots in varying.values():
        hint, assignment = next(((found, binding) for found, binding in (
            _hint(nodes[slot], parents, aliases, registry, tree) for slot in slots)
            if found is not None), (None, None))
        if hint is None:
            base = _FALLBACK[shape.slots[slots[0]].type]
            unnamed[base] = unnamed.get(base, 0) + 1
            hint = f"{base}_{unnamed[base]}"
        if assignment is not None and hint not in taken:
            name = hint  # the parameter takes the assignment's place
            dropped.add(id(assignment))
        else:
            name = _unique(hint, taken | used)
        taken.add(name)
        parameters.append(Parameter(name=name, type=shape.slots[slots[0]].type,
                                    values=columns[slots[0]], slots=tuple(slots)))
    by_slot = {slot: parameter.name for parameter in parameters for slot in parameter.slots}
    replaced = {id(nodes[slot]): name for slot, name in by_slot.items()}
    body = _Substitute(replaced).visit(tree).body
    body = [statement for statement in body if id(statement) not in dropped]
    imports = []
    while body and isinstance(body[0], ast.Import | ast.ImportFrom):
        imports.append(body.pop(0))
    returns_value = bool(body) and isinstance(body[-1], ast.Expr)
    if returns_value:
        last = body.pop()
        assert isinstance(last, ast.Expr)
        body.append(ast.Return(last.value))
    if not body:
        body = [ast.Return(ast.Constant(None))]
    needs_any = returns_value
    function = ast.FunctionDef(
        name=ENTRY,
        args=ast.arguments(posonlyargs=[], args=[
            ast.arg(parameter.name, ast.Name(parameter.type, ast.Load()))
            for parameter in parameters], kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=[ast.Expr(ast.Constant(textwrap.fill(docstring, 84).replace("\n", "\n    "))),
              *body], decorator_list=[],
        returns=ast.Name("Any" if needs_any else "None", ast.Load()))
    if sys.version_info >= (3, 12):
        setattr(function, "type_params", [])  # noqa: B010 - a field Python 3.11 lacks
    header: list[ast.stmt] = [ast.ImportFrom("typing", [ast.alias("Any")], 0)] \
        if needs_any else []
    module = ast.Module(body=[*_future_first(imports, header), function], type_ignores=[])
    code = ast.unparse(ast.fix_missing_locations(module)) + "\n"
    constants = len(shape.slots) - len(by_slot)
    return Draft(code=code, parameters=tuple(parameters),
                 permissions=_permissions(shape.calls, tree, aliases, registry),
                 constant_literals=constants, returns_value=returns_value)


def operation_of(function: ast.expr, aliases: dict[str, str],
                 registry: ApiRegistry) -> str | None:
    """The registered operation a call's ``function`` names through the ``athena`` module
    (``athena.recall``, ``athena.episodic.record``, an imported alias), or ``None``."""
    parts: list[str] = []
    node = function
    while isinstance(node, ast.Attribute):
        parts.insert(0, node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    path = ".".join([aliases[node.id], *parts] if aliases[node.id] else parts)
    return path if path in registry else None


def _hint(node: ast.Constant, parents: dict[ast.AST, ast.AST], aliases: dict[str, str],
          registry: ApiRegistry, tree: ast.Module) -> tuple[str | None, ast.Assign | None]:
    """The name the literal's place suggests, and the top-level assignment it is the value
    of (if the name comes from one that binds it only there)."""
    child: ast.AST = node
    parent = parents.get(child)
    if isinstance(parent, ast.UnaryOp):  # -5
        child, parent = parent, parents.get(parent)
    if isinstance(parent, ast.keyword):
        return parent.arg, None
    if isinstance(parent, ast.Call) and child in parent.args:
        index = parent.args.index(child)
        operation = operation_of(parent.func, aliases, registry)
        if operation is not None and not any(isinstance(arg, ast.Starred)
                                             for arg in parent.args[:index]):
            positional = [p.name for p in registry.get(operation).signature.parameters.values()
                          if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            if index < len(positional):
                return positional[index], None
        return None, None
    if isinstance(parent, ast.Assign) and parent.value is child and parent in tree.body:
        name = _assigned_name(parent)
        if name is not None and _bindings(tree, name) == 1:
            return name, parent
    return None, None


def _assigned_name(statement: ast.Assign) -> str | None:
    if len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
        return statement.targets[0].id
    return None


def _bindings(tree: ast.Module, name: str) -> int:
    """How many times ``tree`` binds ``name`` (assignments, loops, imports, defs, ...)."""
    return sum(_binds(node, name) for node in ast.walk(tree))


def _binds(node: ast.AST, name: str) -> bool:
    if isinstance(node, ast.Name):
        return node.id == name and not isinstance(node.ctx, ast.Load)
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name == name
    if isinstance(node, ast.alias):
        return (node.asname or node.name.split(".")[0]) == name
    if isinstance(node, ast.arg):
        return node.arg == name
    return isinstance(node, ast.Global | ast.Nonlocal) and name in node.names


def _bound_names(tree: ast.Module) -> set[str]:
    """Every name the program uses or binds, and the builtins (so that no parameter
    shadows them)."""
    bound, read = names_in(tree)
    return set(dir(builtins)) | bound | read


def _unique(name: str, taken: set[str]) -> str:
    if not name.isidentifier() or keyword.iskeyword(name):
        name = f"{name}_value" if name.isidentifier() else "value"
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}_{number}"
    return candidate


def _future_first(imports: Sequence[ast.stmt], header: Sequence[ast.stmt]) -> list[ast.stmt]:
    """``from __future__`` imports must come first."""
    future = [s for s in imports if isinstance(s, ast.ImportFrom) and s.module == "__future__"]
    return [*future, *(s for s in imports if s not in future), *header]


def _permissions(calls: Sequence[str], tree: ast.Module, aliases: dict[str, str],
                 registry: ApiRegistry) -> tuple[str, ...]:
    """The operations the runs called, then any other the code names in a call."""
    found = list(dict.fromkeys(calls))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            operation = operation_of(node.func, aliases, registry)
            if operation is not None and operation not in found:
                found.append(operation)
    return tuple(found)


class _Substitute(ast.NodeTransformer):
    """Replaces the literal nodes given by id with a parameter's name."""

    def __init__(self, names: dict[int, str]) -> None:
        self.names = names

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        name = self.names.get(id(node))
        return node if name is None else ast.copy_location(ast.Name(name, ast.Load()), node)
