"""The srt executor, installed as a plugin, running real programs under the real srt."""

from __future__ import annotations

import http.server
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from athena_srt.executor import SrtExecutor

from athena_core.execution.model import ExecutorContext
from athena_core.execution.policy import PRESETS, Policy
from athena_core.plugins import PluginHost

# Through srt's proxy, whatever no_proxy says (srt lists 127.0.0.1 there).
FETCH = '''
import base64, http.client, os, urllib.parse
proxy = urllib.parse.urlsplit(os.environ["HTTP_PROXY"])
auth = base64.b64encode(
    f"{urllib.parse.unquote(proxy.username)}:{urllib.parse.unquote(proxy.password)}".encode())
answers = {}
for url in URLS:
    conn = http.client.HTTPConnection(proxy.hostname, proxy.port, timeout=20)
    conn.request("GET", url, headers={"Proxy-Authorization": "Basic " + auth.decode()})
    response = conn.getresponse()
    answers[url] = [response.status, response.getheader("X-Proxy-Error"),
                    response.read().decode(errors="replace")[:200]]
answers
'''

CONNECT = '''
import socket
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=5).close()
    outcome = "connected"
except OSError as exc:
    outcome = type(exc).__name__
outcome
'''


@pytest.fixture
def local_server() -> Iterator[int]:
    """An HTTP server on 127.0.0.1 answering every GET with a marker."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"hello from the host"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_registered_by_the_installed_distribution() -> None:
    host = PluginHost()
    host.load_entry_points()
    assert "srt" in host.registry("executor")
    info = next(p for p in host.plugins() if p.name == "srt")
    assert info.distribution == "athena-srt"


def test_program_output_value_and_bridge(athena) -> None:
    athena.remember("Deploys go through staging first", scope="web")
    program = """
import sys
import athena
print("hello")
print("oops", file=sys.stderr)
hits = athena.recall("how do we deploy?", k=3)
new_id = athena.remember("written from srt", metadata={"via": "srt"})
[hits[0].text, new_id, 6 * 7]
"""
    result = athena.execute(program, scope="web")
    assert result.status == "ok", (result.error, result.stderr)
    assert result.executor == "srt" and result.stdout == "hello\n" and "oops" in result.stderr
    text, new_id, answer = result.value
    assert (text, answer) == ("Deploys go through staging first", 42)
    assert athena.get(new_id, scope="web").metadata == {"via": "srt"}
    assert [c.operation for c in result.bridge_calls] == ["recall", "remember"]


def test_program_errors_report_type_and_line(athena) -> None:
    result = athena.execute("x = 1\nraise KeyError('missing thing')")
    assert (result.status, result.error.type, result.error.line) == ("error", "KeyError", 2)


@pytest.mark.parametrize(("language", "code", "expected"), [
    ("bash", "echo hello from bash", "hello from bash\n"),
    ("javascript", "const hits = await athena.recall('x'); console.log('node', hits.length)",
     "node 0\n"),
])
def test_other_languages(athena, language: str, code: str, expected: str) -> None:
    if language == "javascript" and shutil.which("node") is None:
        pytest.skip("node is not installed")
    result = athena.execute(code, language=language)
    assert (result.status, result.stdout) == ("ok", expected), result.stderr


def test_allowed_domain_is_reached_and_others_are_refused(athena, local_server: int) -> None:
    allowed = f"http://127.0.0.1:{local_server}/"
    refused = [f"http://localhost:{local_server}/", "http://not-allowed.example.org/"]
    result = athena.execute(f"URLS = {[allowed, *refused]!r}\n{FETCH}",
                            policy={"network_domains": [f"127.0.0.1:{local_server}"]})
    assert result.status == "ok", (result.error, result.stderr)
    assert result.value[allowed][0] == 200
    assert result.value[allowed][2] == "hello from the host"
    for url in refused:
        status, reason, _ = result.value[url]
        assert (status, reason) == (403, "blocked-by-allowlist"), url


def test_a_domain_off_the_list_is_refused(athena, local_server: int) -> None:
    url = f"http://127.0.0.1:{local_server}/"
    result = athena.execute(f"URLS = {[url]!r}\n{FETCH}",
                            policy={"network_domains": ["docs.python.org"]})
    assert result.status == "ok", (result.error, result.stderr)
    assert result.value[url][:2] == [403, "blocked-by-allowlist"]


def test_no_direct_connections_even_to_an_allowed_address(athena, local_server: int) -> None:
    result = athena.execute(CONNECT.replace("PORT", str(local_server)),
                            policy={"network_domains": [f"127.0.0.1:{local_server}"]})
    assert result.status == "ok" and result.value == "ConnectionRefusedError"


def test_strict_policy_has_no_network_and_no_proxy(athena, local_server: int) -> None:
    result = athena.execute("import os\nsorted(k for k in os.environ if 'proxy' in k.lower())")
    assert (result.status, result.value) == ("ok", [])
    direct = athena.execute(CONNECT.replace("PORT", str(local_server)))
    assert direct.value == "ConnectionRefusedError"


def test_environment_is_scrubbed(athena, monkeypatch) -> None:
    monkeypatch.setenv("ATHENA_SRT_TEST_SECRET", "hunter2")
    result = athena.execute("import os\ndict(os.environ)")
    assert result.status == "ok"
    assert "ATHENA_SRT_TEST_SECRET" not in result.value
    assert "hunter2" not in repr(result.value)
    assert set(result.value) == {"HOME", "LANG", "PATH", "PYTHONDONTWRITEBYTECODE",
                                 "PYTHONUNBUFFERED", "TMPDIR"}
    passed = athena.execute("import os\nos.environ['ATHENA_SRT_TEST_SECRET']",
                            policy={"env": ["ATHENA_SRT_TEST_SECRET"]})
    assert passed.value == "hunter2"


def test_memory_limit(athena) -> None:
    result = athena.execute("block = bytearray(2 * 1024 ** 3)\nlen(block)",
                            policy={"limits": {"memory_bytes": 256 * 1024 * 1024}})
    assert result.status == "error" and result.error.type == "MemoryError"


def test_cpu_limit_kills_a_spinning_program(athena) -> None:
    result = athena.execute("while True:\n    pass",
                            policy={"limits": {"cpu_seconds": 1, "wall_seconds": 20}})
    assert result.status == "killed"
    assert "CPU time limit" in result.error.message
    assert result.duration_s < 15


def test_process_limit(athena) -> None:
    program = """
import os, time
started = 0
try:
    for _ in range(64):
        if os.fork() == 0:
            time.sleep(3)
            os._exit(0)
        started += 1
except OSError as exc:
    print(exc.errno)
started
"""
    result = athena.execute(program, policy={"limits": {"processes": 8}})
    assert result.status == "ok" and result.value < 8
    assert result.stdout.strip() == "11"  # EAGAIN


def test_death_by_signal_is_not_ok(athena) -> None:
    killed = athena.execute("import os, signal\nprint('before', flush=True)\n"
                            "os.kill(os.getpid(), signal.SIGKILL)")
    assert killed.status == "killed" and not killed.ok
    assert killed.stdout == "before\n" and killed.error.type == "Killed"
    segv = athena.execute("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)")
    assert segv.status == "killed" and "SIGSEGV" in segv.error.message
    bash = athena.execute("kill -SEGV $$", language="bash")
    assert bash.status == "error" and "signal 11" in bash.error.message


def test_wall_time_and_output_limits(athena) -> None:
    slow = athena.execute("import time\ntime.sleep(30)", policy={"limits": {"wall_seconds": 1}})
    assert slow.status == "timeout" and slow.duration_s < 10
    loud = athena.execute("print('x' * 5_000_000)", policy={"limits": {"output_bytes": 10_000}})
    assert loud.status == "killed" and loud.stdout.endswith("[output truncated]")


def test_filesystem_is_private_and_read_only_outside_the_work_dir(athena) -> None:
    first = athena.execute("import os\nopen('marker', 'w').write('x')\nos.getcwd()")
    assert first.status == "ok"
    assert not Path(first.value).exists()  # the run directory is gone
    second = athena.execute("import os\nos.path.exists('marker'), os.getcwd()")
    assert second.value[0] is False and second.value[1] != first.value
    data_dir = str(athena.config.data_dir)
    hidden = athena.execute(f"import os\nos.path.exists({data_dir!r}), os.listdir('/home')")
    assert hidden.value == [False, []]
    readonly = athena.execute("open('/usr/athena-srt-test', 'w')")
    assert readonly.status == "error" and readonly.error.type == "OSError"


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory other users can enter: the sandbox runs as an unprivileged uid."""
    path = Path(tempfile.mkdtemp(prefix="athena-srt-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_policy_paths_and_deny_paths(athena, shared_dir: Path) -> None:
    project = shared_dir / "project"
    (project / "secrets").mkdir(parents=True)
    (project / "notes.txt").write_text("project notes")
    (project / "secrets" / "key").write_text("do not read")
    out = shared_dir / "out"
    out.mkdir()
    out.chmod(0o777)  # writable by the sandbox's uid
    policy = {"read_paths": [str(project)], "write_paths": [str(out)],
              "deny_paths": [str(project / "secrets")]}
    program = f"""
import os
notes = open({str(project / 'notes.txt')!r}).read()
secrets = os.listdir({str(project / 'secrets')!r})
open({str(out / 'result.txt')!r}, 'w').write('written')
try:
    open({str(project / 'new.txt')!r}, 'w')
    project_write = 'allowed'
except OSError as exc:
    project_write = type(exc).__name__
[notes, secrets, project_write]
"""
    result = athena.execute(program, policy=policy)
    assert result.status == "ok", (result.error, result.stderr)
    assert result.value == ["project notes", [], "OSError"]
    assert (out / "result.txt").read_text() == "written"
    assert not (project / "new.txt").exists()


def test_refusals() -> None:
    executor = SrtExecutor(ExecutorContext(data_dir=Path("/nonexistent")))
    assert executor.refusals(PRESETS["research"], "python") == []
    assert executor.refusals(Policy("ok", network_domains=("127.0.0.1:8080", "[::1]:443",
                                                            "localhost", "*.example.org")),
                             "python") == []
    bad = Policy("bad", network_domains=("https://example.org", "*.org", "*", "exa mple.org",
                                         "::1", "example.org:0"))
    assert len(executor.refusals(bad, "python")) == 6
    globbed = Policy("glob", read_paths=("/usr/*",))
    assert any("glob" in r for r in executor.refusals(globbed, "python"))
    assert executor.refusals(Policy("x"), "cobol") == ["unknown language 'cobol'"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox has its own uid only under root")
def test_paths_closed_to_the_sandbox_uid_are_refused(shared_dir: Path) -> None:
    private = shared_dir / "private"
    private.mkdir(mode=0o700)
    (private / "inner").mkdir(mode=0o755)
    readonly = shared_dir / "readonly"
    readonly.mkdir(mode=0o755)
    executor = SrtExecutor(ExecutorContext(data_dir=Path("/nonexistent")))
    [reason] = executor.refusals(Policy("p", read_paths=(str(private),)), "python")
    assert "not readable by other users" in reason and "unprivileged uid" in reason
    [reason] = executor.refusals(Policy("p", read_paths=(str(private / "inner"),)), "python")
    assert f"is inside {private}, which other users cannot enter" in reason
    [reason] = executor.refusals(Policy("p", write_paths=(str(readonly),)), "python")
    assert "not writable by other users" in reason
    assert executor.refusals(Policy("p", read_paths=(str(readonly),)), "python") == []


def test_refused_policy_is_denied_without_running(athena) -> None:
    result = athena.execute("1", policy={"network_domains": ["https://example.org/path"]})
    assert result.status == "denied"
    assert any("scheme or path" in v for v in result.violations)


def test_unavailable_says_how_to_install(tmp_path: Path) -> None:
    missing = SrtExecutor(ExecutorContext(data_dir=tmp_path,
                                          options={"srt": str(tmp_path / "no-srt")}))
    reason = missing.unavailable()
    assert reason is not None and "npm install -g @anthropic-ai/sandbox-runtime" in reason
    configured = SrtExecutor(ExecutorContext(data_dir=tmp_path,
                                             options={"srt": shutil.which("srt") or ""}))
    assert configured.unavailable() is None


def test_staged_worker_files_are_removed_even_without_close(tmp_path: Path) -> None:
    import gc

    closed = SrtExecutor(ExecutorContext(data_dir=tmp_path))
    stage = closed._stage
    assert (stage / "boot.py").is_file()
    closed.close()
    assert not stage.exists()
    forgotten = SrtExecutor(ExecutorContext(data_dir=tmp_path))
    stage = forgotten._stage
    del forgotten
    gc.collect()
    assert not stage.exists()


def test_no_run_directories_or_processes_are_left(athena) -> None:
    result = athena.execute("import os\nos.getcwd(), os.getuid()")
    run_dir = Path(result.value[0]).parent
    assert not run_dir.exists()
    if os.geteuid() == 0:  # a dedicated uid: nothing may run as it any more
        uid = result.value[1]
        assert uid != 0
        from athena_srt.executor import _pids_of

        assert _pids_of(uid) == []


def test_concurrent_executions(athena) -> None:
    results: list = [None] * 4

    def run(i: int) -> None:
        results[i] = athena.execute(f"{i} * 3")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [(r.status, r.value) for r in results] == [("ok", i * 3) for i in range(4)]
