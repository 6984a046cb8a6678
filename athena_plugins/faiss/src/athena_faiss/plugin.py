"""Registers the faiss vector backend under the name ``faiss``.

Select it with ``[retrieval] vector_backend = "faiss"``. Importing this module
imports neither numpy nor faiss.
"""

from __future__ import annotations

from athena_core.hookspecs import Register, hookimpl


@hookimpl
def athena_register_vector_backends(register: Register) -> None:
    from athena_faiss.index import FaissVectorIndex

    register("faiss", FaissVectorIndex.from_context)
