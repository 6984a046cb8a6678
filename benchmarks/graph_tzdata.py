"""Real data for the knowledge graph: three tzdata releases as record-time snapshots.

Each release of the ``tzdata`` wheel is what the world's time rules were believed to be
when it came out (2022.5, 2022.6 and 2022.7 differ for 13 zones: Mexico abolished
daylight saving time, among others). The benchmark downloads the three wheels
(``pip download --no-deps tzdata==X``, cached), reads each zone straight from the wheel
(``zoneinfo.ZoneInfo.from_file``; nothing is installed), and loads every zone's UTC
offset at weekly instants of 2022-2023 as ``utc_offset`` observations: all of them at the
first release, then, at each later release, the instants whose offset it changed. Each
release's record time is the moment its load finished.

It then asks ``as_of(zone, valid_time=instant, record_time=release)`` for every zone,
instant and release and compares with that release's zoneinfo: 100% must agree (the
figure printed). A baseline in the same run: the offsets the *latest* release gives,
compared with each release's - how many answers a graph that kept only the newest belief
would get wrong.

    python benchmarks/graph_tzdata.py [--cache DIR] [--zones N]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

RELEASES = ("2022.5", "2022.6", "2022.7")
START = datetime(2022, 1, 3, 12, tzinfo=UTC)
WEEKS = 104


def wheel(release: str, cache: Path) -> Path:
    """The tzdata wheel of ``release`` in ``cache``, downloaded if missing."""
    found = sorted(cache.glob(f"tzdata-{release}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                        f"tzdata=={release}", "-d", str(cache)], check=True)
        found = sorted(cache.glob(f"tzdata-{release}-*.whl"))
    return found[0]


def offsets(path: Path, instants: list[datetime]) -> dict[str, list[int]]:
    """Each zone's UTC offset (seconds) at ``instants``, from the wheel at ``path``."""
    found: dict[str, list[int]] = {}
    with zipfile.ZipFile(path) as archive:
        zones = archive.read("tzdata/zones").decode().split()
        for zone in zones:
            data = archive.read(f"tzdata/zoneinfo/{zone}")
            info = ZoneInfo.from_file(io.BytesIO(data), key=zone)
            found[zone] = [int(t.astimezone(info).utcoffset().total_seconds())  # type: ignore[union-attr]
                           for t in instants]
    return found


def run(athena: Any, tables: dict[str, dict[str, list[int]]], instants: list[datetime]
        ) -> dict[str, Any]:
    graph = athena.graph
    graph.declare("utc_offset", functional=True)
    zones = sorted(set.intersection(*(set(table) for table in tables.values())))
    for zone in zones:
        graph.entity(zone, "time_zone")
    record_times: dict[str, datetime] = {}
    loaded: dict[str, int] = {}
    previous: dict[str, list[int]] | None = None
    started = time.perf_counter()
    for release, table in tables.items():  # a bulk load: commits wait for no disk flush
        count = 0
        last = None
        for zone in zones:
            for i, instant in enumerate(instants):
                if previous is not None and previous[zone][i] == table[zone][i]:
                    continue
                with athena.storage.deferred_flush():
                    last = graph.observe(zone, "utc_offset", table[zone][i],
                                         valid_from=instant,
                                         valid_to=instant + timedelta(days=7))
                count += 1
        record_times[release] = (datetime.fromisoformat(last["recorded_at"]) if last
                                 else datetime.now(UTC))
        loaded[release] = count
        previous = table
    load_seconds = time.perf_counter() - started
    checked = wrong = newest_only_wrong = 0
    latest = tables[RELEASES[-1]]
    started = time.perf_counter()
    for release, table in tables.items():
        for zone in zones:
            for i, instant in enumerate(instants):
                answer = graph.as_of(zone, valid_time=instant,
                                     record_time=record_times[release], predicate="utc_offset")
                checked += 1
                wrong += [f["value"] for f in answer] != [table[zone][i]]
                newest_only_wrong += latest[zone][i] != table[zone][i]
    changed = {zone for zone in zones
               if len({tuple(table[zone]) for table in tables.values()}) > 1}
    return {"zones": len(zones), "instants": len(instants), "loaded": loaded,
            "zones_changed": len(changed), "load_seconds": round(load_seconds, 1),
            "as_of_checked": checked, "as_of_wrong": wrong,
            "newest_belief_only_wrong": newest_only_wrong,
            "check_seconds": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "athena-bench-tzdata")
    parser.add_argument("--zones", type=int, default=0, help="only the first N zones")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    instants = [START + timedelta(days=7 * week) for week in range(WEEKS)]
    tables = {release: offsets(wheel(release, args.cache), instants) for release in RELEASES}
    if args.zones:
        keep = sorted(tables[RELEASES[0]])[:args.zones]
        tables = {r: {z: t[z] for z in keep if z in t} for r, t in tables.items()}
    from athena_core import Athena

    with tempfile.TemporaryDirectory() as tmp, Athena.open(Path(tmp) / "data") as athena:
        figures = run(athena, tables, instants)
    for key, value in figures.items():
        print(f"{key:26} {value}")
    print(f"{'as_of right':26} {1 - figures['as_of_wrong'] / figures['as_of_checked']:.2%}")
    print(f"{'newest belief only right':26} "
          f"{1 - figures['newest_belief_only_wrong'] / figures['as_of_checked']:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
