"""Attacks with processes and resources: bombs, spins, escapes from the process tree,
output floods, descriptor exhaustion, leaks of the host's environment and argv, signals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

from tests.sandbox import require_sandbox
from tests.security._helpers import (
    WALL,
    assert_host_works,
    assert_ran,
    execute,
    limits,
    processes_with,
    python,
    refused,
    wait_gone,
)

pytestmark = require_sandbox()

_MiB = 1 << 20


def _host_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# --- process and thread bombs -------------------------------------------------------------

def test_fork_bomb_is_capped_by_the_process_limit(athena, token) -> None:
    program = python("""
        import os
        started, error = 0, None
        for _ in range(1000):
            try:
                pid = os.fork()
            except OSError as exc:
                error = type(exc).__name__
                break
            if pid == 0:
                os.execv("/bin/sleep", [ARGS["token"] + "-fork", "60"])
            started += 1
        [started, error]
    """, token=token)
    result = execute(athena, program, policy=limits(processes=8))
    started, error = assert_ran(result)
    assert error == "BlockingIOError" and started < 8, (started, error)
    assert wait_gone(token) == []


def test_thread_bomb_is_capped_by_the_process_limit(athena) -> None:
    program = python("""
        import threading
        gate, started, error = threading.Event(), 0, None
        for _ in range(1000):
            try:
                threading.Thread(target=gate.wait, daemon=True).start()
            except RuntimeError as exc:
                error = str(exc)
                break
            started += 1
        gate.set()
        [started, error]
    """)
    started, error = assert_ran(execute(athena, program, policy=limits(processes=8)))
    assert started < 8 and "can't start new thread" in error, (started, error)
    assert_host_works(athena)


# --- memory and CPU -----------------------------------------------------------------------

def test_memory_bomb_hits_the_memory_limit(athena) -> None:
    program = python("""
        hoard = []
        while True:
            hoard.append(bytearray(8 << 20))
    """)
    result = execute(athena, program, policy=limits(memory_bytes=128 * _MiB))
    assert result.status in ("error", "killed"), result.status
    assert result.status == "killed" or result.error.type == "MemoryError", result.error
    assert_host_works(athena)


def test_shared_anonymous_memory_counts_against_the_memory_limit(athena) -> None:
    """MAP_SHARED|MAP_ANONYMOUS memory is shmem, which RLIMIT_DATA does not count."""
    program = python("""
        import mmap
        size = 8 * ARGS["limit"]
        block = mmap.mmap(-1, size)  # MAP_SHARED | MAP_ANONYMOUS
        for offset in range(0, size, 4096):
            block[offset] = 1
        rss = [l for l in open("/proc/self/status") if l.startswith("VmRSS")][0]
        int(rss.split()[1]) * 1024
    """, limit=64 * _MiB)
    result = execute(athena, program, policy=limits(memory_bytes=64 * _MiB))
    assert result.status != "ok", (
        f"a program with a 64 MiB memory limit touched {result.value / _MiB:.0f} MiB")


def test_cpu_spin_is_killed_at_the_cpu_limit(athena) -> None:
    result = execute(athena, "while True:\n    pass",
                     policy={"limits": {"cpu_seconds": 1, "wall_seconds": 20}})
    assert result.status == "killed", (result.status, result.error)
    assert result.duration_s < 10  # the CPU limit ended it, not the wall limit
    assert_host_works(athena)


def test_cpu_limit_covers_the_whole_process_tree(athena) -> None:
    """``cpu_seconds`` is the "CPU time of the whole process tree"; children each staying
    under it must not add up to several times the limit."""
    program = python("""
        import os, time
        children = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:
                start = time.process_time()
                while time.process_time() - start < 0.8:
                    pass
                os._exit(0)
            children.append(pid)
        for pid in children:
            os.waitpid(pid, 0)
        times = os.times()
        times.children_user + times.children_system
    """)
    result = execute(athena, program,
                     policy={"limits": {"cpu_seconds": 1, "wall_seconds": 20}})
    assert result.status != "ok", (
        f"the tree used {result.value:.1f} s of CPU under a 1 s CPU limit")


def test_sleeping_past_the_wall_limit_is_stopped(athena, token) -> None:
    program = python("""
        import os
        os.execv("/bin/sleep", [ARGS["token"] + "-sleeper", "600"])
    """, token=token)
    outcome: dict = {}
    runner = threading.Thread(target=lambda: outcome.update(result=execute(
        athena, program, policy={"limits": {"wall_seconds": 1}})))
    started = time.monotonic()
    runner.start()
    seen = []
    while not seen and runner.is_alive():
        seen = processes_with(token)
        time.sleep(0.02)
    runner.join(timeout=1 + WALL)
    assert seen, "control: the host sees the sandboxed process while it runs"
    result = outcome["result"]
    assert result.status == "timeout" and result.error.type == "Timeout"
    assert time.monotonic() - started < 1 + WALL
    assert wait_gone(token) == []


# --- escaping the process tree ------------------------------------------------------------

def test_setsid_double_fork_daemon_dies_with_the_sandbox(athena, token) -> None:
    program = python("""
        import os, signal, sys
        read_end, write_end = os.pipe()
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, signal.SIG_IGN)
                os.write(write_end, str(os.getpid()).encode())
                os.closerange(0, 3)
                os.execv("/bin/sleep", [ARGS["token"] + "-daemon", "600"])
            os._exit(0)
        os.close(write_end)
        daemon = int(os.read(read_end, 32))
        os.kill(daemon, 0)  # it is running as the program ends
        daemon
    """, token=token)
    result = execute(athena, program)
    assert assert_ran(result) > 1
    assert wait_gone(token) == [], "a daemonised grandchild survived the execution"


def test_background_writer_cannot_hold_the_execution_open(athena, token) -> None:
    program = python("""
        import os, sys
        if os.fork() == 0:
            os.setsid()
            while True:
                os.write(1, b"y" * 4096)
        "parent done"
    """, token=token)
    started = time.monotonic()
    result = execute(athena, program, policy=limits(output_bytes=64 * 1024))
    assert time.monotonic() - started < WALL + 2
    assert len(result.stdout) < 64 * 1024 + 100
    assert result.status in ("ok", "killed"), result.status
    assert_host_works(athena)


def test_signals_cannot_reach_host_processes(athena, token) -> None:
    marker = "victim" + token[::-1]
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", marker])
    try:
        program = python("""
            import os, signal
            {
                "victim": attempt(os.kill, ARGS["pid"], signal.SIGKILL),
                "victim_group": attempt(os.killpg, ARGS["pid"], signal.SIGKILL),
                "host": attempt(os.kill, ARGS["host"], signal.SIGKILL),
                "everyone": attempt(os.kill, -1, signal.SIGKILL),
                "pidfd": attempt(os.pidfd_open, ARGS["pid"]),
            }
        """, pid=victim.pid, host=os.getpid())
        value = assert_ran(execute(athena, program))
        assert all(refused(v) for v in value.values()), value
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


# --- output -------------------------------------------------------------------------------

def test_endless_output_is_cut_at_the_output_limit(athena) -> None:
    program = python("""
        import sys
        while True:
            sys.stdout.write("A" * 65536)
            sys.stderr.write("B" * 65536)
    """)
    started = time.monotonic()
    result = execute(athena, program, policy=limits(output_bytes=100_000))
    assert result.status == "killed" and time.monotonic() - started < WALL
    assert any("output limit" in v for v in result.violations)
    # Each stream is cut at the limit (the docs speak of stdout + stderr together).
    assert len(result.stdout) <= 100_000 + 100 and len(result.stderr) <= 100_000 + 100
    assert_host_works(athena)


def test_binary_output_still_decodes(athena) -> None:
    program = python("""
        import os, sys
        sys.stdout.buffer.write(bytes(range(256)) * 64 + b"\\xff\\xfe\\xc0\\x80\\x00")
        sys.stderr.buffer.write(os.urandom(8192))
        sys.stdout.flush()
        "done"
    """)
    result = execute(athena, program)
    assert assert_ran(result) == "done"
    assert isinstance(result.stdout, str) and "\ufffd" in result.stdout
    assert json.loads(json.dumps(result.to_dict()))["value"] == "done"
    [record] = athena.audit.records(kind="execution")
    assert record.id == result.id


# --- descriptors, files and the environment ------------------------------------------------

def test_fd_exhaustion_stays_inside_the_sandbox(athena_factory) -> None:
    before = _host_fds()
    athena = athena_factory()
    program = python("""
        import os, socket
        fds, error = [], None
        while True:
            try:
                fds.append(os.open("/dev/null", os.O_RDONLY))
                fds.append(socket.socket().detach())
            except OSError as exc:
                error = exc.errno
                break
        [len(fds), error]
    """)
    count, error = assert_ran(execute(athena, program, policy=limits(open_files=64)))
    assert error == 24 and count < 64, (count, error)  # EMFILE
    assert_host_works(athena)
    athena.close()
    assert _host_fds() == before


def test_disk_fill_is_bounded(athena, token) -> None:
    program = python("""
        import errno
        big = attempt(write, "/work/big", "x" * (4 << 20))
        total, error = 0, None
        for i in range(200):
            try:
                with open(f"/tmp/{ARGS['token']}-{i}", "w") as fh:
                    fh.write("y" * (1 << 20))
                total += 1
            except OSError as exc:
                error = errno.errorcode[exc.errno]
                break
        [big, total, error]
    """, token=token)
    result = execute(athena, program, policy=limits(file_size_bytes=2 * _MiB))
    big, total, error = assert_ran(result)
    assert refused(big) and "File too large" in big, big
    assert error == "ENOSPC" and total <= 64, (total, error)


def test_host_environment_secrets_do_not_leak(athena, monkeypatch, token) -> None:
    secret = f"env-secret-{token}"
    monkeypatch.setenv("ATHENA_TEST_SECRET", secret)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    assert os.environ["ATHENA_TEST_SECRET"] == secret
    program = python("""
        import os
        seen = {"environ": dict(os.environ)}
        for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
            for name in ("environ", "cmdline"):
                seen[f"{pid}/{name}"] = attempt(read, f"/proc/{pid}/{name}", "rb")
        _json.dumps({k: str(v) for k, v in seen.items()})
    """)
    result = execute(athena, program)
    value = assert_ran(result)
    assert "/work" in value  # control: the program saw its own environment
    assert token not in value + result.stdout + result.stderr
    assert "AWS_SECRET_ACCESS_KEY" not in value


def test_only_variables_named_by_the_policy_pass_through(athena, monkeypatch, token) -> None:
    monkeypatch.setenv("ATHENA_TEST_ALLOWED", "allowed-value")
    monkeypatch.setenv("ATHENA_TEST_SECRET", f"env-secret-{token}")
    program = python("import os\ndict(os.environ)")
    value = assert_ran(execute(athena, program, policy={"env": ["ATHENA_TEST_ALLOWED"]}))
    assert value["ATHENA_TEST_ALLOWED"] == "allowed-value"  # control: passing works
    assert "ATHENA_TEST_SECRET" not in value and token not in json.dumps(value)


def test_host_processes_and_argv_are_invisible(athena, token) -> None:
    marker = "argv" + token[::-1]
    host_process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", f"--password={marker}"])
    try:
        deadline = time.monotonic() + 5
        while processes_with(marker) != [host_process.pid] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert processes_with(marker) == [host_process.pid]  # control: the host sees it
        program = python("""
            import os
            pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
            cmdlines = {p: attempt(read, f"/proc/{p}/cmdline", "rb") for p in pids}
            {
                "pids": pids,
                "cmdlines": repr(cmdlines),
                "host_pid": {n: attempt(read, f"/proc/{ARGS['pid']}/{n}", "rb")
                             for n in ("cmdline", "environ", "status")},
                "host_root": attempt(os.listdir, f"/proc/{ARGS['pid']}/root"),
                "pytest_pid": attempt(os.kill, ARGS["pytest"], 0),
            }
        """, pid=host_process.pid, pytest=os.getpid())
        value = assert_ran(execute(athena, program))
        assert marker not in value["cmdlines"] and "pytest" not in value["cmdlines"]
        assert len(value["pids"]) <= 4, value["pids"]  # bwrap's init, the worker, ...
        assert refused(value["host_root"]) and refused(value["pytest_pid"]), value
        assert all(refused(v) for v in value["host_pid"].values()), value["host_pid"]
        assert host_process.poll() is None
    finally:
        host_process.kill()
        host_process.wait()


def test_the_terminal_cannot_be_hijacked(athena) -> None:
    program = python("""
        import fcntl, os, termios
        {
            "dev_tty_exists": os.path.exists("/dev/tty"),
            "open_tty": attempt(os.open, "/dev/tty", os.O_RDWR),
            "tiocsti": [attempt(fcntl.ioctl, fd, termios.TIOCSTI, b"x") for fd in (0, 1, 2)],
        }
    """)
    value = assert_ran(execute(athena, program))
    assert value["dev_tty_exists"] is True  # control: the device node is there
    assert refused(value["open_tty"]), value  # but no controlling terminal (new session)
    assert all(refused(v) for v in value["tiocsti"]), value
    assert_host_works(athena)


def test_the_worker_process_is_gone_after_every_outcome(athena, token) -> None:
    programs = {
        "ok": "1",
        "error": "raise RuntimeError('x')",
        "exit": "import os\nos._exit(7)",
        "signal": "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)",
    }
    expected_status = {"ok": "ok", "error": "error", "exit": "killed", "signal": "killed"}
    for expected, code in programs.items():
        body = python("""
            import os
            if os.fork() == 0:
                os.setsid()
                os.execv("/bin/sleep", [ARGS["token"] + "-child", "600"])
        """, token=token) + code + "\n"
        result = execute(athena, body)
        assert result.status == expected_status[expected], (expected, result.status)
        assert wait_gone(token) == [], expected
    assert_host_works(athena)
