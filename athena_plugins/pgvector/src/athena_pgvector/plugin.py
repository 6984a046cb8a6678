"""Registers the PostgreSQL + pgvector vector backend under the name ``pgvector``."""

from __future__ import annotations

from athena_core.hookspecs import Register, hookimpl

__all__ = ["athena_register_vector_backends"]


@hookimpl
def athena_register_vector_backends(register: Register) -> None:
    from athena_pgvector.backend import PgVectorBackend

    register("pgvector", PgVectorBackend.from_context)
