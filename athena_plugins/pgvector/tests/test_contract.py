"""The vector backend contract, against a real PostgreSQL with pgvector."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from athena_core.retrieval.vectors import VectorBackendContext
from athena_core.testing import PersistentVectorBackendContract
from sqlalchemy import create_engine, text

from athena_pgvector.backend import PgVectorBackend


def table_for(data_dir: Path) -> str:
    """One table per test directory: reopening with the same directory finds the same table."""
    return "contract_" + hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]


class TestPgVectorContract(PersistentVectorBackendContract):
    name = "pgvector"
    exact = False  # HNSW is approximate; small filtered sets are searched exactly
    min_recall = 0.95

    @pytest.fixture(autouse=True)
    def _database(self, shared_database: str) -> None:
        self.url = shared_database

    def make_backend(self, dimension: int, data_dir: Path) -> PgVectorBackend:
        return PgVectorBackend.from_context(VectorBackendContext(
            dimension=dimension, options={"url": self.url, "table": table_for(data_dir)}))

    def damage(self, data_dir: Path) -> None:
        """Delete an entry behind the backend's back, as a careless hand or restore would."""
        engine = create_engine(self.url)
        with engine.begin() as conn:
            deleted = conn.execute(text(
                f"DELETE FROM {table_for(data_dir)} WHERE key = "
                f"(SELECT min(key) FROM {table_for(data_dir)})")).rowcount
        engine.dispose()
        assert deleted == 1
