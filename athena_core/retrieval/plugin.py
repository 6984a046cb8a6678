"""Built-in plugin: the hashing embedder and the exact numpy vector index."""

from __future__ import annotations

from athena_core.hookspecs import Register, hookimpl


@hookimpl
def athena_register_embedders(register: Register) -> None:
    from athena_core.retrieval.embedders import HashingEmbedder

    register("hashing", HashingEmbedder.from_context)


@hookimpl
def athena_register_vector_backends(register: Register) -> None:
    from athena_core.retrieval.vectors import ExactVectorIndex

    register("exact", ExactVectorIndex.from_context)
