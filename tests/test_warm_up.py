"""RecallIndex.warm_up: what `athena serve` does before its first call."""

from __future__ import annotations

import pytest

from athena_core.errors import ReindexRequiredError


def test_warm_up_loads_the_stored_vectors(athena_factory) -> None:
    writer = athena_factory()
    for text in ("deploys go through staging", "the cat is called Miso"):
        writer.remember(text)
    server = athena_factory()
    assert len(server.index.backend) == 0  # nothing loaded before the first recall
    server.index.warm_up()
    assert len(server.index.backend) == 2
    assert [hit.text for hit in server.recall("staging", k=1)] == ["deploys go through staging"]


def test_warm_up_refuses_vectors_of_another_embedder(athena_factory) -> None:
    athena_factory().remember("stored with 256-dimension hashing vectors")
    other = athena_factory(retrieval={"embedder": "hashing",
                                      "embedder_options": {"dimension": 64}})
    with pytest.raises(ReindexRequiredError):
        other.index.warm_up()
