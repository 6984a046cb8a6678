"""Isolation is reported, never silently reduced.

The bwrap executor's seccomp programs (x86-64 and aarch64) are run through a small
seccomp-BPF interpreter below, so the aarch64 program is checked without an aarch64
machine; an architecture without a program is refused unless the user turns the filter
off, which every report then shows. Each executor reports what it isolates; one that
does not is shown as not reporting, never assumed to isolate.
"""

from __future__ import annotations

import platform
import re
import struct
from pathlib import Path

import pytest

from athena_core.errors import OptionError, SandboxUnavailableError
from athena_core.execution.isolation import NOT_REPORTED, describe, executor_isolation
from athena_core.execution.model import ISOLATION_FEATURES, ExecutorContext, IsolationFeature
from athena_core.execution.policy import Policy
from athena_core.hookspecs import hookimpl
from athena_core.plugins import PluginHost
from tests.conftest import make_config
from tests.sandbox import require_sandbox

seccomp = pytest.importorskip("athena_bwrap.seccomp")

ALLOW, KILL = 0x7FFF0000, 0x80000000
EPERM, ENOSYS = 0x00050000 | 1, 0x00050000 | 38
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
#: Other AUDIT_ARCH values: i386, 32-bit arm, riscv64.
FOREIGN = (0x40000003, 0x40000028, 0xC00000F3)
X32_BIT = 0x40000000
#: Calls every program makes, with numbers from the kernel's tables, independent of the
#: module under test.
ORDINARY = {"x86_64": {"read": 0, "write": 1, "getpid": 39, "execve": 59, "openat": 257},
            "aarch64": {"openat": 56, "read": 63, "write": 64, "getpid": 172, "execve": 221}}
CLONE_NEWUSER, CLONE_NEWNS, SIGCHLD = 0x10000000, 0x00020000, 17
AF_UNIX, AF_INET = 1, 2


def run_bpf(program: bytes, *, arch: int, nr: int, args: tuple[int, ...] = ()) -> int:
    """Run a classic seccomp-BPF program on one ``struct seccomp_data``; its return value.

    Only what seccomp programs here use: LD W ABS, JEQ/JGE/JSET K, RET K.
    """
    padded = (*args, *(0,) * (6 - len(args)))
    data = struct.pack("<iIQ6Q", nr, arch, 0, *padded)
    insns = [struct.unpack_from("<HBBI", program, offset)
             for offset in range(0, len(program), 8)]
    assert len(program) % 8 == 0 and len(insns) <= 4096
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]  # an IndexError: the program ran off its end
        pc += 1
        if code == 0x20:                                  # BPF_LD | BPF_W | BPF_ABS
            assert k % 4 == 0 and k + 4 <= len(data), k
            acc = struct.unpack_from("<I", data, k)[0]
        elif code in (0x15, 0x35, 0x45):                  # BPF_JMP | JEQ/JGE/JSET | BPF_K
            taken = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += jt if taken else jf
        elif code == 0x06:                                # BPF_RET | BPF_K
            return k
        else:
            raise AssertionError(f"unexpected BPF opcode {code:#x} at {pc - 1}")


@pytest.fixture(params=["x86_64", "aarch64"])
def arch(request) -> seccomp.Architecture:
    return seccomp.ARCHITECTURES[request.param]


def test_denied_calls_fail_and_every_other_call_is_allowed(arch) -> None:
    program = seccomp.filter_program(arch)
    audit = AUDIT_ARCH[arch.name]
    denied = arch.denied()
    assert set(denied) == set(seccomp.DENIED) - ({"iopl", "ioperm"} if arch.name == "aarch64"
                                                 else set())
    for name, number in denied.items():
        assert run_bpf(program, arch=audit, nr=number) == EPERM, name
    specials = {arch.syscalls[name] for name in ("socket", "clone", "clone3")}
    for number in range(600):
        if number not in set(denied.values()) | specials:
            assert run_bpf(program, arch=audit, nr=number) == ALLOW, number
    for name, number in ORDINARY[arch.name].items():
        assert number not in denied.values(), name
        assert run_bpf(program, arch=audit, nr=number) == ALLOW, name


def test_sockets_and_clone_are_filtered_by_argument(arch) -> None:
    program = seccomp.filter_program(arch)
    audit, calls = AUDIT_ARCH[arch.name], arch.syscalls
    assert run_bpf(program, arch=audit, nr=calls["socket"], args=(AF_UNIX, 1, 0)) == EPERM
    assert run_bpf(program, arch=audit, nr=calls["socket"], args=(AF_INET, 1, 0)) == ALLOW
    assert run_bpf(program, arch=audit, nr=calls["clone3"]) == ENOSYS
    for flags in (CLONE_NEWUSER | SIGCHLD, CLONE_NEWNS | SIGCHLD):
        assert run_bpf(program, arch=audit, nr=calls["clone"], args=(flags,)) == EPERM
    assert run_bpf(program, arch=audit, nr=calls["clone"], args=(SIGCHLD,)) == ALLOW
    # Threads: the flags glibc's pthread_create passes.
    assert run_bpf(program, arch=audit, nr=calls["clone"], args=(0x3D0F00,)) == ALLOW


def test_a_foreign_architecture_is_killed(arch) -> None:
    program = seccomp.filter_program(arch)
    others = [a for a in (*AUDIT_ARCH.values(), *FOREIGN) if a != AUDIT_ARCH[arch.name]]
    for audit in others:
        for number in (*ORDINARY[arch.name].values(), *arch.denied().values()):
            assert run_bpf(program, arch=audit, nr=number) == KILL, (hex(audit), number)


def test_the_x32_abi_is_killed_on_x86_64_only() -> None:
    x86, arm = seccomp.ARCHITECTURES["x86_64"], seccomp.ARCHITECTURES["aarch64"]
    for number in (39, 0, 101):  # getpid, read, ptrace with the x32 bit
        assert run_bpf(seccomp.filter_program(x86), arch=AUDIT_ARCH["x86_64"],
                       nr=X32_BIT | number) == KILL
    # aarch64 has no x32: a number that large is no call at all, which the kernel refuses.
    assert run_bpf(seccomp.filter_program(arm), arch=AUDIT_ARCH["aarch64"],
                   nr=X32_BIT | 172) == ALLOW


@pytest.mark.parametrize(("name", "header"), [
    ("x86_64", "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
    ("aarch64", "/usr/include/asm-generic/unistd.h"),
])
def test_syscall_numbers_match_the_kernel_headers(name: str, header: str) -> None:
    """Where the kernel's headers are installed, they must agree with the tables."""
    path = Path(header)
    if not path.is_file():
        pytest.skip(f"{header} is not installed")
    text = path.read_text()
    for call, number in seccomp.ARCHITECTURES[name].syscalls.items():
        found = re.findall(rf"#define __NR(?:3264)?_{call}\s+(\d+)\b", text)
        assert found == [str(number)], (name, call, found)
    if name == "aarch64":
        assert not re.search(r"#define __NR_(iopl|ioperm)\b", text)


def test_machine_names_map_to_architectures() -> None:
    assert seccomp.architecture("x86_64").name == "x86_64"
    assert seccomp.architecture("AMD64").name == "x86_64"
    assert seccomp.architecture("arm64").name == "aarch64"
    for machine in ("riscv64", "aarch64_be", "ppc64le", "s390x", "i686", ""):
        assert seccomp.architecture(machine) is None, machine


# --- the bwrap executor on an architecture without a filter --------------------------


def _bwrap(tmp_path: Path, **options: object):
    from athena_bwrap.executor import BwrapExecutor

    return BwrapExecutor(ExecutorContext(data_dir=tmp_path / "data", options=options,
                                         pool_size=0))


def test_bwrap_refuses_an_architecture_without_a_filter(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "riscv64")
    executor = _bwrap(tmp_path)
    try:
        reason = executor.unavailable()
        assert reason is not None
        assert "no seccomp filter for architecture riscv64" in reason
        assert "srt" in reason and 'seccomp = "off"' in reason
        feature = executor.isolation()["seccomp"]
        assert feature.on is False and "riscv64" in feature.detail
        with pytest.raises(SandboxUnavailableError, match="riscv64"):
            executor._start(Policy("strict"))  # never a worker without the filter
    finally:
        executor.close()


def test_turning_seccomp_off_runs_and_says_so_everywhere(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "riscv64")
    executor = _bwrap(tmp_path, seccomp="off")
    try:
        reason = executor.unavailable()
        assert reason is None or "seccomp" not in reason
        feature = executor.isolation()["seccomp"]
        assert feature == IsolationFeature(False, 'turned off by [execution.executor_options] '
                                                  'seccomp = "off"')
    finally:
        executor.close()


def test_bwrap_reports_the_aarch64_filter_there(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    executor = _bwrap(tmp_path)
    try:
        reason = executor.unavailable()
        assert reason is None or "seccomp" not in reason
        isolation = executor.isolation()
        assert list(isolation) == list(ISOLATION_FEATURES)
        assert isolation["seccomp"].on and isolation["seccomp"].detail.startswith("aarch64")
        assert "x32" not in isolation["seccomp"].detail
    finally:
        executor.close()


def test_an_invalid_seccomp_option_is_an_error(tmp_path) -> None:
    with pytest.raises(OptionError, match="seccomp"):
        _bwrap(tmp_path, seccomp="maybe")


@require_sandbox()
@pytest.mark.parametrize(("options", "mode"), [({}, "2"), ({"seccomp": "off"}, "0")])
def test_the_filter_is_in_force_unless_turned_off(athena_factory, tmp_path, options,
                                                  mode) -> None:
    athena = athena_factory(tmp_path / mode, execution={
        "executor": "bwrap", "pool_size": 0, "executor_options": options})
    result = athena.execute(
        "[l.split()[1] for l in open('/proc/self/status') if l.startswith('Seccomp:')][0]")
    assert result.ok, result
    assert result.value == mode  # 2: a filter; 0: none


# --- reports -----------------------------------------------------------------------


class _Silent:
    """An executor that does not report its isolation."""

    name = "silent"

    def __init__(self, context: ExecutorContext) -> None:
        self.closed = False

    def unavailable(self) -> str | None:
        return None

    def refusals(self, policy, language):
        return []

    def run(self, request, bridge):
        raise NotImplementedError

    def close(self) -> None:
        pass


class _Partial(_Silent):
    name = "partial"

    def isolation(self):
        return {"os_sandbox": IsolationFeature(True, "something"),
                "seccomp": IsolationFeature(False, "not here, because reasons")}


class _Plugin:
    @hookimpl
    def athena_register_executors(self, register) -> None:
        register("silent", _Silent)
        register("partial", _Partial)
        register("broken", self._broken)

    @staticmethod
    def _broken(context: ExecutorContext) -> _Silent:
        raise RuntimeError("no luck")


def _reports(tmp_path: Path):
    host = PluginHost()
    host.register(_Plugin(), "fakes")
    config = make_config(tmp_path / "data")
    return host, config, {r.executor: r for r in executor_isolation(config, host)}


def test_an_executor_without_isolation_is_shown_as_not_reporting(tmp_path) -> None:
    _, _, reports = _reports(tmp_path)
    silent = reports["silent"]
    assert silent.features is None and silent.plugin == "fakes"
    assert silent.to_dict()["reported"] is False
    assert any(NOT_REPORTED in line for line in describe(silent))
    partial = reports["partial"]
    assert partial.reduced == ["seccomp"]
    assert any(re.search(r"seccomp\s+OFF\s+not here, because reasons", line)
               for line in describe(partial))
    assert reports["broken"].unavailable == "could not be created: no luck"


def test_doctor_warns_about_executors_that_report_less(tmp_path) -> None:
    from athena_core import doctor

    host, config, _ = _reports(tmp_path)
    checks = {c.name: c for c in doctor._isolation(config, host)}
    assert checks["isolation silent"].status == "warn"
    assert checks["isolation silent"].detail == NOT_REPORTED
    assert checks["isolation partial"].status == "warn"
    assert checks["isolation partial"].detail == "runs here with seccomp off"
    assert checks["isolation broken"].status == "warn"
    as_json = checks["isolation partial"].to_dict()
    assert as_json["isolation"]["features"]["seccomp"] == {"on": False,
                                                          "detail": "not here, because reasons"}


# --- the other executors' reports (when their plugins are importable) ---------------------


def _reported(module: str, executor_class: str, tmp_path) -> dict:
    """What the executor of an installed plugin reports (skipped where it is not)."""
    executor = getattr(pytest.importorskip(module), executor_class)(
        ExecutorContext(data_dir=tmp_path / "data"))
    try:
        return dict(executor.isolation())
    finally:
        executor.close()


def test_srt_reports_its_isolation(tmp_path) -> None:
    isolation = _reported("athena_srt.executor", "SrtExecutor", tmp_path)
    assert list(isolation) == list(ISOLATION_FEATURES)
    assert isolation["os_sandbox"].on and isolation["network"].on
    assert "proxy" in isolation["network"].detail
    assert not isolation["seccomp"].on  # a unix-socket filter is no system-call filter
    assert "only refuses" in isolation["seccomp"].detail


def test_restrictedpython_says_it_is_not_an_os_sandbox(tmp_path) -> None:
    isolation = _reported("athena_restrictedpython.executor", "RestrictedPythonExecutor",
                          tmp_path)
    assert list(isolation) == list(ISOLATION_FEATURES)
    assert isolation["os_sandbox"] == IsolationFeature(False, isolation["os_sandbox"].detail)
    assert "not an OS sandbox" in isolation["os_sandbox"].detail
    for name in ("namespaces", "seccomp", "network", "filesystem"):
        assert not isolation[name].on, name
    assert isolation["rlimits"].on
