"""Attacks on the kernel: system calls the seccomp filter refuses, called through ctypes.

Every program first makes an allowed call the same way (``getpid``), so a refusal is
the filter's doing and not a broken harness.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tests.sandbox import require_sandbox
from tests.security._helpers import assert_host_works, assert_ran, execute, python

pytestmark = require_sandbox()

_SYSCALL = """
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sc(number, *args):
    ctypes.set_errno(0)
    value = libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) for a in args])
    return [value, errno.errorcode.get(ctypes.get_errno(), "0")]
KEEP = []
def s(data):
    buf = ctypes.create_string_buffer(data)
    KEEP.append(buf)
    return ctypes.addressof(buf)
control = sc(39)
"""

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWPID = 0x20000, 0x10000000, 0x40000000, \
    0x20000000
SIGCHLD = 17


def _syscalls(athena, calls: dict[str, str]) -> dict[str, list]:
    body = _SYSCALL + "out = {'control': control}\n" + "".join(
        f"out[{name!r}] = {call}\n" for name, call in calls.items()) + "out\n"
    value = assert_ran(execute(athena, python(body)))
    assert value.pop("control") == [2, "0"]  # getpid() of the worker in its PID namespace
    return value


def _host_mounts() -> str:
    return Path("/proc/self/mountinfo").read_text()


def test_ptrace_is_refused(athena) -> None:
    value = _syscalls(athena, {
        "traceme": "sc(101, 0, 0, 0, 0)",            # PTRACE_TRACEME
        "attach_init": "sc(101, 16, 1, 0, 0)",       # PTRACE_ATTACH to pid 1
        "seize_self": "sc(101, 0x4206, os.getpid(), 0, 0)",
        "process_vm_readv": "sc(310, 1, 0, 0, 0, 0, 0)",
    })
    assert all(v == [-1, "EPERM"] for v in value.values()), value
    assert_host_works(athena)


def test_new_namespaces_are_refused(athena) -> None:
    before = _host_mounts()
    value = _syscalls(athena, {
        "unshare_user": f"sc(272, {CLONE_NEWUSER})",
        "unshare_mount": f"sc(272, {CLONE_NEWNS})",
        "unshare_net": f"sc(272, {CLONE_NEWNET})",
        "clone_user": f"sc(56, {CLONE_NEWUSER | SIGCHLD}, 0, 0, 0, 0)",
        "clone_pid": f"sc(56, {CLONE_NEWPID | SIGCHLD}, 0, 0, 0, 0)",
        "setns": "sc(308, 0, 0)",
    })
    assert all(v == [-1, "EPERM"] for v in value.values()), value
    assert _host_mounts() == before


def test_unshare_from_python_and_the_unshare_tool_fail(athena) -> None:
    program = python("""
        import subprocess
        done = subprocess.run(["unshare", "--user", "--map-root-user", "id", "-u"],
                              capture_output=True, text=True)
        [done.returncode, done.stdout.strip(), done.stderr.strip()[-200:]]
    """)
    code, stdout, stderr = assert_ran(execute(athena, program))
    assert code != 0 and stdout != "0", (code, stdout, stderr)
    assert "Operation not permitted" in stderr


def test_mount_chroot_and_pivot_root_are_refused(athena) -> None:
    before = _host_mounts()
    value = _syscalls(athena, {
        "mount_tmpfs": "sc(165, s(b'none'), s(b'/work'), s(b'tmpfs'), 0, 0)",
        "umount_proc": "sc(166, s(b'/proc'), 0)",
        "chroot": "sc(161, s(b'/work'))",
        "pivot_root": "sc(155, s(b'/work'), s(b'/work'))",
        "fsopen": "sc(430, s(b'tmpfs'), 0)",
        "open_tree": "sc(428, -100, s(b'/'), 0)",
    })
    assert all(v == [-1, "EPERM"] for v in value.values()), value
    assert _host_mounts() == before


def test_kernel_attack_surface_calls_are_refused(athena) -> None:
    value = _syscalls(athena, {
        "bpf": "sc(321, 0, 0, 0)",
        "perf_event_open": "sc(298, 0, 0, -1, -1, 0)",
        "userfaultfd": "sc(323, 0)",
        "io_uring_setup": "sc(425, 1, 0)",
        "init_module": "sc(175, 0, 0, 0)",
        "kexec_load": "sc(246, 0, 0, 0, 0)",
        "open_by_handle_at": "sc(304, 0, 0, 0)",
    })
    assert all(v == [-1, "EPERM"] for v in value.values()), value
    assert_host_works(athena)


def test_kernel_keyrings_are_refused(athena, token) -> None:
    description = f"athena-{token}".encode()
    value = _syscalls(athena, {
        "add_key": f"sc(248, s(b'user'), s({description!r}), s(b'secret'), 6, -4)",
        "request_key": f"sc(249, s(b'user'), s({description!r}), 0, -4)",
        "keyctl_join": f"sc(250, 1, s({description!r}))",  # KEYCTL_JOIN_SESSION_KEYRING
    })
    assert all(v == [-1, "EPERM"] for v in value.values()), value
    keys = Path("/proc/keys").read_text() if os.path.exists("/proc/keys") else ""
    assert token not in keys


@pytest.mark.parametrize(("abi", "code"), [
    ("x32", "libc.syscall(ctypes.c_long(0x40000000 | 39))"),
    ("int80", """
import mmap
stub = bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3])  # mov eax, 20 (getpid); int 0x80; ret
page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(stub)
ctypes.CFUNCTYPE(ctypes.c_long)(ctypes.addressof(ctypes.c_char.from_buffer(page)))()
"""),
], ids=["x32", "int80"])
def test_foreign_syscall_abis_kill_the_program(athena, abi: str, code: str) -> None:
    """The filter matches x86-64 numbers only; another ABI must not slip past it."""
    program = _SYSCALL + "print('reached', flush=True)\n" + code + "\nprint('survived')\n"
    result = execute(athena, program)
    assert result.stdout.startswith("reached")  # control: the program did run
    assert "survived" not in result.stdout and result.status == "killed", (abi, result.status)
    assert_host_works(athena)


def test_privileges_cannot_be_regained(athena) -> None:
    hostname = socket.gethostname()
    value = _syscalls(athena, {
        "setuid_root": "sc(105, 0)",
        "setgid_root": "sc(106, 0)",
        "setresuid_root": "sc(117, 0, 0, 0)",
        "sethostname": "sc(170, s(b'evil'), 4)",
    })
    assert all(v == [-1, "EPERM"] for v in value.values()), value
    assert socket.gethostname() == hostname
