"""Athena's pgvector vector backend: vectors in PostgreSQL, searched with an HNSW index.

Select it with ``[retrieval] vector_backend = "pgvector"``. The backend class is
:class:`athena_pgvector.backend.PgVectorBackend`; importing this package loads
nothing heavy.
"""

__all__: list[str] = []
