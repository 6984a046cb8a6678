"""A seccomp-BPF program for bubblewrap's ``--seccomp FD`` (x86-64), built without libseccomp.

It allows everything except system calls that widen the kernel attack surface or
escape the sandbox's namespaces; those fail with EPERM (``clone3`` with ENOSYS, so
the C library falls back to ``clone``, whose flags can be inspected). A foreign
architecture or the x32 ABI kills the process.
"""

from __future__ import annotations

import platform
import struct

__all__ = ["DENIED_SYSCALLS", "filter_program", "supported"]

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
_EPERM, _ENOSYS = 1, 38
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_RET_KILL_PROCESS = 0x80000000
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_CLONE_NAMESPACE_FLAGS = (0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000
                          | 0x20000000 | 0x40000000 | 0x00000080)  # NEWNS..NEWUSER, NEWTIME

#: x86-64 numbers of the system calls a sandboxed program never needs.
DENIED_SYSCALLS = {
    "ptrace": 101, "syslog": 103, "personality": 135, "pivot_root": 155, "adjtimex": 159,
    "chroot": 161, "acct": 163, "settimeofday": 164, "mount": 165, "umount2": 166,
    "swapon": 167, "swapoff": 168, "reboot": 169, "iopl": 172, "ioperm": 173,
    "init_module": 175, "delete_module": 176, "quotactl": 179, "lookup_dcookie": 212,
    "clock_settime": 227, "kexec_load": 246, "add_key": 248, "request_key": 249,
    "keyctl": 250, "unshare": 272, "perf_event_open": 298, "fanotify_init": 300,
    "name_to_handle_at": 303, "open_by_handle_at": 304, "setns": 308,
    "process_vm_readv": 310, "process_vm_writev": 311, "finit_module": 313,
    "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
}
_CLONE, _CLONE3, _SOCKET = 56, 435, 41
_AF_UNIX = 1


def supported() -> bool:
    return platform.machine() in ("x86_64", "AMD64")


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def filter_program() -> bytes:
    """The BPF program, as bubblewrap reads it from ``--seccomp FD``."""
    deny = _op(_RET_K, _RET_ERRNO | _EPERM)
    program = [
        _op(_LD_W_ABS, 4),                                    # arch
        _op(_JEQ_K, _AUDIT_ARCH_X86_64, jt=1),
        _op(_RET_K, _RET_KILL_PROCESS),
        _op(_LD_W_ABS, 0),                                    # syscall number
        _op(_JGE_K, _X32_BIT, jf=1),
        _op(_RET_K, _RET_KILL_PROCESS),
    ]
    for number in sorted(DENIED_SYSCALLS.values()):
        program += [_op(_JEQ_K, number, jf=1), deny]
    program += [
        # New unix-domain sockets could connect to host sockets inside mounted directories
        # (a read-only mount does not stop connect()); the bridge is an inherited pair.
        _op(_JEQ_K, _SOCKET, jf=3),
        _op(_LD_W_ABS, 16),                                   # domain (args[0])
        _op(_JEQ_K, _AF_UNIX, jf=1), deny,
        _op(_LD_W_ABS, 0),                                    # back to the syscall number
        _op(_JEQ_K, _CLONE3, jf=1), _op(_RET_K, _RET_ERRNO | _ENOSYS),
        _op(_JEQ_K, _CLONE, jf=3),
        _op(_LD_W_ABS, 16),                                   # clone flags (args[0], low half)
        _op(_JSET_K, _CLONE_NAMESPACE_FLAGS, jf=1), deny,
        _op(_RET_K, _RET_ALLOW),
    ]
    return b"".join(program)
