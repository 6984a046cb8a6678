"""Registers the Sandbox Runtime executor under the name ``srt``."""

from __future__ import annotations

from athena_core.hookspecs import Register, hookimpl


@hookimpl
def athena_register_executors(register: Register) -> None:
    from athena_srt.executor import SrtExecutor

    register("srt", SrtExecutor.from_context)
