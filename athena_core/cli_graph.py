"""``athena graph ...``: the knowledge graph's operations as commands.

One command per ``graph`` operation (``athena graph relate``, ``athena graph as-of``,
...), made from the operation's own declaration: its positional parameters are
arguments, its keyword parameters ``--options`` (``--valid-from``, ``--aliases`` given
once per value, ``--attributes`` as JSON), its docstring the help. Each runs the
registered operation, so the checks, scope binding and permissions are the same as from
a program. ``--json`` prints the result as JSON; otherwise one line per item.
"""

from __future__ import annotations

import argparse
import inspect
import json
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from athena_core.cli import _open, _print_json

__all__ = ["register"]


def _operations() -> list[tuple[str, Any]]:
    """(name, spec) of each ``graph`` operation, in declaration order."""
    from athena_core.graph.service import Graph

    return [(name, member.__athena_operation__)
            for name, member in vars(Graph).items()
            if hasattr(member, "__athena_operation__")]


def _plain(kind: Any) -> Any:
    """``kind`` without ``None`` (an optional parameter's type)."""
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        rest = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return rest[0] if len(rest) == 1 else kind
    return kind


def _scalar(text: str) -> Any:
    """A command-line value of a parameter that takes a string, number or boolean."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return value if isinstance(value, int | float | bool) else text


def _add_parameter(sub: argparse.ArgumentParser, parameter: inspect.Parameter,
                   kind: Any) -> None:
    kind = _plain(kind)
    origin = typing.get_origin(kind)
    option: dict[str, Any] = {}
    if kind is bool:
        option = {"action": "store_true"}
    elif kind is int:
        option = {"type": int}
    elif origin is typing.Literal:
        option = {"choices": typing.get_args(kind)}
    elif origin in (Sequence, list, tuple) or kind is Sequence:
        option = {"action": "append", "metavar": parameter.name[:-1].upper()}
    elif origin is Mapping or kind is Mapping:
        option = {"type": json.loads, "metavar": "JSON"}
    elif kind is not str and kind is not Any and "datetime" not in str(kind):
        option = {"type": _scalar}
    if parameter.kind is parameter.POSITIONAL_OR_KEYWORD and \
            parameter.default is inspect.Parameter.empty:
        sub.add_argument(parameter.name, **option)
    else:
        sub.add_argument(f"--{parameter.name.replace('_', '-')}", dest=parameter.name,
                         default=None if kind is not bool else False, **option)


def _handler(name: str, spec: Any) -> Callable[[argparse.Namespace], int]:
    names = [p for p in spec.signature.parameters if p != "scope"]

    def run(args: argparse.Namespace) -> int:
        given = {p: getattr(args, p) for p in names if getattr(args, p) not in (None, False)}
        with _open(args) as athena:
            result = getattr(athena.graph, name)(**given, scope=args.scope)
        result = [_jsonable(item) for item in result] if isinstance(result, list) \
            else result
        if args.json:
            _print_json(result)
        elif isinstance(result, str):
            print(result)
        elif isinstance(result, list):
            for item in result:
                print(json.dumps(item, ensure_ascii=False, default=str))
        else:
            print(json.dumps(result, ensure_ascii=False, default=str, indent=2))
        return 0

    return run


def _jsonable(item: Any) -> Any:
    """A hit (an attrs value) as JSON data; other items unchanged."""
    import attrs

    return attrs.asdict(item) if attrs.has(type(item)) else item


def register(commands: Any, common: argparse.ArgumentParser,
             scoped: argparse.ArgumentParser, *, subcommands: bool = True) -> None:
    """Add ``athena graph`` and, with ``subcommands``, a subcommand per ``graph``
    operation (reading the declarations imports the storage layer, which ``athena
    --help`` and other commands do not need)."""
    graph = commands.add_parser(
        "graph", help="the knowledge graph: entities, relations, facts in two times",
        description="Entities, typed relations and observations, each true over a valid "
                    "interval and believed over a record interval (docs/layers.md).")
    graph_commands = graph.add_subparsers(title="commands", metavar="COMMAND")
    for name, spec in _operations() if subcommands else ():
        doc = spec.doc
        sub = graph_commands.add_parser(
            name.replace("_", "-"), parents=[common, scoped], help=doc.split(".")[0],
            description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
        for parameter in spec.signature.parameters.values():
            if parameter.name != "scope":
                _add_parameter(sub, parameter, spec.hints.get(parameter.name, str))
        sub.set_defaults(handler=_handler(name, spec))
