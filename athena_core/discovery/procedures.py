"""``search_api`` over procedures: active procedures ranked by their description *and* code.

:class:`ProcedureIndex` is a BM25 index with postings by term, so a search costs in
proportion to the procedures that share a word with the query, not to all of them. A
procedure's document is its id, description, tags and input names (weighted up) and its
code, tokenised as :mod:`.search` tokenises operations (snake_case split, plurals folded,
the same everyday words mapped), so a word that appears only in the code finds it.

:meth:`ProcedureIndex.sync` brings the index up to a given set of active versions (by
procedure id), reading only the versions it does not hold yet: a saved and admitted
version is added, a retired one removed, and nothing else is read again.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from athena_core.discovery.search import (
    DEFAULT_LIMIT,
    Detail,
    _query_terms,
    _terms,
    check_search,
)
from athena_core.procedures.model import Procedure

__all__ = ["IndexedProcedure", "ProcedureIndex", "run_example"]

_FIELD_WEIGHTS = {"id": 3.0, "description": 2.0, "tags": 2.0, "inputs": 1.0, "code": 1.0}
_K1, _B = 1.2, 0.75
#: A procedure scoring below this share of the best one's BM25 score is left out. Lower
#: than :data:`~.search.RELATIVE_FLOOR` for operations, which was retuned (to 0.35) on
#: questions about operations only; the procedures' own ranking was not.
RELATIVE_FLOOR = 0.2
#: Inputs that ``athena.procedures.run`` takes itself: such an input goes in ``inputs={}``.
_RUN_OWN = frozenset({"id", "inputs"})


@attrs.frozen
class IndexedProcedure:
    """What a search returns of one procedure: its active version's definition."""

    procedure: Procedure
    commit: str
    #: The URI of its skill's ``SKILL.md``, if it is offered as a skill.
    skill: str | None = None


def run_example(procedure: Procedure) -> str:
    """How a program runs ``procedure``, its required inputs elided:
    ``athena.procedures.run("notes/recent", topic=...)``."""
    required = list(procedure.input_schema.get("required", ()))
    if not required:
        arguments = ""
    elif _RUN_OWN.isdisjoint(required) and all(name.isidentifier() for name in required):
        arguments = ", " + ", ".join(f"{name}=..." for name in required)
    else:
        arguments = ", inputs={" + ", ".join(f'"{name}": ...' for name in required) + "}"
    return f'athena.procedures.run("{procedure.id}"{arguments})'


def _document(procedure: Procedure, code: str) -> dict[str, float]:
    fields = {"id": procedure.id, "description": procedure.description,
              "tags": " ".join(procedure.tags),
              "inputs": " ".join(procedure.input_schema.get("properties", {})), "code": code}
    bag: dict[str, float] = {}
    for field, text in fields.items():
        for term in _terms(text):
            bag[term] = bag.get(term, 0.0) + _FIELD_WEIGHTS[field]
    return bag


class ProcedureIndex:
    """Search over active procedure versions; kept up to date with :meth:`sync`
    (thread-safe)."""

    def __init__(self) -> None:
        self._held: dict[str, IndexedProcedure] = {}
        #: Each held procedure's weighted term frequencies.
        self._bags: dict[str, dict[str, float]] = {}
        self._lengths: dict[str, float] = {}
        self._postings: dict[str, dict[str, float]] = {}
        self._total = 0.0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._held)

    def sync(self, active: Mapping[str, str],
             load: Callable[[str, str], tuple[IndexedProcedure, str]]) -> None:
        """Hold exactly the versions ``active`` names (procedure id -> commit). A version
        not held yet is read with ``load(id, commit)``, which returns it and its code."""
        with self._lock:
            for id in [id for id, held in self._held.items() if active.get(id) != held.commit]:
                self._remove(id)
            for id, commit in active.items():
                if id not in self._held:
                    found, code = load(id, commit)
                    self._add(id, found, code)

    def search(self, query: str, *, detail: Detail = "summary", limit: int = DEFAULT_LIMIT
               ) -> list[str] | list[dict[str, Any]]:
        """The procedures most relevant to ``query``, best first: ids (``names``), or
        ``id``, ``description``, ``run`` (how to call it) and ``input_schema``
        (``summary``), plus ``output_schema``, ``permissions``, ``tags`` and ``skill``
        (``full``). Only procedures sharing a word with the query are returned, and of
        those only the ones scoring at least :data:`RELATIVE_FLOOR` of the best."""
        check_search(query, detail, limit)
        with self._lock:
            ranked = self._ranked(query)[:limit]
            chosen = [self._held[id] for id in ranked]
        if detail == "names":
            return [found.procedure.id for found in chosen]
        return [_described(found, full=detail == "full") for found in chosen]

    def _ranked(self, query: str) -> list[str]:
        count = len(self._held)
        if not count:
            return []
        average = self._total / count or 1.0
        scores: dict[str, float] = {}
        for term, weight in _query_terms(query).items():
            posting = self._postings.get(term)
            if not posting:
                continue
            idf = math.log(1 + (count - len(posting) + 0.5) / (len(posting) + 0.5))
            for id, tf in posting.items():
                norm = _K1 * (1 - _B + _B * self._lengths[id] / average)
                scores[id] = scores.get(id, 0.0) + weight * idf * tf * (_K1 + 1) / (tf + norm)
        floor = RELATIVE_FLOOR * max(scores.values(), default=0.0)
        return sorted((id for id, score in scores.items() if score >= floor),
                      key=lambda id: (-scores[id], id))

    def _add(self, id: str, found: IndexedProcedure, code: str) -> None:
        bag = _document(found.procedure, code)
        self._held[id], self._bags[id] = found, bag
        self._lengths[id] = sum(bag.values())
        self._total += self._lengths[id]
        for term, tf in bag.items():
            self._postings.setdefault(term, {})[id] = tf

    def _remove(self, id: str) -> None:
        del self._held[id]
        bag = self._bags.pop(id)
        self._total -= self._lengths.pop(id)
        for term in bag:
            posting = self._postings[term]
            del posting[id]
            if not posting:
                del self._postings[term]


def _described(found: IndexedProcedure, *, full: bool) -> dict[str, Any]:
    procedure = found.procedure
    data: dict[str, Any] = {"id": procedure.id, "description": procedure.description,
                            "run": run_example(procedure),
                            "input_schema": procedure.input_schema}
    if full:
        data.update(output_schema=procedure.output_schema,
                    permissions=list(procedure.permissions), tags=list(procedure.tags),
                    skill=found.skill)
    return data
