"""Built-in plugin: the episodic and semantic memory layers."""

from __future__ import annotations

from athena_core.hookspecs import Register, hookimpl


@hookimpl
def athena_register_memory_layers(register: Register) -> None:
    from athena_core.memory.episodic import EpisodicLayer
    from athena_core.memory.semantic import SemanticLayer

    register("episodic", EpisodicLayer)
    register("semantic", SemanticLayer)
