"""Key rotation and retirement: ``athena keys rotate/retire/status`` and their host API,
including a rotation killed with SIGKILL at random points."""

from __future__ import annotations

import base64
import errno
import json
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from athena_core import Athena
from athena_core.config import Config
from athena_core.errors import InvalidArgumentError, KeyUnavailableError
from athena_core.privacy import placeholders
from athena_core.privacy.keys import FileKeyProvider
from athena_core.privacy.vault import Kept
from athena_core.storage.models import SensitiveValueRow
from tests.conftest import DATABASE_URL, _empty_database
from tests.sandbox import require_sandbox
from tests.test_cli import athena as run_athena

VALUES = 600


def fill(athena, count: int = VALUES) -> dict[str, str]:
    """``count`` values kept in the vault directly (one transaction): token -> value."""
    vault = athena.privacy.vault
    kept = {}
    for number in range(count):
        value = f"user{number}@acme-corp.io"
        digest = vault.digest(value, scope="default")
        token = placeholders.placeholder("email", next(placeholders.suffixes(
            bytes.fromhex(digest))))
        kept[token] = Kept(digest, token, "email", value)
    with athena.storage.write() as session:
        vault.keep(session, "default", kept.values())
    return {token: item.value for token, item in kept.items()}


def versions_in_use(athena) -> dict[int, int]:
    with athena.storage.read() as session:
        return dict(session.execute(select(SensitiveValueRow.key_version, func.count())
                                    .group_by(SensitiveValueRow.key_version)).all())


def all_decrypt(athena, values: dict[str, str]) -> None:
    tokens = list(values)
    revealed = athena.privacy.reveal(" ".join(tokens))
    assert revealed == " ".join(values[token] for token in tokens)


def key_records(athena) -> list:
    return [r for r in athena.audit.records() if r.kind == "key_operation"]


def test_rotate_moves_every_value_and_retire_erases_the_old_key(athena):
    values = fill(athena)
    assert versions_in_use(athena) == {1: VALUES}
    steps: list[tuple[int, int]] = []
    report = athena.privacy.rotate_keys(progress=lambda done, total: steps.append((done, total)))
    assert (report.version, report.rewrapped, report.resumed) == (2, VALUES, False)
    assert steps[-1] == (VALUES, VALUES)
    assert versions_in_use(athena) == {2: VALUES}
    all_decrypt(athena, values)
    athena.privacy.retire_key(1)
    status = athena.privacy.key_status()
    data = {k["version"]: k for k in status["keys"] if k["purpose"] == "data"}
    assert data[1]["retired"] and data[1]["values"] == 0 and data[2]["values"] == VALUES
    all_decrypt(athena, values)
    assert sorted(r.details["operation"] for r in key_records(athena)) == [
        "create", "retire", "rotate"]


def test_retire_is_refused_while_values_remain_or_for_the_current_version(athena):
    fill(athena, 5)
    with pytest.raises(InvalidArgumentError, match="current one"):
        athena.privacy.retire_key(1)
    athena.privacy.keys.add_data_version()  # a new version, but values still on 1
    with pytest.raises(InvalidArgumentError, match="still encrypted under"):
        athena.privacy.retire_key(1)
    with pytest.raises(InvalidArgumentError, match="no data key version 9"):
        athena.privacy.retire_key(9)


_IN_A_CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from athena_core import Athena
    from athena_core.config import Config
    from athena_core.privacy.rotation import rotate
    raw = {"retrieval": {"embedder": "hashing"}}
    if sys.argv[2]:
        raw["storage"] = {"url": sys.argv[2]}
    with Athena.open(config=Config.from_mapping(raw, data_dir=Path(sys.argv[1]),
                                                env={})) as athena:
        print("ready", flush=True)
        if sys.argv[3] == "data":
            rotate(athena.privacy.vault, athena.audit, batch=20)
        else:
            while True:
                athena.privacy.rotate_master_key()
    print("done", flush=True)
""")


def killed_at_random(data_dir, rotation: str, rng: random.Random, longest: float) -> None:
    """Run ``rotation`` (``data`` or ``master``) in a child and SIGKILL it at a random
    point in its first ``longest`` seconds."""
    process = subprocess.Popen(
        [sys.executable, "-c", _IN_A_CHILD, str(data_dir), DATABASE_URL, rotation],
        stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    time.sleep(rng.uniform(0.0, longest))
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def test_a_rotation_killed_at_any_point_loses_nothing_and_resumes(athena_factory, data_dir):
    athena = athena_factory()
    values = fill(athena)
    athena.close()
    rng = random.Random(7)
    resumed = 0
    for _ in range(4):
        killed_at_random(data_dir, "data", rng, 0.4)
        check = athena_factory()
        counts = versions_in_use(check)
        assert sum(counts.values()) == VALUES  # nothing lost
        all_decrypt(check, values)
        status = check.privacy.key_status()
        if status["rotation_target"] is not None:  # interrupted: finish it
            target = status["rotation_target"]
            left = VALUES - counts.get(target, 0)
            report = check.privacy.rotate_keys()
            assert report.resumed and report.version == target
            assert report.rewrapped == left  # what was done is not done twice
            resumed += 1
        assert len(versions_in_use(check)) == 1
        all_decrypt(check, values)
        check.close()
    assert resumed >= 1


def test_the_keys_commands(athena_factory, data_dir):
    athena = athena_factory()
    fill(athena, 10)
    athena.close()
    env = {**os.environ, "ATHENA_HOME": str(data_dir), "ATHENA_RETRIEVAL_EMBEDDER": "hashing"}
    if DATABASE_URL:
        env["ATHENA_STORAGE_URL"] = DATABASE_URL
    rotated = run_athena(data_dir, "keys", "rotate", "--json", env=env)
    assert rotated.returncode == 0, rotated.stderr
    assert json.loads(rotated.stdout) == {"version": 2, "rewrapped": 10, "resumed": False}
    refused = run_athena(data_dir, "keys", "retire", "2", env=env)
    assert refused.returncode == 1 and "current one" in refused.stderr
    assert run_athena(data_dir, "keys", "retire", "1", env=env).returncode == 0
    status = run_athena(data_dir, "keys", "status", env=env)
    assert status.returncode == 0
    assert "data key version 1: retired" in status.stdout
    assert "data key version 2: in use, 10 values" in status.stdout
    assert "master.key" in status.stdout



def test_doctor_warns_about_a_key_file_others_can_read_and_fails_without_it(athena_factory,
                                                                             data_dir):
    from athena_core.doctor import run_checks

    athena = athena_factory()
    fill(athena, 3)
    athena.close()
    key_file = data_dir / "keys" / "master.key"

    def keys_check():
        config = data_dir / "athena.toml"
        lines = ['[retrieval]\nembedder = "hashing"\n']
        if DATABASE_URL:
            lines.append(f'[storage]\nurl = "{DATABASE_URL}"\n')
        config.write_text("".join(lines))
        return next(c for c in run_checks(data_dir, config) if c.name == "keys")

    check = keys_check()
    assert check.status == "ok" and "3 sensitive values" in check.detail
    original = key_file.read_bytes()
    key_file.chmod(0o644)
    check = keys_check()
    assert check.status == "warn" and "chmod 600" in check.detail
    key_file.chmod(0o600)
    key_file.write_text("not a key\n")
    check = keys_check()
    assert check.status == "fail" and "does not hold a key" in check.detail
    key_file.write_bytes(original)
    staged = key_file.with_name("master.key.next")  # left by a master rotation
    staged.write_text(base64.b64encode(os.urandom(32)).decode())
    staged.chmod(0o644)
    check = keys_check()
    assert check.status == "warn" and f"chmod 600 {staged}" in check.detail


# --- the master key -----------------------------------------------------------------------

def key_file(data_dir) -> Path:
    return data_dir / "keys" / "master.key"


def test_rotating_the_master_key_rewraps_every_key_and_the_old_one_opens_nothing(
        athena_factory, data_dir):
    athena = athena_factory()
    values = fill(athena, 50)
    athena.privacy.rotate_keys()  # two data key versions, the old one retired
    athena.privacy.retire_key(1)
    old = key_file(data_dir).read_bytes()
    assert athena.privacy.rotate_master_key() is None  # the file provider swaps it itself
    all_decrypt(athena, values)
    assert key_file(data_dir).read_bytes() != old
    assert not key_file(data_dir).with_name("master.key.next").exists()
    assert stat.S_IMODE(key_file(data_dir).stat().st_mode) == 0o600
    assert [r.details["operation"] for r in key_records(athena)].count("rotate_master") == 1
    athena.close()
    all_decrypt(athena_factory(), values)  # the new key opens the store from now on
    new = key_file(data_dir).read_bytes()
    key_file(data_dir).write_bytes(old)
    with pytest.raises(KeyUnavailableError, match="not the key"):
        athena_factory().privacy.reveal(next(iter(values)))
    key_file(data_dir).write_bytes(new)


def test_a_master_rotation_stopped_after_its_commit_opens_and_the_next_one_finishes_it(
        athena_factory, data_dir, monkeypatch):
    athena = athena_factory()
    values = fill(athena, 20)
    old = key_file(data_dir).read_bytes()

    def killed(self) -> None:
        raise KeyboardInterrupt  # as if the process died between commit and swap

    monkeypatch.setattr(FileKeyProvider, "promote", killed)
    with pytest.raises(KeyboardInterrupt):
        athena.privacy.rotate_master_key()
    monkeypatch.undo()
    staged = key_file(data_dir).with_name("master.key.next")
    assert staged.exists() and key_file(data_dir).read_bytes() == old
    new = staged.read_bytes()
    reader = athena_factory()
    all_decrypt(reader, values)  # a load finds the table under the staged key and uses it
    assert key_file(data_dir).read_bytes() == old and staged.read_bytes() == new
    athena_factory().privacy.rotate_master_key()  # finishes that swap, then rotates
    assert not staged.exists() and key_file(data_dir).read_bytes() not in (old, new)
    all_decrypt(athena_factory(), values)
    all_decrypt(reader, values)  # an instance opened before the rotations reads on


def test_a_master_rotation_stopped_before_its_commit_changed_nothing(athena_factory,
                                                                      data_dir, monkeypatch):
    athena = athena_factory()
    values = fill(athena, 20)
    old = key_file(data_dir).read_bytes()

    def failing(*args, **kwargs) -> None:
        raise KeyboardInterrupt  # the re-wrapping transaction never commits

    monkeypatch.setattr(type(athena.privacy.audit), "append", failing)
    with pytest.raises(KeyboardInterrupt):
        athena.privacy.rotate_master_key()
    monkeypatch.undo()
    assert key_file(data_dir).read_bytes() == old
    all_decrypt(athena_factory(), values)  # still under the old key; the staged one unused
    athena_factory().privacy.rotate_master_key()  # and a rotation then goes through
    assert key_file(data_dir).read_bytes() != old
    all_decrypt(athena_factory(), values)


@pytest.mark.parametrize("failing", ["lock", "stage", "promote"])
def test_a_key_file_write_that_fails_is_a_key_error_and_loses_nothing(
        athena_factory, data_dir, monkeypatch, failing):
    """A full disk or read-only key directory while rotating the master key: a
    ``KeyUnavailableError`` naming the file, no temporary file left, every value readable;
    after a failed promote (the rotation committed) the next rotation finishes it."""
    athena = athena_factory()
    values = fill(athena, 20)
    old = key_file(data_dir).read_bytes()
    staged = key_file(data_dir).with_name("master.key.next")
    full = OSError(errno.ENOSPC, "No space left on device")
    real_open, real_fsync, real_replace = os.open, os.fsync, os.replace

    def open_(path, *args, **kwargs):
        if failing == "lock" and str(path).endswith(".rotation.lock"):
            raise full
        return real_open(path, *args, **kwargs)

    def fsync(descriptor):
        if failing == "stage":
            raise full
        return real_fsync(descriptor)

    def replace(source, target, *args, **kwargs):
        if failing == "promote" and Path(source) == staged:
            raise full
        return real_replace(source, target, *args, **kwargs)

    for name, patched in (("open", open_), ("fsync", fsync), ("replace", replace)):
        monkeypatch.setattr(os, name, patched)
    with pytest.raises(KeyUnavailableError, match="No space left on device") as raised:
        athena.privacy.rotate_master_key()
    monkeypatch.undo()
    assert str(key_file(data_dir).parent) in raised.value.message
    assert not [p.name for p in key_file(data_dir).parent.iterdir() if p.name.endswith(".tmp")]
    if failing == "promote":
        assert "rotation itself is done" in raised.value.message and staged.exists()
    else:
        assert not staged.exists() and key_file(data_dir).read_bytes() == old
    all_decrypt(athena_factory(), values)
    athena_factory().privacy.rotate_master_key()
    assert not staged.exists() and key_file(data_dir).read_bytes() != old
    all_decrypt(athena_factory(), values)


def test_a_key_file_that_cannot_be_created_is_a_key_error(athena_factory, data_dir,
                                                         monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "link", full)
    with pytest.raises(KeyUnavailableError, match=r"Could not create the key file .*"
                                                  r"No space left on device"):
        athena_factory().remember("write to ann.smith@acme-corp.io")
    monkeypatch.undo()
    assert not key_file(data_dir).exists()
    athena = athena_factory()
    athena.remember("write to ann.smith@acme-corp.io")
    assert athena.recall("ann.smith@acme-corp.io")


def test_master_rotations_killed_at_any_point_lose_nothing(athena_factory, data_dir):
    athena = athena_factory()
    values = fill(athena, 30)
    athena.close()
    rng = random.Random(11)
    for _ in range(6):
        killed_at_random(data_dir, "master", rng, 0.5)
        check = athena_factory()
        all_decrypt(check, values)
        check.close()
    rotations = [r for r in key_records(athena_factory()) if
                 r.details["operation"] == "rotate_master"]
    assert rotations  # the loop did rotate before it was killed


def test_two_processes_rotating_the_master_key_at_once_lose_nothing(athena_factory, data_dir):
    """Each rotation holds the provider's lock from staging to promoting, so one never
    promotes the key another staged."""
    athena = athena_factory()
    values = fill(athena, 10)
    athena.close()
    children = [subprocess.Popen(
        [sys.executable, "-c", _IN_A_CHILD, str(data_dir), DATABASE_URL, "master"],
        stdout=subprocess.PIPE, text=True) for _ in range(2)]
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    time.sleep(2.0)
    alive = [child.poll() is None for child in children]  # neither failed a rotation
    for child in children:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert alive == [True, True]
    check = athena_factory()
    all_decrypt(check, values)
    assert len([r for r in key_records(check) if r.details["operation"] == "rotate_master"]) > 2


def test_key_operations_are_the_hosts_alone(athena):
    """Rotating, retiring and replacing keys are not registry operations: an agent's
    program cannot reach them through its ``athena`` module (nor MCP, which serves the
    registry's operations)."""
    names = {op.name for op in athena.api}
    assert not {name for name in names if "key" in name or "rotate" in name or "retire" in name}
    require_sandbox()
    result = athena.execute("import athena\n"
                            "[hasattr(athena.privacy, name) for name in ('rotate_master_key',"
                            " 'rotate_keys', 'retire_key', 'reveal')]")
    assert result.status == "ok", result.stderr
    assert result.value == [False, False, False, True]


def test_the_env_provider_rotates_to_the_key_its_user_sets(data_dir, monkeypatch):
    _empty_database()
    old, new = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    raw: dict = {"privacy": {"key_provider": "env"}, "retrieval": {"embedder": "hashing"}}
    if DATABASE_URL:
        raw["storage"] = {"url": DATABASE_URL}

    def opened(**env: str) -> Athena:
        for name in ("ATHENA_MASTER_KEY", "ATHENA_MASTER_KEY_NEXT"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return Athena.open(config=Config.from_mapping(raw, data_dir=data_dir, env={}))

    with opened(ATHENA_MASTER_KEY=old) as athena:
        values = fill(athena, 10)
        with pytest.raises(KeyUnavailableError, match="ATHENA_MASTER_KEY_NEXT"):
            athena.privacy.rotate_master_key()
        all_decrypt(athena, values)
    with opened(ATHENA_MASTER_KEY=old, ATHENA_MASTER_KEY_NEXT=new) as athena:
        todo = athena.privacy.rotate_master_key()
        assert todo is not None and "ATHENA_MASTER_KEY_NEXT" in todo
        all_decrypt(athena, values)
    with opened(ATHENA_MASTER_KEY=old, ATHENA_MASTER_KEY_NEXT=new) as athena:
        all_decrypt(athena, values)  # the staged key, until the user swaps the variables
    with opened(ATHENA_MASTER_KEY=new) as athena:
        all_decrypt(athena, values)
    with opened(ATHENA_MASTER_KEY=old) as athena, \
            pytest.raises(KeyUnavailableError, match="not the key"):
        athena.privacy.reveal(next(iter(values)))
    assert not (data_dir / "keys").exists()


def test_keys_rotate_master_on_the_command_line(athena_factory, data_dir):
    athena = athena_factory()
    values = fill(athena, 5)
    athena.close()
    env = {**os.environ, "ATHENA_HOME": str(data_dir), "ATHENA_RETRIEVAL_EMBEDDER": "hashing"}
    if DATABASE_URL:
        env["ATHENA_STORAGE_URL"] = DATABASE_URL
    done = run_athena(data_dir, "keys", "rotate", "--master", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["master_rotated"] is True
    all_decrypt(athena_factory(), values)
