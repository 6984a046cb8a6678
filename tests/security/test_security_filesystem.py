"""Attacks on the host's files: reading secrets, writing outside the work dir, links, /proc."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import sysconfig
from pathlib import Path

import pytest

import athena_core.sandbox_client
from tests.sandbox import require_sandbox
from tests.security._helpers import (
    CREDENTIALS,
    assert_host_works,
    assert_ran,
    assert_world_reachable,
    digest,
    execute,
    plant,
    python,
    refused,
)

pytestmark = require_sandbox()


def _entries(data_dir: Path) -> list[str]:
    """What the data dir holds, but for the API trees Athena itself builds as policies run."""
    return sorted(p.name for p in data_dir.iterdir() if p.name != "api-trees")


def _everything(result) -> str:
    return json.dumps(result.value) + result.stdout + result.stderr


# --- reading ------------------------------------------------------------------------------

def test_planted_canary_outside_the_work_dir_is_invisible(athena, canary, token) -> None:
    before = digest(canary)
    program = python("""
        import os
        path = ARGS["path"]
        {
            "cwd": os.getcwd(),
            "direct": attempt(read, path),
            "proc_self_root": attempt(read, "/proc/self/root" + path),
            "proc_thread_self_root": attempt(read, "/proc/thread-self/root" + path),
            "listing": attempt(os.listdir, os.path.dirname(path)),
            "stat": attempt(lambda: os.stat(path).st_size),
        }
    """, path=str(canary))
    value = assert_ran(execute(athena, program))
    assert value["cwd"] == "/work"
    assert all(refused(value[k]) for k in value if k != "cwd"), value
    assert token not in json.dumps(value)
    assert digest(canary) == before and canary.read_text() == f"CANARY-{token}"


def test_credentials_under_home_stay_hidden_when_home_is_mounted(athena, fake_home,
                                                                 token) -> None:
    before = {c: digest(fake_home / c) for c in CREDENTIALS}
    program = python("""
        import os
        home = ARGS["home"]
        out = {c: attempt(read, os.path.join(home, c)) for c in ARGS["credentials"]}
        out["readme"] = attempt(read, os.path.join(home, "project/README.md"))
        out["ssh_listing"] = attempt(os.listdir, os.path.join(home, ".ssh"))
        out
    """, home=str(fake_home), credentials=CREDENTIALS)
    result = execute(athena, program, policy={"read_paths": [str(fake_home)]})
    value = assert_ran(result)
    assert value["readme"] == "project readme"  # control: HOME itself is mounted
    assert token not in _everything(result), value
    assert value["ssh_listing"] == [] or refused(value["ssh_listing"])
    assert {c: digest(fake_home / c) for c in CREDENTIALS} == before


def test_a_custom_deny_list_does_not_unmask_default_credentials(athena, fake_home,
                                                                token) -> None:
    """The docs' example policy (``deny_paths = ["~/src/project/.env"]``) next to a mounted
    HOME: credentials are "never mounted, whatever a policy says"."""
    program = python("""
        import os
        home = ARGS["home"]
        out = {c: attempt(read, os.path.join(home, c)) for c in ARGS["credentials"]}
        out["dotenv"] = attempt(read, os.path.join(home, "project/.env"))
        out["readme"] = attempt(read, os.path.join(home, "project/README.md"))
        out
    """, home=str(fake_home), credentials=CREDENTIALS)
    policy = {"read_paths": [str(fake_home)],
              "deny_paths": [str(fake_home / "project" / ".env")]}
    result = execute(athena, program, policy=policy)
    value = assert_ran(result)
    assert value["readme"] == "project readme"
    assert "DOTENV" not in _everything(result)  # control: the custom rule itself works
    leaked = [c for c in CREDENTIALS if token in str(value[c])]
    assert not leaked, f"credentials readable in the sandbox: {leaked}"


@pytest.mark.parametrize("inside", [".ssh/id_ed25519", ".config/gh/hosts.yml"])
def test_a_read_path_inside_a_credentials_dir_is_not_mounted(athena, fake_home, token,
                                                             inside: str) -> None:
    target = fake_home / inside
    program = python("attempt(read, ARGS['path'])", path=str(target))
    result = execute(athena, program, policy={"read_paths": [str(target)]})
    assert result.status in ("ok", "denied"), (result.status, result.error)
    assert token not in _everything(result), f"{inside} was mounted into the sandbox"


def test_data_dir_is_masked_when_its_parent_is_mounted(athena, data_dir, world, canary,
                                                       token) -> None:
    athena.remember(f"private memory {token}")
    athena.privacy.keys.current()  # made by the host with the first sensitive value (the
    athena.checkpoint()            # token in the program's text): made before, not counted
    data_dir.chmod(0o755)  # only the mask keeps the sandbox out, not the directory mode
    database = data_dir / "athena.db"
    assert_world_reachable(database)
    assert token.encode() in database.read_bytes()
    names = _entries(data_dir)
    program = python("""
        import os
        d = ARGS["data_dir"]
        {
            "canary": attempt(read, ARGS["canary"]),
            "listing": attempt(os.listdir, d),
            "db": attempt(lambda: ARGS["token"].encode() in read(d + "/athena.db", "rb")),
            "wal": attempt(lambda: len(read(d + "/athena.db-wal", "rb"))),
        }
    """, data_dir=str(data_dir), canary=str(canary), token=token)
    result = execute(athena, program, policy={"read_paths": [str(world)]})
    value = assert_ran(result)
    assert value["canary"] == f"CANARY-{token}"  # control: the parent really is mounted
    assert value["listing"] == [] or refused(value["listing"]), value
    assert refused(value["db"]) and refused(value["wal"]), value
    assert _entries(data_dir) == names
    assert athena.recall(token, layers=["semantic"])[0].text == f"private memory {token}"


def test_a_read_path_inside_the_data_dir_is_not_mounted(athena, data_dir, token) -> None:
    athena.remember(f"private memory {token}")
    athena.checkpoint()
    database = data_dir / "athena.db"
    program = python("""
        data = attempt(read, ARGS["path"], "rb")
        {"read": not isinstance(data, str), "leaked": isinstance(data, bytes)
         and ARGS["token"].encode() in data}
    """, path=str(database), token=token)
    result = execute(athena, program, policy={"read_paths": [str(database)]})
    assert result.status in ("ok", "denied"), (result.status, result.error)
    assert not (result.value or {}).get("read"), (
        f"the sandbox read the Athena database: {result.value}")


def test_etc_shadow_is_never_readable(athena) -> None:
    shadow = Path("/etc/shadow")
    host_view = shadow.read_text()
    assert host_view.strip(), "control: the host has a non-empty /etc/shadow"
    first_entry = host_view.splitlines()[0]
    before = digest(shadow)
    program = python("""
        {p: attempt(read, p) for p in ("/etc/shadow", "/etc/gshadow", "/etc/sudoers")}
    """)
    for policy in (None, {"read_paths": ["/etc"]}):
        result = execute(athena, program, policy=policy)
        value = assert_ran(result)
        assert first_entry not in _everything(result), policy
        assert all(refused(v) or v == "" for v in value.values()), (policy, value)
    assert digest(shadow) == before


# --- writing ------------------------------------------------------------------------------

def test_writes_to_host_tmp_stay_in_the_private_tmp(athena, world, token) -> None:
    host_tmp = Path("/tmp") / f"{token}-escape"
    in_world = world / f"{token}-escape"
    program = python("""
        import os
        out = {}
        for path in ARGS["paths"]:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            out[path] = attempt(write, path, "escaped")
        out["visible_after"] = [os.path.exists(p) for p in ARGS["paths"]]
        out
    """, paths=[str(host_tmp), str(in_world)])
    value = assert_ran(execute(athena, program))
    # The writes succeed - in the sandbox's own tmpfs, which vanishes with it.
    assert value["visible_after"] == [True, True], value
    assert not host_tmp.exists() and not in_world.exists()
    assert sorted(p.name for p in world.iterdir()) == ["athena-home"]


def test_data_dir_cannot_be_written_even_when_a_policy_names_it(athena, data_dir,
                                                                token) -> None:
    athena.remember("an honest memory")
    athena.privacy.keys.current()  # made by the host with the first sensitive value (the
    names = _entries(data_dir)     # token in the program's text): made before, not counted
    program = python("""
        d = ARGS["data_dir"]
        {
            "new_file": attempt(write, d + "/" + ARGS["token"], "x"),
            "corrupt_db": attempt(write, d + "/athena.db", "garbage", "r+"),
            "truncate_db": attempt(write, d + "/athena.db", "", "w"),
        }
    """, data_dir=str(data_dir), token=token)
    for policy in (None, {"write_paths": [str(data_dir)]}):
        execute(athena, program, policy=policy)
    assert not (data_dir / token).exists()
    assert _entries(data_dir) == names
    assert all(p.stat().st_uid == os.getuid() for p in data_dir.iterdir())
    assert [h.text for h in athena.recall("honest memory", k=1)] == ["an honest memory"]
    assert_host_works(athena)


def test_python_prefix_is_read_only(athena, token) -> None:
    # In a virtual environment the standard library lives in the base prefix.
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    site = Path(sysconfig.get_paths()["purelib"])
    victim = stdlib / "json" / "__init__.py"
    before = digest(victim)
    targets = [site / f"{token}.pth", stdlib / f"{token}_sitecustomize.py",
               Path(sys.prefix) / "bin" / token]
    program = python("""
        import os
        out = {p: attempt(write, p, "import os") for p in ARGS["targets"]}
        out["append"] = attempt(write, ARGS["victim"], "\\nraise SystemExit", "a")
        out["chmod"] = attempt(os.chmod, ARGS["victim"], 0o777)
        out["rename"] = attempt(os.rename, ARGS["victim"], ARGS["victim"] + ".bak")
        out["unlink"] = attempt(os.unlink, ARGS["victim"])
        out["prefix_visible"] = os.path.isdir(ARGS["site"])
        out
    """, targets=[str(t) for t in targets], victim=str(victim), site=str(site))
    value = assert_ran(execute(athena, program))
    assert value.pop("prefix_visible") is True  # control: the prefix is mounted
    assert all(refused(v) for v in value.values()), value
    assert not any(t.exists() for t in targets)
    assert digest(victim) == before


def test_the_mounted_worker_code_cannot_be_modified(athena, token) -> None:
    client = Path(athena_core.sandbox_client.__file__).parent
    before = {p.name: digest(p) for p in client.iterdir() if p.is_file()}
    program = python("""
        import os
        out = {
            "patch_worker": attempt(write, "/athena/client/worker.py", "\\nimport os", "a"),
            "new_module": attempt(write, "/athena/client/" + ARGS["token"] + ".py", "x"),
            "replace_frames": attempt(os.replace, "/work/program.py",
                                      "/athena/client/frames.py"),
            "host_path": attempt(write, ARGS["host_client"] + "/worker.py", "x", "a"),
        }
        out
    """, token=token, host_client=str(client))
    value = assert_ran(execute(athena, program))
    assert all(refused(v) for v in value.values()), value
    assert {p.name: digest(p) for p in client.iterdir() if p.is_file()} == before
    assert_host_works(athena)


def test_a_read_only_policy_path_cannot_be_changed(athena, world, token) -> None:
    shared = world / "shared"
    canary = plant(shared / "notes.txt", f"NOTES-{token}")
    before = digest(canary)
    program = python("""
        import os
        p, d = ARGS["canary"], os.path.dirname(ARGS["canary"])
        {
            "read": attempt(read, p),
            "append": attempt(write, p, "tampered", "a"),
            "truncate": attempt(os.truncate, p, 0),
            "chmod": attempt(os.chmod, p, 0o777),
            "utime": attempt(os.utime, p, (0, 0)),
            "rename": attempt(os.rename, p, p + ".moved"),
            "unlink": attempt(os.unlink, p),
            "create": attempt(write, d + "/" + ARGS["token"], "x"),
        }
    """, canary=str(canary), token=token)
    value = assert_ran(execute(athena, program, policy={"read_paths": [str(shared)]}))
    assert value.pop("read") == f"NOTES-{token}"  # control: the path is mounted
    assert all(refused(v) for v in value.values()), value
    assert digest(canary) == before
    assert [p.name for p in shared.iterdir()] == ["notes.txt"]


# --- links and /proc ----------------------------------------------------------------------

def test_symlinks_and_proc_root_do_not_reach_host_files(athena, canary, token) -> None:
    before = digest(canary)
    program = python("""
        import os
        path = ARGS["path"]
        os.symlink(path, "/work/direct")
        os.symlink("/proc/1/root" + path, "/work/via_pid1")
        os.symlink("/", "/work/root")
        os.symlink("/proc/self/root/proc/self/root", "/work/loop")
        {
            "direct": attempt(read, "/work/direct"),
            "via_pid1": attempt(read, "/work/via_pid1"),
            "via_root": attempt(read, "/work/root" + path),
            "via_loop": attempt(read, "/work/loop" + path),
            "proc_self_cwd": attempt(read, "/proc/self/cwd/.." + path),
            "dotdot": attempt(read, "/work/../../../.." + path),
        }
    """, path=str(canary))
    value = assert_ran(execute(athena, program))
    assert all(refused(v) for v in value.values()), value
    assert token not in json.dumps(value)
    assert digest(canary) == before


def test_proc_1_of_the_sandbox_is_off_limits(athena, canary, token) -> None:
    program = python("""
        import os
        {
            "pid1_visible": os.path.exists("/proc/1/cmdline"),
            "root": attempt(os.listdir, "/proc/1/root"),
            "root_canary": attempt(read, "/proc/1/root" + ARGS["path"]),
            "cwd": attempt(os.readlink, "/proc/1/cwd"),
            "fd": attempt(os.listdir, "/proc/1/fd"),
            "environ": attempt(read, "/proc/1/environ", "rb"),
            "mem": attempt(read, "/proc/1/mem", "rb"),
            "map_files": attempt(os.listdir, "/proc/1/map_files"),
            "exe": attempt(os.readlink, "/proc/1/exe"),
        }
    """, path=str(canary))
    value = assert_ran(execute(athena, program))
    assert value.pop("pid1_visible") is True  # control: there is a pid 1 to attack
    assert all(refused(v) for v in value.values()), value
    assert canary.read_text() == f"CANARY-{token}"


def test_hardlinks_cannot_pull_host_files_into_a_writable_dir(athena, world, token) -> None:
    source = plant(world / "ro" / "secret.txt", f"SECRET-{token}")
    out = world / "out"
    out.mkdir()
    out.chmod(0o777)
    program = python("""
        import os
        src, out = ARGS["source"], ARGS["out"]
        {
            "read": attempt(read, src),
            "hardlink": attempt(os.link, src, out + "/linked"),
            "hardlink_etc": attempt(os.link, "/etc/ld.so.cache", out + "/cache"),
            "hardlink_into_work": attempt(os.link, src, "/work/linked"),
            "write_ok": attempt(write, out + "/ok.txt", "allowed"),
        }
    """, source=str(source), out=str(out))
    policy = {"read_paths": [str(source.parent)], "write_paths": [str(out)]}
    value = assert_ran(execute(athena, program, policy=policy))
    assert value["read"] == f"SECRET-{token}" and value["write_ok"] == 7  # controls
    assert refused(value["hardlink"]) and refused(value["hardlink_etc"]), value
    assert refused(value["hardlink_into_work"]), value
    assert source.stat().st_nlink == 1
    assert sorted(p.name for p in out.iterdir()) == ["ok.txt"]


def test_a_setuid_root_binary_in_a_mounted_dir_grants_nothing(athena, world, token) -> None:
    tools = world / "tools"
    tools.mkdir(mode=0o755)
    helper = tools / "python-suid"
    shutil.copy(os.path.realpath(sys.executable), helper)
    helper.chmod(0o4755)
    assert helper.stat().st_uid == 0 and helper.stat().st_mode & 0o4000
    drop = world / "root-only"
    drop.mkdir(mode=0o755)  # only root may write here
    script = ("import os; print(os.geteuid()); "
              f"open({str(drop / token)!r}, 'w').write('root')")
    program = python("""
        import subprocess
        done = subprocess.run([ARGS["helper"], "-c", ARGS["script"]], capture_output=True,
                              text=True)
        [done.stdout.strip(), done.returncode, done.stderr[-300:]]
    """, helper=str(helper), script=script)
    policy = {"read_paths": [str(tools)], "write_paths": [str(drop)]}
    euid, code, stderr = assert_ran(execute(athena, program, policy=policy))
    assert euid and euid != "0", (euid, stderr)
    assert code != 0 and "PermissionError" in stderr
    assert list(drop.iterdir()) == []


def test_proc_sys_and_kernel_knobs_are_read_only(athena, token) -> None:
    knobs = ["/proc/sys/kernel/core_pattern", "/proc/sys/kernel/domainname",
             "/proc/sys/kernel/hostname", "/proc/sys/vm/drop_caches"]
    before = {k: Path(k).read_text() for k in knobs if k != "/proc/sys/vm/drop_caches"}
    hostname = socket.gethostname()
    program = python("""
        import socket
        out = {k: attempt(write, k, "|/work/" + ARGS["token"]) for k in ARGS["knobs"]}
        out["sysrq"] = attempt(write, "/proc/sysrq-trigger", "h")
        out["sethostname"] = attempt(socket.sethostname, ARGS["token"])
        out["readable"] = attempt(read, "/proc/sys/kernel/core_pattern")
        out
    """, knobs=knobs, token=token)
    value = assert_ran(execute(athena, program))
    assert not refused(value.pop("readable"))  # control: /proc/sys is there, read-only
    assert all(refused(v) for v in value.values()), value
    assert {k: Path(k).read_text() for k in before} == before
    assert socket.gethostname() == hostname
