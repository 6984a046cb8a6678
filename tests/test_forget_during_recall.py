"""A memory forgotten while a recall ranks its candidates is simply left out.

The candidates come from the full-text and vector searches; ranking then reads
what it needs of each (time, importance, text) in a transaction of its own. A
forget that commits in between leaves candidates with nothing to read: each
ranking term must treat them as absent, never raise. (tests/test_fuzz_operations.py
ranks while another thread forgets, with every term on.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

T0 = datetime(2026, 6, 1, tzinfo=UTC)

#: Every ranking term that reads a candidate's row, alone (the others off).
TERMS = {
    "recency": {"recency_weight": 0.5},
    "importance": {"importance_weight": 0.5},
    "period": {"period_weight": 0.5},
    "actor": {"actor_weight": 0.5},
    "question": {"question_penalty": 0.5},
    "expansion": {"expansion_weight": 0.5},
    "neighbours": {"neighbour_weight": 0.5, "neighbour_window": 2},
}
ALL_OFF = {"recency_weight": 0.0, "importance_weight": 0.0, "period_weight": 0.0,
           "actor_weight": 0.0, "question_penalty": 0.0, "expansion_weight": 0.0,
           "neighbour_weight": 0.0}


def _forget_after_search(athena, victim: str, monkeypatch) -> None:
    """Forget ``victim`` once, right after the next recall's vector search (before ranking)."""
    index = athena.index
    search = index._dense
    done = []

    def dense_then_forget(*args, **kwargs):
        found = search(*args, **kwargs)
        if not done:
            done.append(athena.forget(victim))
        return found

    monkeypatch.setattr(index, "_dense", dense_then_forget)


@pytest.mark.parametrize("term", sorted(TERMS))
def test_a_memory_forgotten_between_search_and_ranking_is_left_out(athena_factory, monkeypatch,
                                                                    term):
    athena = athena_factory(retrieval={**ALL_OFF, **TERMS[term]})
    ids = [athena.episodic.record(f"Melanie: in March 2026 we deployed the billing service {n}?",
                                  occurred_at=T0 + timedelta(days=n), session="s1",
                                  actor="Melanie", importance=0.2 + 0.1 * n)
           for n in range(4)]
    _forget_after_search(athena, ids[1], monkeypatch)
    hits = athena.recall("what did Melanie deploy in March 2026, the billing service?", k=4)
    assert ids[1] not in [hit.id for hit in hits]
    assert {hit.id for hit in hits} <= set(ids)
    assert hits, "the memories not forgotten are still found"
