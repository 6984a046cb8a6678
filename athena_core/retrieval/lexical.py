"""Full-text retrieval with the database's own index: SQLite FTS5 (BM25) or PostgreSQL."""

from __future__ import annotations

import re

from sqlalchemy import column, func, literal_column, select, table
from sqlalchemy.orm import Session

from athena_core.retrieval.filters import RecallFilter
from athena_core.storage.models import MemoryRow
from athena_core.storage.queries import memory_conditions

__all__ = ["lexical_search", "purge_deleted_text"]

_TOKEN = re.compile(r"\w+", re.UNICODE)
_MAX_TERMS = 64
_fts = table("memories_fts", column("rowid"))
#: The text search configuration, inlined as SQL (not a bound parameter) so that the
#: expression matches the GIN index on ``to_tsvector('english', text)`` in every plan,
#: generic plans of prepared statements included.
_PG_CONFIG = literal_column("'english'::regconfig")


def query_terms(query: str) -> list[str]:
    """Words of ``query``, deduplicated, in order (operators and punctuation dropped)."""
    seen: dict[str, None] = {}
    for token in _TOKEN.findall(query.lower()):
        seen.setdefault(token, None)
    return list(seen)[:_MAX_TERMS]


def lexical_search(session: Session, query: str, *, limit: int, where: RecallFilter
                   ) -> list[int]:
    """Keys of the best full-text matches for any word of ``query``, best first."""
    terms = query_terms(query)
    if not terms or limit <= 0:
        return []
    if session.get_bind().dialect.name == "sqlite":
        match = " OR ".join(f'"{t}"' for t in terms)
        rank = func.bm25(literal_column("memories_fts"))
        stmt = (select(MemoryRow.pk)
                .select_from(_fts.join(MemoryRow, MemoryRow.pk == _fts.c.rowid))
                .where(literal_column("memories_fts").op("MATCH")(match),
                       memory_conditions(where))
                .order_by(rank).limit(limit))
    else:
        document = func.to_tsvector(_PG_CONFIG, MemoryRow.text)
        tsquery = func.to_tsquery(_PG_CONFIG, " | ".join(terms))
        stmt = (select(MemoryRow.pk)
                .where(document.op("@@")(tsquery), memory_conditions(where))
                .order_by(func.ts_rank_cd(document, tsquery).desc()).limit(limit))
    return list(session.scalars(stmt))


def purge_deleted_text(session: Session) -> None:
    """Rewrite the full-text index so deleted rows leave no terms behind (SQLite FTS5).

    FTS5 records deletions as tombstones and keeps the old terms in its segments
    until they are merged; ``optimize`` merges everything now.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql(
            "INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")
