"""The layer's own table: one row per bookmark, keyed to its row of Athena's ``memories``.

The schema is created and upgraded by the revisions in ``migrations/versions`` (this
model is what the code reads and writes; the test suite checks the two agree).
"""

from __future__ import annotations

from athena_core.storage.models import MemoryRow
from sqlalchemy import ForeignKey, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["BookmarkRow", "BookmarksBase"]


class BookmarksBase(DeclarativeBase):
    """The plugin's own metadata: its tables never join Athena's ``Base``."""

    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s", "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"})


class BookmarkRow(BookmarksBase):
    """A bookmark's URL; its title is the memory's ``text``."""

    __tablename__ = "bookmarks"

    #: ``ON DELETE CASCADE``: forgetting the memory deletes the bookmark with it.
    memory_pk: Mapped[int] = mapped_column(
        ForeignKey(MemoryRow.pk, ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    #: The URL's host, lower-cased, for ``bookmarks.recent(domain=...)``.
    domain: Mapped[str] = mapped_column(String(255), index=True)
