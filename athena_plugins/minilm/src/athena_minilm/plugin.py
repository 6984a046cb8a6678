"""Registers the embedders ``minilm`` (all-MiniLM-L6-v2) and ``mpnet`` (all-mpnet-base-v2).

Select one with ``[retrieval] embedder = "minilm"`` or ``"mpnet"`` (then run
``athena reindex`` on a store whose vectors were made by another embedder).
``minilm`` is the default when this plugin is installed; ``mpnet`` needs its own
weights installed too (see the plugin's README).
"""

from __future__ import annotations

from athena_core.hookspecs import Register, hookimpl


@hookimpl
def athena_register_embedders(register: Register) -> None:
    from athena_minilm.embedder import MiniLMEmbedder, MPNetEmbedder

    register("minilm", MiniLMEmbedder.from_context)
    register("mpnet", MPNetEmbedder.from_context)
