"""Full-text retrieval with the database's own index: SQLite FTS5 (BM25) or PostgreSQL.

Any word of the query may match (OR). On SQLite, what a query costs is kept
bounded however large the store grows, the way Lucene's common-terms query does
it: a memory must contain at least one of the query's *rare* words to match,
and the other words only add to the BM25 score of memories that do.

* A word is common when more than :data:`COMMON_WORD_SHARE` of memories, and at
  least :data:`ALWAYS_RARE_BELOW` of them, contain it, so small stores match
  exactly; if every word is common, the least common one counts as rare.
* The rare words a memory must contain are taken rarest first while the
  memories containing them stay within :data:`MATCH_BUDGET` (at least one word
  is always taken): each matching memory is scored, joined and filtered, so at
  1M memories a 4%-word alone would cost more than the rest of recall. The
  other rare words only score.
* Common words score too, unless more than :data:`SCORED_BELOW` memories
  contain them: BM25 counts, on every query, the memories that contain each
  word of the expression, a pass over a posting list as long as a large share
  of the store ("the" is in 94% of memories) for a word whose weight is near zero.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
from sqlalchemy import ColumnElement, column, delete, func, literal_column, select, table
from sqlalchemy.orm import Session

from athena_core.retrieval.filters import RecallFilter
from athena_core.retrieval.stop_words import STOP_WORDS
from athena_core.storage import Storage
from athena_core.storage.models import MemoryRow, StateRow
from athena_core.storage.queries import memory_conditions

__all__ = ["DocumentFrequencies", "lexical_scores", "lexical_search", "note_deleted_text",
           "purge_deleted_text", "word_counts", "words"]

_TOKEN = re.compile(r"\w+", re.UNICODE)
_MAX_TERMS = 64
#: Words in a larger share of memories than this are common...
COMMON_WORD_SHARE = 0.05
#: ...unless they are in fewer memories than this (cheap to match on their own).
ALWAYS_RARE_BELOW = 2_000
#: The rare words a memory must contain stop once their memories pass this many.
MATCH_BUDGET = 5_000
#: Words in more memories than this do not score (counting them costs more than they add).
SCORED_BELOW = 20_000
#: On PostgreSQL a word's memories are counted up to this many (enough to tell its rarity).
PG_COUNT_CAP = 10_000
#: The tokenizer of ``memories_fts`` (migration 0001); a test checks they agree.
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
#: Per-connection helpers: the query's words as the index stores them, and the index's
#: per-term document counts.
_SQLITE_TEMP_TABLES = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.athena_query_words USING fts5("
    f"word, tokenize='{FTS_TOKENIZER}')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.athena_query_stems USING fts5vocab("
    "temp, athena_query_words, instance)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.athena_memory_terms USING fts5vocab("
    "main, memories_fts, row)",
)
_fts = table("memories_fts", column("rowid"))
#: The text search configuration, inlined as SQL (not a bound parameter) so that the
#: expression matches the GIN index on ``to_tsvector('english', text)`` in every plan,
#: generic plans of prepared statements included.
_PG_CONFIG: ColumnElement[Any] = literal_column("'english'::regconfig")


def words(text: str) -> list[str]:
    """The lower-cased words of ``text``, in order, as full-text queries split it."""
    return _TOKEN.findall(text.lower())


def query_terms(query: str) -> list[str]:
    """Words of ``query``, deduplicated, in order (operators and punctuation dropped)."""
    return list(dict.fromkeys(words(query)))[:_MAX_TERMS]


@attrs.define
class DocumentFrequencies:
    """How many memories contain each indexed term, cached per Athena instance (SQLite).

    Counting is not free (FTS5 walks the term's postings), and the counts only
    steer which common words to skip, so they are kept until the store has grown
    or shrunk by a tenth. Terms found in no memory are never cached: a memory
    stored a moment later must be findable by them.
    """

    _counts: dict[str, int] = attrs.field(factory=dict)
    _total: int = 0

    def total(self, session: Session) -> int:
        total = session.connection().exec_driver_sql("SELECT max(pk) FROM memories").scalar() or 0
        if abs(total - self._total) > 0.1 * max(self._total, 1):
            self._counts.clear()
            self._total = total
        return max(total, 1)

    def counts(self, session: Session, terms: list[str]) -> dict[str, int]:
        missing = [t for t in terms if t not in self._counts]
        if missing:
            found: dict[str, int] = dict(session.connection().exec_driver_sql(
                "SELECT term, doc FROM temp.athena_memory_terms WHERE term IN "
                f"({', '.join('?' for _ in missing)})", tuple(missing)).all())
            self._counts.update(found)
        return {t: self._counts.get(t, 0) for t in terms}


def lexical_search(session: Session, query: str, *, limit: int, where: RecallFilter,
                   frequencies: DocumentFrequencies | None = None) -> list[int]:
    """Keys of the best full-text matches for any word of ``query``, best first."""
    return [key for key, _ in lexical_scores(session, query, limit=limit, where=where,
                                             frequencies=frequencies)]


def lexical_scores(session: Session, query: str, *, limit: int, where: RecallFilter,
                   frequencies: DocumentFrequencies | None = None) -> list[tuple[int, float]]:
    """``(key, score)`` of the best full-text matches, best first; higher scores are better
    (BM25 on SQLite, ``ts_rank_cd`` on PostgreSQL). English stop words do not count."""
    terms = [term for term in query_terms(query) if term not in STOP_WORDS]
    if not terms or limit <= 0:
        return []
    if session.get_bind().dialect.name == "sqlite":
        frequencies = frequencies or DocumentFrequencies()
        rare, common, frequency = _classify(session, terms, frequencies)
        if not rare:
            return []
        must, scoring = _within_budget(rare, common, frequency)
        match = _any_of(must)
        if scoring:  # must contain one of `must`; the others only add to the score
            match = f"({match}) AND ({_any_of(must + scoring)})"
        rank = func.bm25(literal_column("memories_fts"))
        stmt = (select(MemoryRow.pk, -rank)
                .select_from(_fts.join(MemoryRow, MemoryRow.pk == _fts.c.rowid))
                .where(literal_column("memories_fts").op("MATCH")(match),
                       memory_conditions(where))
                .order_by(rank).limit(limit))
    else:
        document = func.to_tsvector(_PG_CONFIG, MemoryRow.text)
        tsquery = func.to_tsquery(_PG_CONFIG, " | ".join(terms))
        score = func.ts_rank_cd(document, tsquery)
        stmt = (select(MemoryRow.pk, score)
                .where(document.op("@@")(tsquery), memory_conditions(where))
                .order_by(score.desc()).limit(limit))
    return [(key, float(score)) for key, score in session.execute(stmt)]


def word_counts(session: Session, words: list[str],
                frequencies: DocumentFrequencies | None = None) -> tuple[dict[str, int], int]:
    """How many memories contain each of ``words`` (as full-text search matches them: by
    stem), and about how many memories there are."""
    frequencies = frequencies or DocumentFrequencies()
    if not words:
        return {}, frequencies.total(session)
    if session.get_bind().dialect.name == "sqlite":
        _, _, frequency = _classify(session, words, frequencies)
        return {word: frequency.get(word, 0) for word in words}, frequencies.total(session)
    document = func.to_tsvector(_PG_CONFIG, MemoryRow.text)
    counts = {}
    for word in words:
        matching = (select(MemoryRow.pk)
                    .where(document.op("@@")(func.plainto_tsquery(_PG_CONFIG, word)))
                    .limit(PG_COUNT_CAP).subquery())
        counts[word] = session.scalar(select(func.count()).select_from(matching)) or 0
    return counts, frequencies.total(session)


def _any_of(words: list[str]) -> str:
    return " OR ".join(f'"{word}"' for word in words)


def _within_budget(rare: list[str], common: list[str], frequency: dict[str, int]
                   ) -> tuple[list[str], list[str]]:
    """``(must, scoring)``: the rarest of ``rare`` within :data:`MATCH_BUDGET` memories,
    and the words that only score (the other rare ones, and common ones under
    :data:`SCORED_BELOW`), each in query order."""
    chosen: set[str] = set()
    total = 0
    for word in sorted(rare, key=lambda w: frequency.get(w, 0)):
        count = frequency.get(word, 0)
        if chosen and total + count > MATCH_BUDGET:
            break
        chosen.add(word)
        total += count
    must = [word for word in rare if word in chosen]
    scoring = [word for word in rare if word not in chosen]
    scoring += [word for word in common if frequency.get(word, 0) <= SCORED_BELOW]
    return must, scoring


def _split_by_frequency(session: Session, terms: list[str], frequencies: DocumentFrequencies
                        ) -> tuple[list[str], list[str]]:
    """``(rare, common)`` words of ``terms`` (SQLite); words in no memory are dropped."""
    rare, common, _ = _classify(session, terms, frequencies)
    return rare, common


def _classify(session: Session, terms: list[str], frequencies: DocumentFrequencies
              ) -> tuple[list[str], list[str], dict[str, int]]:
    """``(rare, common, memories containing each word)`` of ``terms`` (SQLite)."""
    conn = session.connection()
    for ddl in _SQLITE_TEMP_TABLES:
        conn.exec_driver_sql(ddl)
    conn.exec_driver_sql("DELETE FROM temp.athena_query_words")
    conn.exec_driver_sql("INSERT INTO temp.athena_query_words(rowid, word) VALUES "
                         + ", ".join("(?, ?)" for _ in terms),
                         tuple(v for i, t in enumerate(terms) for v in (i, t)))
    stems: dict[int, list[str]] = {}
    for stem, row in conn.exec_driver_sql("SELECT term, doc FROM temp.athena_query_stems"):
        stems.setdefault(row, []).append(stem)
    total = frequencies.total(session)
    counts = frequencies.counts(session, sorted({s for group in stems.values() for s in group}))
    # A word's frequency is that of its most frequent stem (a word may tokenize to several).
    frequency = {i: max(counts.get(s, 0) for s in group) for i, group in stems.items()}
    present = sorted((f, i) for i, f in frequency.items() if f > 0)
    if not present:
        return [], [], {}
    limit = max(COMMON_WORD_SHARE * total, ALWAYS_RARE_BELOW)
    rare = {i for f, i in present if f <= limit} or {present[0][1]}
    return ([terms[i] for i in sorted(rare)],
            [terms[i] for _, i in sorted(present, key=lambda p: p[1]) if i not in rare],
            {terms[i]: f for i, f in frequency.items()})


#: Set (``athena_state``) by a forget whose deleted terms are still in FTS5 segments.
_PURGE_PENDING_KEY = "fts_purge_pending"


def note_deleted_text(session: Session) -> None:
    """Record, in the caller's (forget's) transaction, that deleted rows left terms in the
    full-text index's segments, for :func:`purge_deleted_text` (SQLite FTS5).

    FTS5 records deletions as tombstones: searches never see the deleted rows again,
    but their terms stay in its segments until they are merged. Merging costs as much
    as the whole index, so a forget does not do it; the next checkpoint or close does.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.merge(StateRow(key=_PURGE_PENDING_KEY, value="1"))


def purge_deleted_text(storage: Storage) -> bool:
    """Merge the full-text index if forgets left deleted terms in it, so that none
    survives in its segments (``optimize``); return whether it had to."""
    if storage.dialect != "sqlite":
        return False
    with storage.read() as session:
        if session.get(StateRow, _PURGE_PENDING_KEY) is None:
            return False
    with storage.write() as session:
        if session.get(StateRow, _PURGE_PENDING_KEY) is None:
            return False
        session.connection().exec_driver_sql(
            "INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")
        session.execute(delete(StateRow).where(StateRow.key == _PURGE_PENDING_KEY))
    return True
