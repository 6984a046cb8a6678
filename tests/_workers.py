"""Worker processes for the multi-process tests (run as ``python _workers.py COMMAND ...``).

Every command opens the data dir given as its first argument with the same
configuration as the test fixtures, and prints one line per finished operation
to stdout, flushed as soon as the operation has returned, so the parent knows
exactly which writes were acknowledged.

Commands:

``remember DATA_DIR COUNT TAG``
    Print ``ready``, wait for a line on stdin, then remember ``COUNT`` memories
    (``COUNT`` 0: until killed) and print each id.
``remember-one DATA_DIR TEXT``
    Remember ``TEXT`` and print its id.
``forget DATA_DIR ID``
    Forget ``ID`` and print how many memories went.
"""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

from athena_core import Athena
from athena_core.config import Config


def open_athena(data_dir: str) -> Athena:
    # Word-level vectors, whatever embedder plugins the environment has installed.
    raw: dict[str, dict] = {"plugins": {"strict": True}, "retrieval": {"embedder": "hashing"}}
    url = os.environ.get("ATHENA_TEST_DATABASE_URL", "")
    if url:
        raw["storage"] = {"url": url}
    return Athena.open(config=Config.from_mapping(raw, data_dir=Path(data_dir), env={}))


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def remember(data_dir: str, count: str, tag: str) -> None:
    with open_athena(data_dir) as athena:
        say("ready")
        sys.stdin.readline()
        numbers = itertools.count() if int(count) == 0 else range(int(count))
        for i in numbers:
            memory_id = athena.remember(f"{tag} note number {i} from process {os.getpid()}",
                                        metadata={"tag": tag, "i": i})
            say(memory_id)


def remember_one(data_dir: str, text: str) -> None:
    with open_athena(data_dir) as athena:
        say(athena.remember(text))


def forget(data_dir: str, memory_id: str) -> None:
    with open_athena(data_dir) as athena:
        say(str(athena.forget(memory_id)))


COMMANDS = {"remember": remember, "remember-one": remember_one, "forget": forget}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
