"""The template's embedder passes Athena's embedder contract, installed."""

from __future__ import annotations

from athena_plugin_template import CharTrigramEmbedder

from athena_core.testing import EmbedderContract


class TestCharTrigramEmbedder(EmbedderContract):
    name = "char-trigrams"

    def make_embedder(self) -> CharTrigramEmbedder:
        return CharTrigramEmbedder(256)


def test_typos_stay_close() -> None:
    a, b, c = CharTrigramEmbedder(512).embed(["kubernetes deployment",
                                              "kubernets deploymnet", "coffee machine"])
    assert float(a @ b) > 0.5 > float(a @ c)
