"""Registers the RestrictedPython executor under the name ``restrictedpython``.

It is never chosen automatically (Athena's automatic choice tries only ``bwrap``
and ``srt``); select it with ``[execution] executor = "restrictedpython"``.
"""

from __future__ import annotations

from athena_core.hookspecs import Register, hookimpl


@hookimpl
def athena_register_executors(register: Register) -> None:
    from athena_restrictedpython.executor import RestrictedPythonExecutor

    register("restrictedpython", RestrictedPythonExecutor.from_context)
