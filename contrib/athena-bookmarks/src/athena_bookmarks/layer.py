"""The bookmarks layer: each bookmark is a memory (its title, embedded and full-text
indexed like any other) plus a row of the layer's own ``bookmarks`` table (its URL)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
from athena_core.api import operation
from athena_core.errors import InvalidArgumentError, MemoryNotFoundError
from athena_core.memory.recall import hybrid_recall
from athena_core.memory.store import LayerContext, MemoryLayer
from athena_core.memory.values import Memory
from athena_core.retrieval import RecallFilter
from athena_core.storage import upgrade_plugin_schema
from athena_core.storage.models import MemoryRow
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from athena_bookmarks.models import BookmarkRow

__all__ = ["MIGRATIONS", "Bookmark", "BookmarksLayer"]

#: The directory holding the layer's schema revisions (``versions/``).
MIGRATIONS = Path(__file__).parent / "migrations"
_MAX_URL = 2048
_MAX_RECENT = 1000
_BOTH = (MemoryRow, BookmarkRow)


@attrs.frozen
class Bookmark(Memory):
    """A bookmark: ``text`` is its title, ``url`` where it points (``domain``: its host)."""

    url: str = ""
    domain: str = ""

    @classmethod
    def from_rows(cls, row: MemoryRow, bookmark: BookmarkRow) -> Bookmark:
        return cls(**attrs.asdict(Memory.from_row(row), recurse=False), url=bookmark.url,
                   domain=bookmark.domain)


class BookmarksLayer(MemoryLayer):
    """Bookmarks: add them, list the recent ones, find them by what they are about."""

    name = "bookmarks"
    api_namespace = "bookmarks"

    def __init__(self, context: LayerContext) -> None:
        self._store = context.store
        # Creates the table in a new database, upgrades it in an older one.
        upgrade_plugin_schema(context.store.storage, name="bookmarks", migrations=MIGRATIONS)

    @operation(permissions="write")
    def add(self, url: str, title: str, *, metadata: Mapping[str, Any] | None = None,
            importance: float = 0.5, scope: str | None = None) -> str:
        """Bookmark ``url`` under ``title`` and return the bookmark's id.

        ``url`` must be an http or https URL; the ``title`` is what recall and
        ``bookmarks.search`` match. Adding a URL already bookmarked in the scope
        returns the first bookmark's id.
        """
        store = self._store
        url, domain = _checked_url(url)
        title = store.text(title, name="title")
        scope = store.scope(scope)
        metadata, importance = store.metadata(metadata), store.importance(importance)
        vector = store.embed([title])[0]  # before the transaction: embedding may be slow
        with store.transaction() as tx:
            existing = tx.session.scalar(
                select(MemoryRow.id).join(BookmarkRow, BookmarkRow.memory_pk == MemoryRow.pk)
                .where(MemoryRow.scope == scope, BookmarkRow.domain == domain,
                       BookmarkRow.url == url))
            if existing is not None:
                return existing
            row = tx.insert(layer=self.name, text=title, scope=scope, vector=vector,
                            metadata=metadata, importance=importance)
            bookmark = {"memory_pk": row.pk, "url": url, "domain": domain}
            tx.session.execute(insert(BookmarkRow), bookmark)
            tx.stored.append(Bookmark.from_rows(row, BookmarkRow(**bookmark)))
        return row.id

    @operation()
    def get(self, id: str, *, scope: str | None = None) -> Bookmark:
        """The bookmark with ``id``."""
        scope = self._store.scope(scope)
        with self._store.storage.read() as session:
            found = session.execute(self._query(scope).where(MemoryRow.id == id)).first()
        if found is None:
            raise MemoryNotFoundError(f"No bookmark {id!r} in scope {scope!r}.",
                                      hint="List them with bookmarks.recent().")
        return Bookmark.from_rows(*found)

    @operation()
    def recent(self, *, domain: str | None = None, limit: int = 100,
               scope: str | None = None) -> list[Bookmark]:
        """Bookmarks, newest first; ``domain`` keeps those of one host (``example.org``)."""
        if not 1 <= limit <= _MAX_RECENT:
            raise InvalidArgumentError(f"limit must be between 1 and {_MAX_RECENT}.")
        query = self._query(self._store.scope(scope))
        if domain is not None:
            query = query.where(BookmarkRow.domain == domain.lower())
        query = query.order_by(MemoryRow.created_at.desc(), MemoryRow.pk.desc()).limit(limit)
        with self._store.storage.read() as session:
            return [Bookmark.from_rows(*found) for found in session.execute(query)]

    @operation()
    def search(self, query: str, *, k: int = 10, scope: str | None = None) -> list[Bookmark]:
        """The ``k`` bookmarks whose titles are most relevant to ``query``, best first."""
        where = RecallFilter(self._store.scope(scope), layers={self.name})
        hits = hybrid_recall(self._store, query, k=k, where=where)
        if not hits:
            return []
        with self._store.storage.read() as session:
            found = {row.id: Bookmark.from_rows(row, bookmark) for row, bookmark in
                     session.execute(self._query(where.scope).where(
                         MemoryRow.id.in_([hit.id for hit in hits])))}
        return [found[hit.id] for hit in hits if hit.id in found]  # forgotten meanwhile: gone

    def _query(self, scope: str) -> Any:
        return (select(*_BOTH).join(BookmarkRow, BookmarkRow.memory_pk == MemoryRow.pk)
                .where(MemoryRow.scope == scope))

    # --- the members every layer has (athena_core.memory.MemoryLayer) ----------------

    def store_generic(self, text: str, *, metadata: Mapping[str, Any] | None,
                      importance: float, scope: str | None) -> str:
        """``athena.remember("https://... title", layer="bookmarks")``: a URL, a space, a
        title."""
        url, _, title = text.strip().partition(" ")
        if not url.lower().startswith(("http://", "https://")) or not title.strip():
            raise InvalidArgumentError(
                "remember(..., layer='bookmarks') takes a URL, a space and a title.",
                hint="Or call athena.bookmarks.add(url, title).")
        return self.add(url, title.strip(), metadata=metadata, importance=importance,
                        scope=scope)

    def export_fields(self, session: Session, keys: list[int]) -> dict[int, dict[str, Any]]:
        rows = session.scalars(select(BookmarkRow).where(BookmarkRow.memory_pk.in_(keys)))
        return {row.memory_pk: {"url": row.url} for row in rows}

    def import_fields(self, session: Session, row: MemoryRow, fields: Mapping[str, Any]
                      ) -> None:
        url, domain = _checked_url(fields.get("url"))
        session.execute(insert(BookmarkRow), {"memory_pk": row.pk, "url": url, "domain": domain})

    def related_for_forget(self, session: Session, keys: set[int]) -> set[int]:
        return keys  # a bookmark stands alone; its row goes with its memory (CASCADE)


def _checked_url(url: object) -> tuple[str, str]:
    """``url`` and its lower-cased host, or :class:`InvalidArgumentError`."""
    if not isinstance(url, str) or not 0 < len(url) <= _MAX_URL:
        raise InvalidArgumentError(f"url must be a string of 1 to {_MAX_URL} characters.")
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme.lower() not in ("http", "https") or not host or len(host) > 255 \
            or any(char.isspace() or ord(char) < 32 for char in url):
        raise InvalidArgumentError(
            "url must be an http or https URL with a host and no spaces, for example "
            "https://example.org/page.")
    return url, host.lower()
