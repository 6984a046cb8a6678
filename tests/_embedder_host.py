"""One Athena process for tests/test_reindex_processes.py.

``python _embedder_host.py DATA_DIR EMBEDDER COMMAND [ARGUMENT]`` opens Athena on
``DATA_DIR`` with ``EMBEDDER`` (JSON: ``{"embedder": ..., "embedder_options": ...}``;
the ``other-model`` test embedder is registered), runs one command and prints one
JSON object:

``reindex BATCH``
    ``{"reindexed": n, "texts_embedded": m}`` (``m``: texts this run embedded).
``recall QUERY``
    ``{"texts": [...], "dense_problem": ...}``.
``remember TEXT``
    ``{"id": ...}``, or ``{"error": TYPE, "message": ...}`` for an Athena error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from athena_core import Athena
from athena_core.errors import AthenaError
from athena_core.testing import OtherModelPlugin
from tests.conftest import make_config


def main(data_dir: str, embedder: str, command: str, argument: str) -> dict[str, object]:
    config = make_config(Path(data_dir), retrieval=json.loads(embedder))
    with Athena.open(config=config, plugins=[OtherModelPlugin()]) as athena:
        assert athena.index is not None
        if command == "reindex":
            count = athena.index.reindex(batch=int(argument))
            return {"reindexed": count,
                    "texts_embedded": getattr(athena.index.embedder, "texts_embedded", None)}
        if command == "recall":
            return {"texts": [hit.text for hit in athena.recall(argument, k=50)],
                    "dense_problem": athena.index.dense_problem}
        if command == "remember":
            try:
                return {"id": athena.remember(argument)}
            except AthenaError as exc:
                return {"error": type(exc).__name__, "message": str(exc)}
    raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:5])))
