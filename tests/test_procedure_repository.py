"""The procedures' git repository: commits, history, diff, rollback, locking and kill -9."""

from __future__ import annotations

import os
import random
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from athena_core.config import Config
from athena_core.errors import (
    InvalidArgumentError,
    ProcedureNotFoundError,
    ProcedureStoreError,
)
from athena_core.procedures import Procedure, ProcedureRepository

GIT = shutil.which("git")
ROOT = Path(__file__).resolve().parent.parent
TESTS = "from main import run\n\n\ndef test_run() -> None:\n    assert run(1) == 2\n"
#: Writers killed with SIGKILL at random moments while saving (the issue asks for 100).
KILLS = 100


def code(n: int) -> str:
    return f"def run(x: int) -> int:\n    return x + {n}\n"


def procedure(id: str = "math/add", n: int = 1, description: str = "Add a number.") -> Procedure:
    return Procedure.from_code(code(n), id=id, description=description)


def save(repo: ProcedureRepository, n: int, id: str = "math/add", **kwargs: str) -> str:
    return repo.save(procedure(id, n), code(n), TESTS, author=kwargs.get("author", "alice"),
                     message=kwargs.get("message", f"version {n}"))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "procedures.git"


@pytest.fixture
def repo(path: Path):
    with ProcedureRepository.open(path) as opened:
        yield opened


def raw_files(path: Path, commit: str, id: str) -> dict[str, bytes]:
    """The files of ``id``'s folder at ``commit``, read with dulwich alone."""
    from dulwich.repo import Repo

    with Repo(str(path)) as git:
        tree = git[git[commit.encode()].tree]
        for part in id.encode().split(b"/"):
            tree = git[tree[part][1]]
        return {name.decode(): git[sha].as_raw_string() for name, _, sha in tree.iteritems()}


def git_fsck(path: Path) -> None:
    if GIT is None:
        return
    done = subprocess.run([GIT, "--git-dir", str(path), "fsck", "--full", "--strict",
                           "--no-dangling"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "error" not in done.stderr.lower(), done.stderr


# --- the repository --------------------------------------------------------------------------

def test_a_new_repository_is_bare_with_the_procedure_folders_git_reads(repo, path) -> None:
    assert repo.head() is None and repo.list() == []
    commit = save(repo, 1)
    assert (path / "HEAD").is_file() and not (path / ".git").exists()
    assert raw_files(path, commit, "math/add") == {
        "manifest.json": procedure().to_manifest().encode(), "main.py": code(1).encode(),
        "test_main.py": TESTS.encode()}
    git_fsck(path)
    if GIT:
        shown = subprocess.run([GIT, "--git-dir", str(path), "show", "HEAD:math/add/main.py"],
                               capture_output=True, text=True, check=True).stdout
        assert shown == code(1)


def test_each_save_is_one_commit_with_its_author_and_message(repo) -> None:
    first = save(repo, 1, author="alice", message="first")
    second = save(repo, 2, author="Bob <bob@example.org>", message="second\n\nwith a body")
    history = repo.history("math/add")
    assert [h.commit for h in history] == [second, first]
    assert [(h.author, h.message) for h in history] == [
        ("Bob <bob@example.org>", "second\n\nwith a body"), ("alice", "first")]
    assert history[0].created_at.utcoffset().total_seconds() == 0
    assert repo.head() == second


def test_saving_the_same_content_again_makes_no_commit(repo) -> None:
    first = save(repo, 1)
    other = save(repo, 1, id="text/other")
    assert save(repo, 1, message="again") == first
    assert repo.head() == other
    assert [h.commit for h in repo.history("math/add")] == [first]


def test_procedures_have_their_own_histories(repo) -> None:
    a1 = save(repo, 1)
    b1 = save(repo, 1, id="text/other")
    a2 = save(repo, 2)
    assert [h.commit for h in repo.history("math/add")] == [a2, a1]
    assert [h.commit for h in repo.history("text/other")] == [b1]
    assert repo.list() == ["math/add", "text/other"]
    # Read at a commit that changed only another procedure: the version seen there.
    assert repo.read("text/other", a2).commit == b1


def test_save_many_is_one_commit_holding_every_procedure(repo, path) -> None:
    before = save(repo, 1, id="math/add")
    versions = [(procedure(f"ns{i % 3}/p{i}", i), code(i), TESTS) for i in range(7)]
    versions.append((procedure("math/add", 2), code(2), TESTS))
    commits = repo.save_many(versions, author="installer", message="seven and a change")
    commit = repo.head()
    assert commits == {procedure.id: commit for procedure, _, _ in versions}
    assert repo.list() == sorted(["math/add", *(f"ns{i % 3}/p{i}" for i in range(7))])
    for i in range(7):
        read = repo.read(f"ns{i % 3}/p{i}")
        assert (read.commit, read.code, read.author) == (commit, code(i), "installer")
        assert raw_files(path, commit, f"ns{i % 3}/p{i}")["main.py"] == code(i).encode()
    assert [h.commit for h in repo.history("math/add")] == [commit, before]
    assert repo.verify() == []
    git_fsck(path)
    # Nothing new: no commit; one changed: only it gets the new commit.
    assert repo.save_many(versions, author="installer", message="again") == commits
    versions[0] = (procedure("ns0/p0", 9), code(9), TESTS)
    changed = repo.save_many(versions, author="installer", message="one change")
    assert changed["ns0/p0"] == repo.head() != commit
    assert {id: c for id, c in changed.items() if id != "ns0/p0"} == {
        id: c for id, c in commits.items() if id != "ns0/p0"}


def test_save_many_refuses_a_bad_version_or_an_id_twice_and_writes_nothing(repo, path) -> None:
    head = save(repo, 1)
    objects = sorted(p.name for p in (path / "objects").rglob("*"))
    good = (procedure("text/good", 1), code(1), TESTS)
    with pytest.raises(InvalidArgumentError, match="text/good") as twice:
        repo.save_many([good, good], author="alice", message="twice")
    assert twice.value.argument == "versions"
    with pytest.raises(InvalidArgumentError) as bad:
        repo.save_many([good, (procedure("text/bad", 1), "def run(:", TESTS)],
                       author="alice", message="bad")
    assert bad.value.argument == "code"
    assert repo.save_many([], author="alice", message="nothing") == {}
    assert repo.head() == head
    assert sorted(p.name for p in (path / "objects").rglob("*")) == objects


def test_read_any_version_by_its_commit_or_a_prefix(repo) -> None:
    first = save(repo, 1)
    save(repo, 2)
    old = repo.read("math/add", first)
    assert (old.commit, old.code, old.tests, old.procedure) == (first, code(1), TESTS,
                                                               procedure(n=1))
    assert repo.read("math/add", first[:7]).commit == first
    assert repo.read("math/add").code == code(2)


def test_diff_between_any_two_versions(repo) -> None:
    first = save(repo, 1)
    second = repo.save(procedure(n=2, description="Add two."), code(2), TESTS,
                       author="alice", message="two")
    diff = repo.diff("math/add", first, second)
    assert diff.startswith("--- a/math/add/main.py\n+++ b/math/add/main.py\n")
    assert "-    return x + 1\n+    return x + 2\n" in diff
    assert '-  "description": "Add a number.",\n+  "description": "Add two.",\n' in diff
    assert "test_main.py" not in diff
    assert repo.diff("math/add", second, first).count("+    return x + 1\n") == 1
    assert repo.diff("math/add", first, first) == ""
    assert repo.diff("math/add", first) == diff  # b defaults to the newest version


def test_a_diff_marks_a_missing_final_newline(repo) -> None:
    first = save(repo, 1)
    source = code(1).rstrip("\n")
    second = repo.save(procedure(), source, TESTS, author="alice", message="no newline")
    assert repo.diff("math/add", first, second).endswith(
        "+    return x + 1\n\\ No newline at end of file\n")


def test_rollback_is_a_new_commit_restoring_byte_identical_files(repo, path) -> None:
    first = save(repo, 1)
    second = save(repo, 2)
    rolled = repo.rollback("math/add", first[:8], author="carol", message="back to 1")
    assert rolled not in (first, second)
    assert raw_files(path, rolled, "math/add") == raw_files(path, first, "math/add")
    assert raw_files(path, rolled, "math/add") != raw_files(path, second, "math/add")
    history = repo.history("math/add")
    assert [h.commit for h in history] == [rolled, second, first]  # nothing rewritten
    assert (history[0].author, history[0].message) == ("carol", "back to 1")
    assert repo.read("math/add", second).code == code(2)
    # Rolling back to what is already the newest version makes no commit.
    assert repo.rollback("math/add", first, author="carol", message="again") == rolled
    git_fsck(path)


def test_the_repository_passes_its_own_check_and_finds_damage(repo, path) -> None:
    commit = save(repo, 1)
    assert repo.verify() == []
    blob = raw_files(path, commit, "math/add")  # find the code blob's file and damage it
    from dulwich.objects import Blob

    sha = Blob.from_string(blob["main.py"]).id.decode()
    target = path / "objects" / sha[:2] / sha[2:]
    target.chmod(0o644)
    target.write_bytes(b"not a git object")
    problems = repo.verify()
    assert problems and any(sha in problem for problem in problems)


# --- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize(("code_", "tests", "argument", "message"), [
    ("def run(x: int) -> int\n    return x\n", TESTS, "code", "main.py of procedure 'math/add'"),
    (code(1), "def test(:\n", "tests", "test_main.py of procedure 'math/add' does not parse"),
    ("def run(x: str) -> int:\n    return 1\n", TESTS, "procedure", "not those of run()"),
    ("def other(x: int) -> int:\n    return 1\n", TESTS, "entry", "'run'"),
    (b"def run(x: int) -> int: ...", TESTS, "code", "must be a string"),
    ("def run(x: int) -> int:\n    return '\udc80'\n", TESTS, "code", "lone surrogate"),
])
def test_code_that_cannot_be_saved_is_refused_and_nothing_is_written(
        repo, path, code_: str, tests: str, argument: str, message: str) -> None:
    head = save(repo, 1)
    objects = sorted(p.name for p in (path / "objects").rglob("*"))
    with pytest.raises(InvalidArgumentError, match=message.replace("(", "\\(")
                       .replace(")", "\\)")) as caught:
        repo.save(procedure(), code_, tests, author="alice", message="bad")
    assert caught.value.argument == argument
    assert repo.head() == head
    assert sorted(p.name for p in (path / "objects").rglob("*")) == objects


@pytest.mark.parametrize(("author", "message", "argument"), [
    ("", "m", "author"), ("a\nb", "m", "author"), ("a <b> <c>", "m", "author"),
    ("x" * 256, "m", "author"), (None, "m", "author"), ("alice", "", "message"),
    ("alice", "\n\n", "message"), ("alice", 3, "message"), ("alice", "\udc80", "message"),
])
def test_an_unusable_author_or_message_is_refused(repo, author, message, argument) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        repo.save(procedure(), code(1), TESTS, author=author, message=message)
    assert caught.value.argument == argument
    assert repo.head() is None


def test_unknown_procedures_and_versions_are_typed_errors(repo) -> None:
    first = save(repo, 1)
    save(repo, 1, id="text/other")
    with pytest.raises(ProcedureNotFoundError, match="No procedure 'math/missing'"):
        repo.history("math/missing")
    with pytest.raises(ProcedureNotFoundError, match="No procedure 'math/missing'"):
        repo.read("math/missing")
    with pytest.raises(ProcedureNotFoundError, match="no version at commit"):
        repo.read("math/add", "f" * 40)
    with pytest.raises(ProcedureNotFoundError, match="no version at commit"):
        repo.read("math/add", "ffff")
    with pytest.raises(ProcedureNotFoundError, match="no version at commit"):
        repo.read("text/other", first)  # it did not exist yet
    with pytest.raises(InvalidArgumentError, match="not a commit id"):
        repo.diff("math/add", "HEAD~1")
    with pytest.raises(InvalidArgumentError, match="procedure id"):
        repo.history("Math/Add")
    with pytest.raises(ProcedureNotFoundError):
        repo.rollback("math/add", "f" * 40, author="a", message="m")


def test_a_directory_that_is_not_a_bare_repository_is_left_untouched(tmp_path) -> None:
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(ProcedureStoreError, match="not a git repository"):
        ProcedureRepository.open(other)
    assert [p.name for p in other.iterdir()] == ["keep.txt"]
    from dulwich.repo import Repo

    Repo.init(str(tmp_path / "work"), mkdir=True).close()
    with pytest.raises(ProcedureStoreError, match="git work tree"):
        ProcedureRepository.open(tmp_path / "work")


def test_an_empty_directory_becomes_the_repository(tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with ProcedureRepository.open(empty) as repo:
        save(repo, 1)
    with ProcedureRepository.open(empty) as repo:
        assert repo.list() == ["math/add"]


def test_the_repository_path_comes_from_the_procedures_section(tmp_path) -> None:
    home = tmp_path / "home"
    assert Config.from_mapping({}, data_dir=home, env={}).procedure_repository == \
        home / "procedures.git"
    config = Config.from_mapping({"procedures": {"repository": "git/procs"}}, data_dir=home,
                                 env={})
    assert config.procedure_repository == home / "git" / "procs"
    config = Config.from_mapping({}, data_dir=home,
                                 env={"ATHENA_PROCEDURES_REPOSITORY": str(tmp_path / "abs")})
    assert config.procedure_repository == tmp_path / "abs"


# --- durability and locking ---------------------------------------------------------------------

def test_objects_and_the_branch_are_fsynced_before_a_save_returns(repo, path,
                                                                  monkeypatch) -> None:
    save(repo, 1)
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        real_fsync(fd)
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))

    monkeypatch.setattr(os, "fsync", recording_fsync)
    commit = save(repo, 2)
    from dulwich.repo import Repo

    with Repo(str(path)) as git:  # every object the new commit added
        new = [commit.encode(), git[commit.encode()].tree]
        tree = git[git[commit.encode()].tree]
        for part in (b"math", b"add"):
            new.append(tree[part][1])
            tree = git[tree[part][1]]
        new.extend(sha for _, _, sha in tree.iteritems())
    object_files = {str(path / "objects" / s.decode()[:2] / s.decode()[2:]) for s in new}
    assert object_files <= set(synced)
    branch = str(path / "refs" / "heads" / "main")
    assert branch in synced and str(path / "refs" / "heads") in synced
    last_object = max(synced.index(f) for f in object_files)
    assert synced.index(branch) > last_object  # the branch moves only to durable objects


_STALLING_WRITER = textwrap.dedent('''
    import os, sys, time
    import dulwich.file
    from athena_core.procedures import Procedure, ProcedureRepository

    path, target = sys.argv[1], sys.argv[2]
    close = dulwich.file._GitFile.close

    def stalling_close(self):
        name = os.fsdecode(self._lockfilename)
        if target in name:
            print(name, flush=True)
            time.sleep(120)
        return close(self)

    dulwich.file._GitFile.close = stalling_close
    code = "def run(x: int) -> int:\\n    return x + 9\\n"
    repo = ProcedureRepository.open(path)
    repo.save(Procedure.from_code(code, id="math/add", description="Add nine."), code, "",
              author="stalled", message="never finished")
''')


def start_stalled_writer(path: Path, target: str) -> tuple[subprocess.Popen[str], Path]:
    """A writer process stopped while it holds a git lock file (``*.lock``) on ``target``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]))
    child = subprocess.Popen([sys.executable, "-c", _STALLING_WRITER, str(path), target],
                             stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], 60)
    assert ready, "the writer did not reach its lock"
    lock = Path(child.stdout.readline().strip())
    assert lock.name.endswith(".lock") and lock.exists()
    return child, lock


def kill(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize("target", ["/objects/", "/refs/heads/main"])
def test_a_lock_left_by_a_killed_writer_is_recovered_on_open(path, target) -> None:
    with ProcedureRepository.open(path) as repo:
        first = save(repo, 1)
    child, lock = start_stalled_writer(path, target)
    kill(child)
    assert lock.exists()  # stale: git (and dulwich) would refuse to write this file
    with ProcedureRepository.open(path) as repo:
        assert not lock.exists()
        assert repo.head() == first
        code9 = "def run(x: int) -> int:\n    return x + 9\n"  # what the killed writer wrote
        commit = repo.save(Procedure.from_code(code9, id="math/add", description="Add nine."),
                           code9, "", author="alice", message="after the kill")
        assert [h.commit for h in repo.history("math/add")] == [commit, first]
        assert repo.verify() == []
    git_fsck(path)


def test_a_live_writers_lock_is_left_alone_and_waited_for(path) -> None:
    with ProcedureRepository.open(path) as repo:
        save(repo, 1)
    child, lock = start_stalled_writer(path, "/refs/heads/main")
    try:
        with ProcedureRepository.open(path, lock_timeout=0.2) as repo:
            assert lock.exists()  # the writer is alive: its lock is not stale
            with pytest.raises(ProcedureStoreError, match="another process has been writing"):
                save(repo, 2)
            kill(child)
            second = save(repo, 2)  # the lock is stale now: the write removes it
            assert repo.head() == second
    finally:
        if child.poll() is None:
            kill(child)


_SAVING_WRITER = textwrap.dedent('''
    import sys
    from athena_core.procedures import Procedure, ProcedureRepository

    path, writer, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    repo = ProcedureRepository.open(path)
    for i in range(count):
        code = f"def run(x: int) -> int:\\n    return x  # {writer} {i}\\n"
        commit = repo.save(Procedure.from_code(code, id="math/shared", description="Shared."),
                           code, "", author=writer, message=f"{writer} {i}")
        print(commit, flush=True)
''')


def test_two_processes_saving_the_same_procedure_keep_every_version_in_order(path) -> None:
    count = 15
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]))
    writers = [subprocess.Popen([sys.executable, "-c", _SAVING_WRITER, str(path), name,
                                 str(count)], stdout=subprocess.PIPE, text=True, env=env)
               for name in ("w1", "w2")]
    outputs = [writer.communicate(timeout=120)[0].split() for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0]
    with ProcedureRepository.open(path) as repo:
        history = repo.history("math/shared")
        assert len(history) == 2 * count
        assert {h.commit for h in history} == set(outputs[0]) | set(outputs[1])
        for name, acknowledged in zip(("w1", "w2"), outputs, strict=True):
            mine = [h.commit for h in reversed(history) if h.author == name]
            assert mine == acknowledged  # each writer's versions in its own order
            assert [h.message for h in reversed(history) if h.author == name] == [
                f"{name} {i}" for i in range(count)]
        assert repo.verify() == []
    git_fsck(path)


def _save_until_killed(path: Path, out: int) -> None:
    """The child: save versions forever, writing each commit id once ``save`` returned."""
    try:
        repo = ProcedureRepository.open(path)
        os.write(out, b"ready\n")
        i = 0
        while True:
            i += 1
            id = ("kill/first", "kill/second")[i % 2]
            source = f"def run(x: int) -> int:\n    return x  # {os.getpid()} {i}\n"
            commit = repo.save(Procedure.from_code(source, id=id, description="Killed."),
                               source, TESTS, author="writer", message=f"{os.getpid()} {i}")
            os.write(out, f"{commit}\n".encode())
    except BaseException as exc:
        os.write(out, f"error {type(exc).__name__}: {exc}\n".encode())
    finally:
        os._exit(1)


def _read_lines(fd: int, count: int) -> list[str]:
    """The first ``count`` lines the child writes (each write is one whole line)."""
    lines: list[str] = []
    while len(lines) < count:
        ready, _, _ = select.select([fd], [], [], 60)
        assert ready, "the writer wrote nothing for 60 s"
        chunk = os.read(fd, 65536).decode()
        assert chunk, f"the writer exited early: {lines}"
        lines.extend(chunk.splitlines())
    return lines


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks).decode()


def test_kill_9_during_saves_loses_no_acknowledged_version(path) -> None:
    rng = random.Random(20261207)
    with ProcedureRepository.open(path):
        pass
    acknowledged: list[str] = []
    stale_locks_found = 0
    for _ in range(KILLS):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os.close(read_end)
            _save_until_killed(path, write_end)
        os.close(write_end)
        # Killed at a random moment after its first acknowledged save (however loaded
        # the machine), so every kill lands among saves.
        seen = _read_lines(read_end, 2)
        time.sleep(rng.uniform(0.0, 0.02))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        lines = seen + _read_all(read_end).splitlines()
        os.close(read_end)
        assert lines[0] == "ready", lines[:1]
        assert not [line for line in lines if line.startswith("error")], lines
        acknowledged.extend(lines[1:])
        stale_locks_found += any(path.rglob("*.lock"))
    with ProcedureRepository.open(path) as repo:
        assert not list(path.rglob("*.lock"))
        # On a loaded machine every kill can land before the second save: then only the
        # first id (kill/second) exists.
        kept = {h.commit for id in repo.list() for h in repo.history(id)}
        assert len(acknowledged) >= KILLS
        assert set(acknowledged) <= kept
        assert repo.verify() == []
    git_fsck(path)
    # How many kills left a git lock file behind depends on timing (14 of 100 in one
    # run); test_a_lock_left_by_a_killed_writer_is_recovered_on_open makes one for sure.
    print(f"{stale_locks_found} of {KILLS} kills left a lock file")
