"""CPU time of sensitive-value detection per KB, for comparing detector versions.

Wall-clock figures of ``benchmarks/privacy.py`` move with the machine's load; this script
measures the process's CPU time (``time.process_time``), best of ``--passes`` passes over
600 documents each of sets D and E and over the LoCoMo turns (clean text), with the
detectors of whatever ``athena_core`` is imported. Compare versions by running it for
each, alternated, in one session::

    git archive 2684ef3 athena_core | tar -x -C /tmp/round3    # an older version
    PYTHONPATH=/tmp/round3 python benchmarks/privacy_cpu.py
    python benchmarks/privacy_cpu.py                           # this checkout
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from privacy_heldout_d import documents_d
from privacy_heldout_e import documents_e

#: The LoCoMo conversations (see benchmarks/locomo.py), beside the project.
LOCOMO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "locomo"


def clean_texts(path: Path) -> list[str]:
    """The LoCoMo turns, as ``benchmarks/privacy.py`` reads them (none if absent)."""
    texts: list[str] = []
    for file in sorted(path.glob("*.json")):
        for key, turns in json.loads(file.read_text(encoding="utf-8")).items():
            if key.startswith("session_") and isinstance(turns, list):
                texts += [" ".join(filter(None, (turn["text"], turn.get("blip_caption"))))
                          for turn in turns]
    return texts


def cpu_ms_per_kb(texts: Sequence[str], passes: int) -> float:
    """The least CPU time of ``passes`` passes of detection over ``texts``, per KB."""
    from athena_core.config import Config
    from athena_core.privacy.detection import Detection
    from athena_core.runtime import Athena

    config = Config.from_mapping({}, data_dir=Path("/nonexistent"), env={})
    detection = Detection.from_plugins(Athena.plugin_host(config, entry_points=False),
                                       config.privacy)
    kb = sum(len(text.encode()) for text in texts) / 1024
    best = float("inf")
    for _ in range(passes):
        started = time.process_time()
        for text in texts:
            detection.detect(text)
        best = min(best, time.process_time() - started)
    return 1000 * best / kb


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/privacy_cpu.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clean", type=Path, default=LOCOMO,
                        help="directory of the LoCoMo conversations (clean text)")
    args = parser.parse_args(argv)
    import athena_core

    tuned = [text for text, _ in documents_d(args.seed + 4000, 600)] \
        + [text for text, _ in documents_e(args.seed + 5000, 600)]
    result = {"athena_core": str(Path(athena_core.__file__).parent),
              "sets D and E, ms per KB": round(cpu_ms_per_kb(tuned, args.passes), 3)}
    clean = clean_texts(args.clean)
    if clean:
        result["clean text, ms per KB"] = round(cpu_ms_per_kb(clean, args.passes), 3)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
