"""Checks of a plugin's operations, made when the plugin is loaded, before any call.

An operation that cannot be served must fail when its plugin is checked - naming the
plugin and the operation - and not on every later call or sandboxed run. What the
registry needs of an operation at run time is checked here: a valid name that is not
reserved (:meth:`athena_core.Athena.reserved_names`), type hints that resolve, and
a description (API tree stub and argument schema) that can be generated.
"""

from __future__ import annotations

from collections.abc import Sequence

from athena_core.api.registry import Operation, name_problem
from athena_core.errors import OperationDeclarationError

__all__ = ["check_plugin_operations", "check_top_level_name"]


def check_top_level_name(name: str, *, plugin: str, what: str) -> None:
    """Refuse ``name`` (an operation's or a memory layer's) if it is invalid or starts with a
    name Athena reserves."""
    from athena_core.runtime import Athena

    problem = name_problem(name)
    if problem is None and name.split(".", 1)[0] in Athena.reserved_names():
        problem = (f"{name.split('.', 1)[0]!r} is reserved: `athena.{name.split('.', 1)[0]}` "
                   "is already an operation or attribute of Athena or of a program's "
                   "`athena` module")
    if problem is not None:
        raise OperationDeclarationError(f"The {what} {name!r} of plugin {plugin!r}: {problem}.",
                                        hint="Choose another name, e.g. under the plugin's "
                                             "own namespace (`myplugin.lookup`).")


def check_plugin_operations(ops: Sequence[Operation]) -> None:
    """Check one plugin's ``ops`` as the registry will use them; raise
    :class:`~athena_core.errors.OperationDeclarationError` for the first that fails."""
    from athena_core.api.schema import input_schema
    from athena_core.discovery.tree import render_tree

    for op in ops:
        check_top_level_name(op.name, plugin=op.provider, what="operation")
        op.spec.resolve(op.name)
    if not ops:
        return
    try:  # what every sandboxed run, discovery and MCP generate from the declarations
        render_tree(ops)
        for op in ops:
            input_schema(op)
    except Exception as exc:
        names = ", ".join(op.name for op in ops)
        raise OperationDeclarationError(
            f"The operations of plugin {ops[0].provider!r} ({names}) cannot be described to "
            f"programs: {type(exc).__name__}: {exc}.") from exc
