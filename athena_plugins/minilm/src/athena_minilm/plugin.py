"""Registers the all-MiniLM-L6-v2 embedder under the name ``minilm``.

Select it with ``[retrieval] embedder = "minilm"`` (then run ``athena reindex``
on a store whose vectors were made by another embedder).
"""

from __future__ import annotations

from athena_core.hookspecs import Register, hookimpl


@hookimpl
def athena_register_embedders(register: Register) -> None:
    from athena_minilm.embedder import MiniLMEmbedder

    register("minilm", MiniLMEmbedder.from_context)
