"""Wall time, CPU, memory, output and bridge limits, and the worker process itself."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

#: The worker runs from a staged copy: ``.../athena-restricted-stage-XXXX/worker/worker.py``.
WORKER_MARK = b"athena-restricted-stage-"


def test_wall_time_limit(athena) -> None:
    result = athena.execute("while True:\n    pass",
                            policy={"limits": {"wall_seconds": 1, "cpu_seconds": 60}})
    assert result.status == "timeout" and result.error.type == "Timeout"
    assert result.duration_s < 10
    assert any("wall time" in v for v in result.violations)


def test_cpu_time_limit(athena) -> None:
    result = athena.execute("while True:\n    pass",
                            policy={"limits": {"wall_seconds": 30, "cpu_seconds": 1}})
    assert result.status == "killed" and result.duration_s < 10


def test_output_limit_stops_a_program_while_it_prints(athena) -> None:
    result = athena.execute("while True:\n    print('x' * 1000)",
                            policy={"limits": {"output_bytes": 10_000, "wall_seconds": 30}})
    assert result.status == "killed" and result.duration_s < 10
    assert any("output limit" in v for v in result.violations)
    assert result.stdout.endswith("[output truncated]")
    assert len(result.stdout) < 12_000


def test_memory_limit(athena) -> None:
    result = athena.execute("x = []\nwhile True:\n    x.append('y' * 10_000_000)",
                            policy={"limits": {"memory_bytes": 256 << 20}})
    assert result.status in ("error", "killed")
    if result.status == "error":
        assert result.error.type == "MemoryError"


def test_api_call_limit(athena) -> None:
    result = athena.execute("import athena\nfor i in range(10):\n    athena.recall('x')",
                            policy={"limits": {"api_calls": 3}})
    assert result.status == "error" and len(result.bridge_calls) == 3
    assert any("api_calls" in v for v in result.violations)


def _workers() -> list[int]:
    """This process's workers (other processes on the machine may run their own)."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes().split(b"\0")
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == os.getpid() and any(
                    WORKER_MARK in arg and arg.endswith(b"/worker.py") for arg in cmdline):
                pids.append(int(entry.name))
    return pids


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_worker_is_scrubbed_limited_and_cleaned_up(athena) -> None:
    os.environ["ATHENA_TEST_SECRET"] = "do-not-pass"
    seen: dict[str, object] = {}
    outcome: list = []
    runner = threading.Thread(target=lambda: outcome.append(athena.execute(
        "while True:\n    pass", policy={"limits": {"wall_seconds": 4, "cpu_seconds": 60}})))
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            for pid in _workers():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    seen["uid"] = int(next(line for line in status.splitlines()
                                           if line.startswith("Uid:")).split()[1])
                    seen["cwd"] = os.readlink(f"/proc/{pid}/cwd")
                    env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                    seen["env"] = {e.split(b"=", 1)[0].decode() for e in env if e}
                    limits = Path(f"/proc/{pid}/limits").read_text()
                    seen["nproc"] = next(line for line in limits.splitlines()
                                         if line.startswith("Max processes"))
                    seen["sid"] = os.getsid(pid)
                except (OSError, StopIteration):
                    seen.clear()
                    continue
                break
            time.sleep(0.05)
    finally:
        runner.join()
        del os.environ["ATHENA_TEST_SECRET"]
    assert outcome[0].status == "timeout"
    assert seen, "the worker was never seen running"
    assert seen["env"] == {"PATH", "HOME", "TMPDIR", "LANG", "PYTHONDONTWRITEBYTECODE",
                           "PYTHONUNBUFFERED"}
    assert Path(seen["cwd"]).name.startswith("athena-restricted-")
    assert not Path(seen["cwd"]).exists()  # the private work dir was deleted
    assert seen["sid"] != os.getsid(0)  # its own session: the whole group is killed
    if os.geteuid() == 0:  # root: a fresh, unused uid, so its process limit is its own
        assert seen["uid"] >= 1_000_000_000
        assert seen["nproc"].split()[2] == "32"
    else:
        assert seen["uid"] == os.getuid()
    assert _workers() == []  # nothing left running


def test_policy_env_is_passed_through_by_name(athena) -> None:
    # Programs cannot read the environment; the rule is accepted, not refused.
    result = athena.execute("1", policy={"env": ["HOME"]})
    assert result.status == "ok"


def test_staged_files_are_world_readable_and_removed_on_close(open_athena) -> None:
    athena = open_athena(execution={"executor": "restrictedpython"})
    assert athena.execute("1").status == "ok"
    stage = athena.execution.executor()._stage()
    assert (stage / "lib" / "RestrictedPython" / "__init__.py").is_file()
    for path in (stage, *stage.rglob("*")):
        assert path.stat().st_mode & 0o004, path
    athena.close()
    assert not stage.exists()
