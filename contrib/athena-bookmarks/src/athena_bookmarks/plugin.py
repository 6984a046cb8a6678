"""The hook implementations Athena discovers through the ``athena.plugins`` entry point.

Importing this module only defines the hook: the layer (and SQLAlchemy) is imported when
Athena opens and calls it.
"""

from __future__ import annotations

from athena_core import hookimpl
from athena_core.hookspecs import Register


@hookimpl
def athena_register_memory_layers(register: Register) -> None:
    from athena_bookmarks.layer import BookmarksLayer

    register("bookmarks", BookmarksLayer)
