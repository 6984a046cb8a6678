"""Graph-aware recall: the memories that mention the entities a query names, fused with
``recall``'s own ranking."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
from sqlalchemy import func, select

from athena_core.graph.model import entity_key
from athena_core.memory.values import Hit
from athena_core.storage.models import GraphAliasRow, GraphEntityRow, GraphMentionRow, MemoryRow
from athena_core.storage.queries import MEMORIES_BY_KEY

if TYPE_CHECKING:
    from athena_core.memory import MemoryStore
    from athena_core.runtime import Athena

__all__ = ["RRF_K", "graph_recall", "query_entities"]

#: The constant of reciprocal rank fusion (as in the literature: 60).
RRF_K = 60
#: The longest run of words looked up as one name.
_MAX_WORDS = 5


def query_entities(db: object, scope: str, query: str) -> list[int]:
    """The entities whose name or alias is a run of up to five words of ``query``."""
    words = [word.strip(".,;:!?\"'()") for word in query.split()]
    keys = {entity_key(" ".join(words[i:j])) for i in range(len(words))
            for j in range(i + 1, min(len(words), i + _MAX_WORDS) + 1)} - {""}
    keys |= {key.removesuffix("'s") for key in keys}
    if not keys:
        return []
    wanted = sorted(keys)
    found = {row[0] for row in db.execute(  # type: ignore[attr-defined]
        select(GraphEntityRow.pk).where(GraphEntityRow.scope == scope,
                                        GraphEntityRow.key.in_(wanted)))}
    found |= {row[0] for row in db.execute(  # type: ignore[attr-defined]
        select(GraphAliasRow.entity_pk).where(GraphAliasRow.scope == scope,
                                              GraphAliasRow.key.in_(wanted)))}
    return sorted(found)


def graph_recall(athena: Athena, store: MemoryStore, query: str, *, k: int, scope: str
                 ) -> list[Hit]:
    """``recall(query)`` and the current memories mentioning the query's entities (those
    mentioning more of them first, then the newest), fused by reciprocal rank."""
    hits = athena.recall(query, k=k, scope=scope)
    concealed = store.conceal_query(store.text(query, name="query"), scope=scope)
    with store.storage.snapshot() as db:
        entities = query_entities(db, scope, concealed)
        linked: list[int] = []
        if entities:
            count = func.count(GraphMentionRow.entity_pk)
            linked = [row[0] for row in db.execute(
                select(GraphMentionRow.memory_pk)
                .join(MemoryRow, MemoryRow.pk == GraphMentionRow.memory_pk)
                .where(GraphMentionRow.entity_pk.in_(entities), MemoryRow.scope == scope,
                       MemoryRow.valid_to.is_(None))
                .group_by(GraphMentionRow.memory_pk, MemoryRow.created_at)
                .order_by(count.desc(), MemoryRow.created_at.desc()).limit(k))]
        records = {row.pk: row._mapping for row in db.execute(
            MEMORIES_BY_KEY, {"keys": linked})} if linked else {}
    scores: dict[str, float] = {}
    found: dict[str, Hit] = {}
    for rank, hit in enumerate(hits):
        scores[hit.id] = scores.get(hit.id, 0.0) + 1.0 / (RRF_K + rank + 1)
        found[hit.id] = hit
    for rank, key in enumerate(key for key in linked if key in records):
        hit = Hit.from_record(records[key])
        scores[hit.id] = scores.get(hit.id, 0.0) + 1.0 / (RRF_K + rank + 1)
        found.setdefault(hit.id, hit)
    ranked = sorted(scores, key=lambda memory_id: -scores[memory_id])[:k]
    return [attrs.evolve(found[memory_id], score=scores[memory_id]) for memory_id in ranked]
