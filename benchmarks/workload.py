"""Deterministic synthetic memories and queries for the benchmarks.

Texts are sentences of 8-40 words drawn with Zipf-like frequencies from a
vocabulary of a few thousand words: a head of common English words (so, as in
real text, most sentences and queries share very frequent terms) followed by
generated pseudo-words (the long tail). Memories are spread over several scopes
with uneven sizes and carry a little metadata; timestamps rise with insertion
order, like a store filled over a year.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["SCOPES", "Workload"]

#: Scopes and their share of the memories.
SCOPES = {
    "project:web": 0.35,
    "project:api": 0.25,
    "team:infra": 0.15,
    "user:alice": 0.10,
    "user:bob": 0.08,
    "agent:planner": 0.07,
}
_SOURCES = ("chat", "doc", "tool", "web", "code-review")
_TAGS = ("deploy", "db", "auth", "ui", "perf", "oncall", "billing", "search")
_COMMON_TEXT = """the of and to a in is that it for was on are as with be at by this have from or
one had not but what all were when we there can an your which their said if do will each
about how up out them then she many some so these would other into has more her two like him
see time could no make than first been its who now people my made over did down only way find
use may water long little very after words called just where most know get through back much
go good new write our me man too any day same right look think also around another came come
work three word must because does part even place well such here take why things help put years
different away again off went old number great tell men say small every found still between
name should home big give air line set own under read last never us left end along while might
next sound below saw something thought both few those always looked show large often together
asked house world going want school important until form food keep children feet land side
without boy once animals life enough took sometimes four head above kind began almost live page
got earth need far hand high year mother light parts country father let night following
picture being study second eyes soon times story boys since white days paper hard near sentence
better best across during today others however sure means knew its try told young miles sun ways
thing whole hear example heard several change answer room sea against top turned learn point
city play toward five using himself usually deploy server database user service config error
test build release branch staging production cache query index memory agent task"""
_ONSETS = ("b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v",
           "w", "z", "br", "ch", "cl", "dr", "fl", "gr", "pl", "pr", "sh", "st", "th", "tr")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "io", "ou")
_CODAS = ("", "", "", "n", "r", "s", "l", "m", "x", "nd", "rt", "st")
_EPOCH_END = datetime(2026, 11, 1, tzinfo=UTC)


_COMMON = _COMMON_TEXT.split()


def _vocabulary(size: int, rnd: random.Random) -> list[str]:
    words = list(dict.fromkeys(_COMMON))
    seen = set(words)
    while len(words) < size:
        word = "".join(rnd.choice(_ONSETS) + rnd.choice(_VOWELS)
                       for _ in range(rnd.randint(1, 3))) + rnd.choice(_CODAS)
        if len(word) > 2 and word not in seen:
            seen.add(word)
            words.append(word)
    return words[:size]


class Workload:
    """Memories and queries, identical for a given seed and vocabulary size."""

    def __init__(self, *, seed: int = 20261101, vocabulary: int = 4000, zipf_s: float = 1.07
                 ) -> None:
        self.seed = seed
        rnd = random.Random(seed)
        self.words = _vocabulary(vocabulary, rnd)
        self._cum_weights = list(itertools.accumulate(
            1.0 / rank ** zipf_s for rank in range(1, len(self.words) + 1)))
        self._scopes = list(SCOPES)
        self._scope_weights = list(itertools.accumulate(SCOPES.values()))

    # --- pieces ----------------------------------------------------------------

    def _words(self, rnd: random.Random, count: int) -> list[str]:
        return rnd.choices(self.words, cum_weights=self._cum_weights, k=count)

    def sentence(self, rnd: random.Random) -> str:
        words = self._words(rnd, rnd.randint(8, 40))
        return (" ".join(words)).capitalize() + "."

    def scope(self, rnd: random.Random) -> str:
        return rnd.choices(self._scopes, cum_weights=self._scope_weights)[0]

    def metadata(self, rnd: random.Random, number: int) -> dict[str, Any]:
        meta: dict[str, Any] = {"source": rnd.choice(_SOURCES), "session": f"s{number // 40}"}
        if rnd.random() < 0.3:
            meta["tags"] = sorted(rnd.sample(_TAGS, rnd.randint(1, 3)))
        if rnd.random() < 0.2:
            meta["confidence"] = round(rnd.random(), 2)
        return meta

    def memory(self, rnd: random.Random, number: int) -> dict[str, Any]:
        """Arguments for ``athena.remember``: text, scope, metadata, importance."""
        return {"text": self.sentence(rnd), "scope": self.scope(rnd),
                "metadata": self.metadata(rnd, number),
                "importance": round(rnd.uniform(0.1, 0.9), 2)}

    def queries(self, count: int, *, stream: int = 2) -> list[tuple[str, str]]:
        """``(query, scope)`` pairs: 3-8 words from the same vocabulary and frequencies."""
        rnd = random.Random(f"{self.seed}/queries/{stream}")
        return [(" ".join(self._words(rnd, rnd.randint(3, 8))), self.scope(rnd))
                for _ in range(count)]

    def new_memories(self, count: int, *, stream: int = 3) -> list[dict[str, Any]]:
        """Memories not in any generated store (for timing ``remember``)."""
        rnd = random.Random(f"{self.seed}/new/{stream}")
        return [self.memory(rnd, 10_000_000 + i) for i in range(count)]

    # --- export files ------------------------------------------------------------

    def export_records(self, count: int) -> Iterator[dict[str, Any]]:
        """``count`` memories as records of Athena's export format, oldest first."""
        from athena_core._ids import new_id

        rnd = random.Random(f"{self.seed}/store")
        start = _EPOCH_END - timedelta(days=365)
        step = timedelta(days=365) / max(count, 1)
        for number in range(count):
            memory = self.memory(rnd, number)
            stamp = (start + step * number).isoformat()
            yield {"id": new_id(), "layer": "semantic", "scope": memory["scope"],
                   "text": memory["text"], "metadata": memory["metadata"],
                   "importance": memory["importance"], "created_at": stamp,
                   "updated_at": stamp, "valid_from": stamp, "valid_to": None,
                   "fields": {}}

    def write_export(self, path: Path, count: int,
                     progress: Callable[[int, int], None] | None = None) -> int:
        """Write an importable JSON Lines export of ``count`` memories; returns its size."""
        from athena_core.transfer import FORMAT, VERSION

        with path.open("w", encoding="utf-8") as out:
            out.write(json.dumps({"format": FORMAT, "version": VERSION}) + "\n")
            for number, record in enumerate(self.export_records(count), start=1):
                out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
                if progress and (number % 5000 == 0 or number == count):
                    progress(number, count)
        return path.stat().st_size
