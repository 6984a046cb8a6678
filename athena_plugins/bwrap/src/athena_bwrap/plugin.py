"""Registers the bubblewrap executor under the name ``bwrap``."""

from __future__ import annotations

from athena_core.hookspecs import Register, hookimpl


@hookimpl
def athena_register_executors(register: Register) -> None:
    from athena_bwrap.executor import BwrapExecutor

    register("bwrap", BwrapExecutor.from_context)
