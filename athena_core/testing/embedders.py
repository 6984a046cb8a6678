"""The contract every embedder passes (see ``athena_register_embedders``)."""

from __future__ import annotations

import socket
from typing import Any

import numpy as np
import pytest

from athena_core.retrieval.embedders import Embedder
from athena_core.testing._registered import registered_names

__all__ = ["EmbedderContract"]


class EmbedderContract:
    """Subclass, set :attr:`name` and implement :meth:`make_embedder`."""

    #: The name the embedder is registered under (checked against entry points).
    name: str = ""

    def make_embedder(self) -> Embedder:
        raise NotImplementedError

    @pytest.fixture
    def embedder(self) -> Embedder:
        return self.make_embedder()

    def test_registered(self) -> None:
        if not self.name:
            pytest.skip("set `name` to check the entry point registration")
        assert self.name in registered_names("embedder")

    def test_is_an_embedder(self, embedder: Embedder) -> None:
        assert isinstance(embedder, Embedder)
        assert isinstance(embedder.identity, str) and embedder.identity
        assert isinstance(embedder.dimension, int) and embedder.dimension > 0

    def test_shape_dtype_and_unit_norm(self, embedder: Embedder) -> None:
        vectors = embedder.embed(["hello world", "a second, longer text about databases"])
        assert vectors.shape == (2, embedder.dimension)
        assert vectors.dtype == np.float32
        assert np.isfinite(vectors).all()
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)

    def test_empty_batch(self, embedder: Embedder) -> None:
        assert embedder.embed([]).shape == (0, embedder.dimension)

    def test_deterministic_and_batch_independent(self, embedder: Embedder) -> None:
        alone = embedder.embed(["the release was rolled back"])
        batched = embedder.embed(["something else entirely", "the release was rolled back"])
        assert np.allclose(alone[0], batched[1], atol=1e-5)

    def test_query_and_document_purposes(self, embedder: Embedder) -> None:
        for purpose in ("query", "document"):
            assert embedder.embed(["where is the config?"], purpose=purpose).shape == (
                1, embedder.dimension)

    def test_similar_texts_are_closer(self, embedder: Embedder) -> None:
        a, b, c = embedder.embed(["the cat sat on the mat", "a cat was sitting on the mat",
                                  "quarterly revenue grew by five percent"])
        assert float(a @ b) > float(a @ c)

    def test_long_and_unicode_text(self, embedder: Embedder) -> None:
        vectors = embedder.embed(["word " * 20_000, "Zürich, 東京, emoji 🚀, ½"])
        assert vectors.shape == (2, embedder.dimension)
        assert np.isfinite(vectors).all()

    def test_never_uses_the_network(self, embedder: Embedder,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
        def refuse(*args: Any, **kwargs: Any) -> None:
            raise AssertionError("the embedder tried to open a network connection")

        monkeypatch.setattr(socket.socket, "connect", refuse)
        monkeypatch.setattr(socket, "create_connection", refuse)
        embedder.embed(["offline please"])
