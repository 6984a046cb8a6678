"""The hook implementations Athena discovers through the ``athena.plugins`` entry point."""

from __future__ import annotations

from athena_core import hookimpl
from athena_core.hookspecs import Register


@hookimpl
def athena_register_vector_backends(register: Register) -> None:
    from athena_numpy_vectors.index import NumpyFileIndex

    register("numpy-file", NumpyFileIndex.from_context)
