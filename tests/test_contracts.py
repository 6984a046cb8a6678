"""The built-in embedder and vector backend pass the contracts plugins must pass."""

from __future__ import annotations

from athena_core.retrieval import ExactVectorIndex, HashingEmbedder
from athena_core.testing import EmbedderContract, VectorBackendContract


class TestExactVectorIndex(VectorBackendContract):
    name = "exact"

    def make_backend(self, dimension, data_dir):
        return ExactVectorIndex(dimension)


class TestHashingEmbedder(EmbedderContract):
    name = "hashing"

    def make_embedder(self):
        return HashingEmbedder(256)
