"""Hashed character trigrams: similar spellings get similar vectors."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from athena_core.options import PluginOptions

if TYPE_CHECKING:
    import numpy as np

    from athena_core.retrieval import EmbedderContext


# Checks option names and values with the wording every Athena plugin uses.
_OPTIONS = PluginOptions("char-trigrams embedder", "[retrieval.embedder_options]",
                         ("dimension",))


class CharTrigramEmbedder:
    """Each word, padded with spaces, contributes its character trigrams."""

    def __init__(self, dimension: int = 512) -> None:
        self._dimension = _OPTIONS.integer("dimension", dimension, low=16)

    @classmethod
    def from_context(cls, context: EmbedderContext) -> CharTrigramEmbedder:
        _OPTIONS.check_names(context.options)
        return cls(context.options.get("dimension", 512))

    @property
    def identity(self) -> str:
        return f"char-trigrams-v1/{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str], *, purpose: str = "document") -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                padded = f" {word} "
                for i in range(len(padded) - 2):
                    digest = hashlib.blake2b(padded[i:i + 3].encode(), digest_size=8).digest()
                    out[row, int.from_bytes(digest, "little") % self._dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out
