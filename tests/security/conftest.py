"""Fixtures of the security suite: a world-readable planting area, a fake HOME with
credentials, host listeners, and a guard that checks the host after every attack."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security._helpers import CREDENTIALS, Listener, kill_all, plant, wait_gone


@pytest.fixture
def token() -> str:
    """A unique marker: attack programs put it in every file name and process they try to
    leave behind, so the host can look for it afterwards."""
    return "athsec" + secrets.token_hex(6)


@pytest.fixture(autouse=True)
def host_guard(token: str) -> Iterator[None]:
    """After each attack (and after its Athena instances closed): no host process carries the
    test's marker, and nothing named after it appeared in the host's /tmp."""
    yield
    survivors = wait_gone(token)
    kill_all(survivors)
    assert not survivors, f"sandbox processes survived on the host: {survivors}"
    leaked = [name for name in os.listdir("/tmp") if token in name]
    assert not leaked, f"the sandbox wrote to the host's /tmp: {leaked}"


@pytest.fixture
def world() -> Iterator[Path]:
    """A host directory any uid could read: only isolation keeps the sandbox out of it."""
    path = Path(tempfile.mkdtemp(prefix="athena-sec-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def data_dir(world: Path) -> Path:
    """The Athena data dir, inside the world-readable area (overrides tests/conftest.py)."""
    return world / "athena-home"


@pytest.fixture
def canary(world: Path, token: str) -> Path:
    return plant(world / "secrets" / "canary.txt", f"CANARY-{token}")


@pytest.fixture
def fake_home(world: Path, token: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A planted HOME with credentials where the default deny list expects them."""
    home = world / "home"
    for credential in CREDENTIALS:
        plant(home / credential, f"CREDENTIAL-{token}")
    plant(home / "project" / "README.md", "project readme")
    plant(home / "project" / ".env", "DOTENV-project-secret")
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def tcp_listener() -> Iterator[Listener]:
    listener = Listener(socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", 0)).start()
    yield listener
    listener.close()


@pytest.fixture
def udp_listener() -> Iterator[Listener]:
    listener = Listener(socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", 0)).start()
    yield listener
    listener.close()


@pytest.fixture
def unix_listener(world: Path) -> Iterator[Listener]:
    """A unix socket file any uid may connect to (mode 0777, in a world-readable dir)."""
    directory = world / "sockets"
    directory.mkdir(mode=0o755)
    path = directory / "agent.sock"
    listener = Listener(socket.AF_UNIX, socket.SOCK_STREAM, str(path))
    path.chmod(0o777)
    yield listener.start()
    listener.close()


@pytest.fixture
def abstract_listener(token: str) -> Iterator[Listener]:
    listener = Listener(socket.AF_UNIX, socket.SOCK_STREAM, f"\0athena-{token}").start()
    yield listener
    listener.close()
