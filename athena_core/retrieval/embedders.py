"""Embedders turn text into unit vectors; the built-in one hashes words, with no model.

Every embedder is an :class:`Embedder`: a stable ``identity`` (stored with the
vectors, so a changed model is noticed), a ``dimension``, and ``embed``.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import attrs

from athena_core.options import PluginOptions

if TYPE_CHECKING:
    import numpy as np

__all__ = ["PREFERRED_EMBEDDERS", "Embedder", "EmbedderContext", "HashingEmbedder", "Purpose",
           "preferred_embedder"]

#: Some models embed queries and documents differently.
Purpose = Literal["document", "query"]
_WORD = re.compile(r"\w+", re.UNICODE)
_HASHING_OPTIONS = PluginOptions("hashing embedder", "[retrieval.embedder_options]",
                                 ("dimension",))
#: Chosen in this order when ``[retrieval] embedder`` is empty: a trained model when its
#: plugin is installed, else the built-in hashing embedder.
PREFERRED_EMBEDDERS = ("minilm", "hashing")


def preferred_embedder(registered: Sequence[str]) -> str:
    """The first of :data:`PREFERRED_EMBEDDERS` that is registered."""
    return next(name for name in PREFERRED_EMBEDDERS if name in registered)


@attrs.frozen
class EmbedderContext:
    """What an embedder factory receives (``factory(context)``)."""

    #: ``[retrieval.embedder_options]`` from the configuration; check them with
    #: :class:`athena_core.options.PluginOptions`.
    options: Mapping[str, Any] = attrs.field(factory=dict)
    #: The data dir, where an embedder may keep files (it never fetches from the network).
    data_dir: Path | None = None


@runtime_checkable
class Embedder(Protocol):
    """Text to L2-normalised float32 vectors."""

    @property
    def identity(self) -> str:
        """Names the model and its settings; vectors from different identities never mix."""
        ...

    @property
    def dimension(self) -> int:
        """How many floats each vector has."""
        ...

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> np.ndarray:
        """Return an array of shape ``(len(texts), dimension)``, each row of norm 1 (or 0).

        ``purpose`` is ``"document"`` for what is stored, ``"query"`` for what is
        searched (models trained with different prefixes for each use it)."""
        ...


class HashingEmbedder:
    """Deterministic bag-of-words vectors by feature hashing (words and word pairs).

    No model, no download, stable across processes and machines: the embedder
    for tests and a usable lexical-semantic fallback. Quality is far below a
    trained model; install a model-backed embedder plugin for real use.
    """

    def __init__(self, dimension: int = 256) -> None:
        self._dimension = _HASHING_OPTIONS.integer("dimension", dimension, low=8)

    @classmethod
    def from_context(cls, context: EmbedderContext) -> HashingEmbedder:
        _HASHING_OPTIONS.check_names(context.options)
        return cls(context.options.get("dimension", 256))

    @property
    def identity(self) -> str:
        return f"hashing-v1/{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            features = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
            for feature in features:
                digest = int.from_bytes(
                    hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
                weight = 1.0 if " " not in feature else 0.5
                out[row, digest % self._dimension] += weight if digest >> 63 else -weight
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out
