"""Athena.execute from host processes of every shape, under every executor that can run.

Each test starts a host (``tests/_hosts.py``) that arranges its descriptors,
threads, event loop or signal handlers the way an embedding application might,
then runs a program that calls back into memory. The program must run; the
host's own descriptors must neither reach the program nor be closed or changed;
the host's handlers must stay as they were.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from athena_core import Athena
from athena_core.config import Config
from athena_core.errors import SandboxUnavailableError
from tests._hosts import PROGRAM
from tests.conftest import make_config
from tests.sandbox import require_sandbox
from tests.test_mcp import http_server, outcome

HOSTS = Path(__file__).with_name("_hosts.py")
LAYOUTS = ["closed", "open", "server", "stdio", "asyncio", "signals"]
EXECUTORS = [pytest.param("bwrap", marks=require_sandbox()), "srt", "restrictedpython"]
#: What a program may hold: stdin (/dev/null), stdout, stderr, the bridge.
PROGRAM_FDS = {"0", "1", "2", "3"}


@pytest.fixture(scope="module")
def unavailable(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """Why each executor cannot run here (``None``: it can)."""
    reasons: dict[str, str | None] = {}
    with Athena.open(config=make_config(tmp_path_factory.mktemp("probe"))) as athena:
        names = athena.plugins.registry("executor").names()
        for name in ("bwrap", "srt", "restrictedpython"):
            if name not in names:
                reasons[name] = f"the {name} executor is not installed"
                continue
            try:
                athena.execution.executor(name)
                reasons[name] = None
            except SandboxUnavailableError as exc:
                reasons[name] = exc.message
    return reasons


def require(executor: str, unavailable: dict[str, str | None]) -> None:
    reason = unavailable[executor]
    if reason is None:
        return
    required = {"srt": os.environ.get("ATHENA_REQUIRE_SRT") == "1",
                "bwrap": os.environ.get("ATHENA_REQUIRE_SANDBOX") == "1"}
    if required.get(executor):
        pytest.fail(f"the {executor} executor cannot run: {reason}", pytrace=False)
    pytest.skip(f"the {executor} executor cannot run here: {reason}")


def host(layout: str, executor: str, tmp_path: Path) -> dict[str, Any]:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    proc = subprocess.run([sys.executable, str(HOSTS), layout, executor,
                           str(tmp_path / "data"), str(scratch)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return report


def assert_ran_alone(run: dict[str, Any], markers: list[str]) -> None:
    """The program ran, reached memory, and held nothing of the host's."""
    assert run["status"] == "ok", run
    new_id, seen, exit_status = run["value"]
    assert new_id and run["stored"] == run["expected"]
    if seen is not None:  # the program could list its descriptors
        held = {fd for fd, target in seen.items() if target is not None}
        assert held == PROGRAM_FDS, seen
        assert not set(seen.values()) & set(markers), seen
        assert seen["0"] == "/dev/null" and seen["3"].startswith("socket:")
    if exit_status is not None:  # a child's exit status reached the program
        assert exit_status == 3


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_execute_works_in_any_host(layout: str, executor: str, tmp_path: Path,
                                   unavailable: dict[str, str | None]) -> None:
    require(executor, unavailable)
    report = host(layout, executor, tmp_path)
    for run in report["runs"]:
        assert_ran_alone(run, report["marker_paths"])
    assert report["broken_markers"] == {}  # still open, on the same file, same content
    assert report["leaks"] == []  # no process Athena started held one
    assert report["watched_processes"] > 0
    if layout == "open":
        assert len(report["marker_paths"]) == 62
    if layout == "signals":
        assert report["sigchld_ignored"] and report["sigterm_handled"]


@pytest.mark.anyio
@require_sandbox()
async def test_execute_works_inside_the_http_server(tmp_path: Path) -> None:
    """``athena serve --http`` started with descriptors 3-64 open on unrelated files."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    markers = [str(scratch / f"unrelated-{fd}") for fd in range(3, 65)]
    token = "tok-" + os.urandom(8).hex()
    runs = []
    launcher = [sys.executable, str(HOSTS), "exec-open", str(scratch), "--"]
    with http_server(tmp_path / "home", token, launcher=launcher) as url:
        async with (httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
                    streamable_http_client(url, http_client=http) as (read, write),
                    ClientSession(read, write, read_timeout_seconds=120) as session):
            await session.initialize()
            for n in (1, 2):
                text = f"written from a program the HTTP server ran, run {n}"
                data = outcome(await session.call_tool(
                    "run_code", {"code": PROGRAM.replace("TEXT", repr(text))}))
                runs.append({**data, "expected": text})
        server = int((scratch / "pid").read_text())
        # The server's own descriptors are as they were.
        assert [os.readlink(f"/proc/{server}/fd/{fd}") for fd in range(3, 65)] == markers
    with Athena.open(config=Config.load(tmp_path / "home", env={})) as athena:
        for run in runs:
            memory = athena.get(run["value"][0]) if run.get("value") else None
            assert_ran_alone({**run, "stored": memory and memory.text}, markers)
