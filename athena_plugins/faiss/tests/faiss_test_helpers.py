"""An embedder whose matches full-text search cannot see, for the tests.

The ``concepts`` embedder maps words to a few concepts ("automobile" and "car" embed
alike), so a query made of synonyms is found by the vector backend alone: if the
backend missed a memory, recall would not return it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

import numpy as np
from athena_core import hookimpl

CONCEPTS = {
    "car": 0, "automobile": 0, "vehicle": 0, "sedan": 0,
    "deploy": 1, "release": 1, "rollout": 1, "ship": 1,
    "database": 2, "postgres": 2, "datastore": 2,
    "cat": 3, "kitten": 3, "feline": 3,
    "invoice": 4, "bill": 4, "receipt": 4,
    "password": 5, "secret": 5, "credential": 5,
    "garden": 6, "plants": 6, "greenhouse": 6,
    "coffee": 7, "espresso": 7, "latte": 7,
}
DIMENSION = 32


class ConceptEmbedder:
    """Each word of a known concept adds that concept's direction, plus a small per-text
    component (so every memory's vector is distinct)."""

    identity = "test-concepts-v1/32"
    dimension = DIMENSION

    def embed(self, texts: Sequence[str], *, purpose: str = "document") -> np.ndarray:
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower())
            for word in words:
                if word in CONCEPTS:
                    out[row, CONCEPTS[word]] += 1.0
            if purpose == "document" and out[row].any():
                digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
                out[row, 16 + digest[0] % 16] += 0.05 + digest[1] / 2550
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


class ConceptsPlugin:
    @hookimpl
    def athena_register_embedders(self, register: Callable[..., None]) -> None:
        register("concepts", lambda context: ConceptEmbedder())
