"""The ``faiss`` backend's options (``[retrieval] vector_options``), checked up front."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from athena_core.options import PluginOptions

__all__ = ["FaissOptions"]


def _int(low: int, high: int | None = None) -> Any:
    def check(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
        _checker().integer(attribute.name, value, low=low, high=high)
    return check


def _fraction(instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    _checker().fraction(attribute.name, value)


def _path(instance: object, attribute: attrs.Attribute[Path | None], value: object) -> None:
    if value is not None and not isinstance(value, Path):
        _checker().text("path", value)


@functools.cache
def _checker() -> PluginOptions:
    return PluginOptions("faiss vector backend", "[retrieval.vector_options]",
                         FaissOptions.names())


def _to_path(value: object) -> object:
    return Path(value).expanduser() if isinstance(value, str) and value else value


@attrs.frozen
class FaissOptions:
    """Tuning of the ``faiss`` vector backend; every field is an option name.

    The defaults were chosen by measurement (docs/decisions/0008-faiss-index.md).
    """

    #: Where the index is saved; relative paths are relative to the data dir.
    #: ``None``: ``<data dir>/vectors/faiss``.
    path: Path | None = attrs.field(default=None, converter=_to_path, validator=_path)
    #: Entries of a scope from which its HNSW graph is built; below, its searches are exact.
    hnsw_threshold: int = attrs.field(default=20_000, validator=_int(1))
    #: HNSW neighbours per node (more: better recall, more memory, slower build).
    m: int = attrs.field(default=32, validator=_int(4, 256))
    #: Candidate list size while building the graph (more: better graph, slower build).
    ef_construction: int = attrs.field(default=40, validator=_int(8, 4096))
    #: Candidate list size while searching (raised to ``k`` when ``k`` is larger).
    ef_search: int = attrs.field(default=512, validator=_int(8, 65536))
    #: A filter matching at most this many entries of a scope (or under 5% of it) is
    #: searched exactly, not through the graph, which would miss neighbours.
    exact_below: int = attrs.field(default=20_000, validator=_int(0))
    #: A scope is rebuilt without its dead rows (removed or replaced entries) when they
    #: pass this share of its rows.
    compact_fraction: float = attrs.field(default=0.2, validator=_fraction)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in attrs.fields(cls))

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> FaissOptions:
        """Options from ``[retrieval] vector_options``; unknown names are an error."""
        _checker().check_names(options)
        return cls(**dict(options))

    def structure(self) -> dict[str, Any]:
        """The options a saved HNSW graph was built with (another value needs a rebuild)."""
        return {"m": self.m, "ef_construction": self.ef_construction}
