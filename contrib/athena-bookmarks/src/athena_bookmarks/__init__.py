"""An example Athena memory layer: bookmarks (a URL and what it is about), scope-bound,
searchable by meaning, exported and imported with every other memory.

The layer lives in :mod:`athena_bookmarks.layer`; this package imports nothing, so that
Athena loading the plugin stays cheap.
"""

__all__: list[str] = []
