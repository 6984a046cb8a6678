"""The seccomp-BPF program for bubblewrap's ``--seccomp FD``, built without libseccomp.

It allows everything except system calls that widen the kernel attack surface or
escape the sandbox's namespaces; those fail with EPERM (``clone3`` with ENOSYS, so
the C library falls back to ``clone``, whose flags can be inspected). A foreign
architecture (and on x86-64 the x32 ABI) kills the process.

Programs exist for x86-64 and aarch64. Each architecture's system call numbers are
data below (name -> number); the denied set is written once, by name. A name an
architecture does not have (``iopl`` on aarch64) is simply absent there.
"""

from __future__ import annotations

import platform
import struct
from collections.abc import Mapping

import attrs

__all__ = ["ARCHITECTURES", "DENIED", "Architecture", "architecture", "filter_program",
           "supported"]

_X32_BIT = 0x40000000
_EPERM, _ENOSYS = 1, 38
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_RET_KILL_PROCESS = 0x80000000
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_CLONE_NAMESPACE_FLAGS = (0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000
                          | 0x20000000 | 0x40000000 | 0x00000080)  # NEWNS..NEWUSER, NEWTIME
_AF_UNIX = 1

#: The system calls a sandboxed program never needs, by name.
DENIED = (
    "ptrace", "syslog", "personality", "pivot_root", "adjtimex", "chroot", "acct",
    "settimeofday", "mount", "umount2", "swapon", "swapoff", "reboot", "iopl", "ioperm",
    "init_module", "delete_module", "quotactl", "lookup_dcookie", "clock_settime",
    "kexec_load", "add_key", "request_key", "keyctl", "unshare", "perf_event_open",
    "fanotify_init", "name_to_handle_at", "open_by_handle_at", "setns", "process_vm_readv",
    "process_vm_writev", "finit_module", "kexec_file_load", "bpf", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
)

#: x86-64 numbers (arch/x86/entry/syscalls/syscall_64.tbl) of the calls the program names.
_X86_64 = {
    "socket": 41, "clone": 56, "ptrace": 101, "syslog": 103, "personality": 135,
    "pivot_root": 155, "adjtimex": 159, "chroot": 161, "acct": 163, "settimeofday": 164,
    "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169, "iopl": 172,
    "ioperm": 173, "init_module": 175, "delete_module": 176, "quotactl": 179,
    "lookup_dcookie": 212, "clock_settime": 227, "kexec_load": 246, "add_key": 248,
    "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298,
    "fanotify_init": 300, "name_to_handle_at": 303, "open_by_handle_at": 304, "setns": 308,
    "process_vm_readv": 310, "process_vm_writev": 311, "finit_module": 313,
    "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "clone3": 435,
    "mount_setattr": 442,
}

#: aarch64 numbers: the generic table (include/uapi/asm-generic/unistd.h). No iopl/ioperm.
_AARCH64 = {
    "lookup_dcookie": 18, "umount2": 39, "mount": 40, "pivot_root": 41, "chroot": 51,
    "quotactl": 60, "acct": 89, "personality": 92, "unshare": 97, "kexec_load": 104,
    "init_module": 105, "delete_module": 106, "clock_settime": 112, "syslog": 116,
    "ptrace": 117, "reboot": 142, "settimeofday": 170, "adjtimex": 171, "socket": 198,
    "add_key": 217, "request_key": 218, "keyctl": 219, "clone": 220, "swapon": 224,
    "swapoff": 225, "perf_event_open": 241, "fanotify_init": 262, "name_to_handle_at": 264,
    "open_by_handle_at": 265, "setns": 268, "process_vm_readv": 270,
    "process_vm_writev": 271, "finit_module": 273, "bpf": 280, "userfaultfd": 282,
    "kexec_file_load": 294, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
    "fsconfig": 431, "fsmount": 432, "fspick": 433, "clone3": 435, "mount_setattr": 442,
}


@attrs.frozen
class Architecture:
    """One architecture the filter is built for."""

    #: As ``platform.machine()`` says it on Linux: ``x86_64``, ``aarch64``.
    name: str
    #: ``AUDIT_ARCH_*``: what the kernel puts in ``seccomp_data.arch``.
    audit_arch: int
    #: System call numbers by name (the denied ones this architecture has, and
    #: ``socket``, ``clone`` and ``clone3``, whose arguments the program inspects).
    syscalls: Mapping[str, int]
    #: Kill x32 calls (x86-64 numbers with bit 30 set, which reach the same kernel).
    x32: bool = False

    def denied(self) -> dict[str, int]:
        """The denied system calls this architecture has, name -> number."""
        return {name: self.syscalls[name] for name in DENIED if name in self.syscalls}


#: Every architecture a filter exists for, by ``platform.machine()`` name.
ARCHITECTURES = {
    "x86_64": Architecture("x86_64", 0xC000003E, _X86_64, x32=True),
    "aarch64": Architecture("aarch64", 0xC00000B7, _AARCH64),
}
_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}


def architecture(machine: str | None = None) -> Architecture | None:
    """The architecture of ``machine`` (default: this host), or ``None`` without a filter."""
    name = (machine if machine is not None else platform.machine()).lower()
    return ARCHITECTURES.get(_ALIASES.get(name, name))


def supported() -> bool:
    """Whether a filter exists for this host's architecture."""
    return architecture() is not None


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def filter_program(arch: Architecture | None = None) -> bytes:
    """The BPF program for ``arch`` (default: this host's), as bubblewrap reads it from
    ``--seccomp FD``. Raises ``ValueError`` where there is no filter for the host."""
    arch = arch or architecture()
    if arch is None:
        raise ValueError(f"no seccomp filter for architecture {platform.machine()}")
    calls = arch.syscalls
    deny = _op(_RET_K, _RET_ERRNO | _EPERM)
    program = [
        _op(_LD_W_ABS, 4),                                    # arch
        _op(_JEQ_K, arch.audit_arch, jt=1),
        _op(_RET_K, _RET_KILL_PROCESS),
        _op(_LD_W_ABS, 0),                                    # syscall number
    ]
    if arch.x32:
        program += [_op(_JGE_K, _X32_BIT, jf=1), _op(_RET_K, _RET_KILL_PROCESS)]
    for number in sorted(arch.denied().values()):
        program += [_op(_JEQ_K, number, jf=1), deny]
    program += [
        # New unix-domain sockets could connect to host sockets inside mounted directories
        # (a read-only mount does not stop connect()); the bridge is an inherited pair.
        _op(_JEQ_K, calls["socket"], jf=3),
        _op(_LD_W_ABS, 16),                                   # domain (args[0])
        _op(_JEQ_K, _AF_UNIX, jf=1), deny,
        _op(_LD_W_ABS, 0),                                    # back to the syscall number
        _op(_JEQ_K, calls["clone3"], jf=1), _op(_RET_K, _RET_ERRNO | _ENOSYS),
        _op(_JEQ_K, calls["clone"], jf=3),
        _op(_LD_W_ABS, 16),                                   # clone flags (args[0], low half)
        _op(_JSET_K, _CLONE_NAMESPACE_FLAGS, jf=1), deny,
        _op(_RET_K, _RET_ALLOW),
    ]
    return b"".join(program)
