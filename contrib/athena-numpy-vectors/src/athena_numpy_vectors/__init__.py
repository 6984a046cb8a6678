"""An example Athena vector backend: exact cosine search over numpy arrays, saved with
its checkpoint in one file of the data dir.

The backend lives in :mod:`athena_numpy_vectors.index`; this package imports nothing
(numpy included), so that Athena loading the plugin stays cheap.
"""

__all__: list[str] = []
