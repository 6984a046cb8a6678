"""Attacks on the bridge: forged, oversized and garbage frames on file descriptor 3,
calls outside the allow-list, other scopes, and a tampered ``athena`` module.

The host must end a hostile execution with ``status="error"`` and a "bridge protocol
violation" (never an exception out of ``Athena.execute``, never a hang), record it, and
keep working.
"""

from __future__ import annotations

import json
import shutil
import textwrap
import threading
import time

import pytest

from tests.sandbox import require_sandbox
from tests.security._helpers import (
    WALL,
    assert_host_works,
    assert_ran,
    execute,
    kill_all,
    limits,
    processes_with,
    python,
    refused,
)

pytestmark = require_sandbox()

_RAW = """
import socket, struct, time
bridge = socket.socket(fileno=3)
def frame(body):
    if isinstance(body, str):
        body = body.encode()
    bridge.sendall(struct.pack(">I", len(body)) + body)
def message(**fields):
    frame(_json.dumps(fields))
"""


def _raw(code: str, **args) -> str:
    return python(_RAW + textwrap.dedent(code), **args)


def _executions(athena) -> int:
    return len(athena.audit.records(kind="execution", limit=1000))


def _assert_violation(athena, program: str, *, language: str = "python") -> None:
    """The forged traffic ends the execution as a recorded protocol violation."""
    recorded = _executions(athena)
    started = time.monotonic()
    result = execute(athena, program, policy=limits(), language=language)
    assert time.monotonic() - started < WALL, "the host waited for the wall limit"
    assert result.status == "error", (result.status, result.error, result.stderr[-500:])
    assert any(v.startswith("bridge protocol violation") for v in result.violations), \
        result.violations
    assert result.error.type == "BridgeViolation"
    assert _executions(athena) == recorded + 1  # the attack is in the audit trail
    assert_host_works(athena)


# --- garbage and forged frames --------------------------------------------------------------

def test_frame_announcing_100_mib_is_refused(athena) -> None:
    _assert_violation(athena, _raw("""
        bridge.sendall(struct.pack(">I", 100 << 20) + b"x" * 65536)
        time.sleep(30)
    """))


def test_invalid_json_frame_is_refused(athena) -> None:
    _assert_violation(athena, _raw("""
        frame('{"type": "call", "id": 1, "op": "recall", "args": ["x"')
        time.sleep(30)
    """))


def test_non_utf8_garbage_frame_is_refused(athena) -> None:
    _assert_violation(athena, _raw("""
        import os
        frame(b"\\xff\\xfe" + os.urandom(4096))
        time.sleep(30)
    """))


@pytest.mark.parametrize("body", ['[1, 2, 3]', '"call"', '{"id": 1}', '{"type": 7}', 'null'])
def test_frames_that_are_not_typed_objects_are_refused(athena, body: str) -> None:
    _assert_violation(athena, _raw("""
        frame(ARGS["body"])
        time.sleep(30)
    """, body=body))


def test_reply_frame_from_the_program_is_refused(athena) -> None:
    _assert_violation(athena, _raw("""
        message(type="reply", id=1, ok=True, value={"forged": True})
        time.sleep(30)
    """))


@pytest.mark.parametrize("fields", [
    {"op": "recall", "args": "not a list"},
    {"op": "recall", "args": {"query": "x"}},
    {"op": "recall", "args": ["x"], "kwargs": ["not", "a", "dict"]},
    {"op": ["recall"], "args": ["x"]},
    {"op": "recall", "args": ["x"], "id": "1"},
    {"op": "recall", "args": ["x"], "id": True},
], ids=["args-str", "args-dict", "kwargs-list", "op-list", "id-str", "id-bool"])
def test_call_frames_with_wrong_types_are_refused(athena, fields: dict) -> None:
    _assert_violation(athena, _raw("""
        fields = {"type": "call", "id": 1, "kwargs": {}}
        fields.update(ARGS["fields"])
        message(**fields)
        time.sleep(30)
    """, fields=fields))


@pytest.mark.parametrize("fields", [
    {"error": "boom"},
    {"error": ["boom"]},
    {"error": 7, "value": None},
], ids=["error-str", "error-list", "error-int"])
def test_result_frames_with_wrong_types_are_refused(athena, fields: dict) -> None:
    _assert_violation(athena, _raw("""
        message(type="result", **ARGS["fields"])
        time.sleep(30)
    """, fields=fields))


def test_non_standard_json_numbers_in_a_call_are_refused(athena) -> None:
    """Python's json accepts NaN and Infinity; the host must not trip over them."""
    _assert_violation(athena, _raw("""
        frame('{"type": "call", "id": 1, "op": "recall", "args": [NaN], "kwargs": {}}')
        time.sleep(30)
    """))


def test_deeply_nested_frame_is_refused(athena) -> None:
    _assert_violation(athena, _raw("""
        depth = 200_000
        frame('{"type": "call", "id": 1, "op": "recall", "args": ' + "[" * depth
              + "]" * depth + ', "kwargs": {}}')
        time.sleep(30)
    """))


def test_bridge_closed_in_the_middle_of_a_frame(athena) -> None:
    _assert_violation(athena, _raw("""
        import os
        bridge.sendall(struct.pack(">I", 1000) + b'{"type": "call"')
        bridge.close()
        os.close(1)
        os.close(2)
        time.sleep(30)
    """))


def test_program_that_stops_reading_replies_gets_an_error(athena) -> None:
    """A call whose reply cannot be delivered (the program shut its read side)."""
    _assert_violation(athena, _raw("""
        bridge.shutdown(socket.SHUT_RD)
        message(type="call", id=1, op="recall", args=["x"], kwargs={})
        time.sleep(30)
    """))


def test_pipelined_calls_never_read_cannot_block_the_host(athena, token) -> None:
    """Replies the program never reads fill the socket; the wall limit must still hold."""
    program = _raw("""
        import athena, os
        big = athena.remember("z" * 50_000)
        for i in range(200):
            message(type="call", id=100 + i, op="get", args=[big], kwargs={})
        os.execv("/bin/sleep", [ARGS["token"] + "-stalled", "60"])
    """, token=token)
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = athena.execute(program, policy={"limits": {"wall_seconds": 2}})
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=2 + WALL)
    stuck = thread.is_alive()
    if stuck:  # release the host thread: end the program that holds the socket
        kill_all(processes_with(token))
        thread.join(timeout=10)
    assert not stuck, "Athena.execute blocked past the wall limit on a reply nobody reads"
    assert "error" not in outcome, f"Athena.execute raised {outcome.get('error')!r}"
    assert outcome["result"].status in ("timeout", "error"), outcome["result"].status
    assert_host_works(athena)


def test_call_limit_ends_the_execution(athena, token) -> None:
    program = python("""
        import athena
        done = 0
        for i in range(20):
            athena.remember(ARGS["token"] + " " + str(i), scope=None)
            done += 1
        done
    """, token=token)
    result = execute(athena, program, policy=limits(api_calls=5))
    assert result.status == "error" and len(result.bridge_calls) == 5
    assert any("api_calls" in v for v in result.violations), result.violations
    stored = athena.recall(token, k=50, layers=["semantic"])
    assert len(stored) == 5, [h.text for h in stored]
    assert_host_works(athena)


def test_byte_limit_over_the_bridge_ends_the_execution(athena) -> None:
    program = python("""
        import athena
        channel = next(c.cell_contents for c in athena.recall.__closure__
                       if hasattr(c.cell_contents, "call"))
        sent = 0
        for _ in range(80):
            try:
                channel.call("no.such.operation", ("x" * 1_000_000,), {})
            except athena.AthenaError:
                sent += 1
        sent
    """)
    started = time.monotonic()
    result = execute(athena, program, policy=limits(wall_seconds=30))
    assert time.monotonic() - started < 20
    assert result.status == "error", (result.status, result.value)
    assert any("bytes over the bridge" in v for v in result.violations), result.violations[-3:]
    assert_host_works(athena)


# --- operations and scopes ----------------------------------------------------------------

def test_forged_call_to_execute_is_refused(athena, token) -> None:
    program = python("""
        import athena
        channel = next(c.cell_contents for c in athena.recall.__closure__
                       if hasattr(c.cell_contents, "call"))
        attempt(channel.call, "execute", ("import athena\\nathena.remember('nested')",),
                {"policy": {"read_paths": ["/"]}})
    """)
    recorded = _executions(athena)
    result = execute(athena, program)
    value = assert_ran(result)
    assert refused(value) and "PermissionDenied" in value, value
    assert any("'execute' refused" in v for v in result.violations), result.violations
    assert _executions(athena) == recorded + 1  # this execution only, none nested
    assert athena.recall("nested", k=5, layers=["semantic"]) == []


def test_calls_outside_the_allow_list_are_refused_and_recorded(athena, token) -> None:
    program = python("""
        import athena
        channel = next(c.cell_contents for c in athena.recall.__closure__
                       if hasattr(c.cell_contents, "call"))
        {
            "operations": athena.operations,
            "module_remember": attempt(athena.remember, ARGS["token"]),
            "forged_remember": attempt(channel.call, "remember", (ARGS["token"],), {}),
            "forged_forget": attempt(channel.call, "forget", (["x"],), {}),
            "forged_update": attempt(channel.call, "semantic.update", ("x", "y"), {}),
            "recall": attempt(lambda: len(athena.recall("anything"))),
        }
    """, token=token)
    result = execute(athena, program, policy={"api": ["recall"]})
    value = assert_ran(result)
    assert value["operations"] == ["recall"]  # what the program may call, and only that
    # A refused operation called through the module reaches the host, which refuses it by
    # name and permission (the same check as a forged frame) and records the attempt.
    assert refused(value["module_remember"]) and "PermissionDenied" in value["module_remember"]
    assert "remember" in value["module_remember"], value["module_remember"]
    assert value["recall"] == 0  # control: the allowed operation works
    for key in ("forged_remember", "forged_forget", "forged_update"):
        assert refused(value[key]) and "PermissionDenied" in value[key], value[key]
    assert sum("refused" in v for v in result.violations) == 4, result.violations
    assert athena.recall(token, k=5, layers=["semantic"]) == []


def test_host_internals_are_not_operations(athena) -> None:
    program = python("""
        import athena
        channel = next(c.cell_contents for c in athena.recall.__closure__
                       if hasattr(c.cell_contents, "call"))
        {name: attempt(channel.call, name, (), {}) for name in
         ("close", "_store", "__init__", "layers.semantic", "api.names", "storage.close",
          "plugins", "checkpoint", "execution.close")}
    """)
    value = assert_ran(execute(athena, program))
    assert all(refused(v) and "UnknownOperation" in v for v in value.values()), value
    assert_host_works(athena)


def test_another_scope_cannot_be_named(athena, token) -> None:
    athena.remember(f"tenant b secret {token}", scope="tenant-b")
    program = python("""
        import athena
        {
            "recall": attempt(athena.recall, ARGS["token"], scope="tenant-b"),
            "record": attempt(athena.episodic.record, "x", scope="tenant-b"),
            "empty": attempt(athena.recall, ARGS["token"], scope=""),
            "list": attempt(athena.recall, ARGS["token"], scope=["tenant-b"]),
        }
    """, token=token)
    result = execute(athena, program, scope="tenant-a")
    value = assert_ran(result)
    assert all(refused(v) and "ScopeViolationError" in v for v in value.values()), value
    assert sum("cannot reach scope" in v for v in result.violations) == 4, result.violations
    assert athena.episodic.timeline(kind="observation", scope="tenant-b") == []


def test_memories_of_another_scope_are_unreachable_by_any_operation(athena, token) -> None:
    secret = f"tenant b secret {token}"
    fact = athena.remember(secret, scope="tenant-b")
    episode = athena.episodic.record(f"tenant b event {token}", scope="tenant-b")
    program = """
        import athena
        ids, t = ARGS["ids"], ARGS["token"]
        out = {
            "recall": attempt(athena.recall, t, k=50),
            "recall_all_layers": attempt(athena.recall, "tenant b secret", k=50,
                                         layers=["semantic", "episodic"]),
            "facts": attempt(athena.semantic.facts, limit=1000),
            "timeline": attempt(athena.episodic.timeline, limit=1000),
            "search": attempt(athena.episodic.search, t, k=50),
        }
        for i in ids:
            out["get " + i] = attempt(athena.get, i)
            out["history " + i] = attempt(athena.semantic.history, i)
            if ARGS["mutate"]:
                out["update " + i] = attempt(athena.semantic.update, i, "overwritten")
        if ARGS["mutate"]:
            out["forget"] = attempt(athena.forget, ids)
        _json.dumps(out, default=str)
    """
    attack = python(program, ids=[fact, episode], token=token, mutate=True)
    leaked = assert_ran(execute(athena, attack, scope="tenant-a"))
    assert token not in leaked, leaked[:2000]
    assert athena.get(fact, scope="tenant-b").text == secret
    assert len(athena.semantic.history(fact, scope="tenant-b")) == 1
    assert [h.id for h in athena.recall(token, k=5, scope="tenant-b")]
    # Control: the same reads, bound to tenant-b, do see them.
    control = python(program, ids=[fact, episode], token=token, mutate=False)
    assert token in assert_ran(execute(athena, control, scope="tenant-b"))


def test_a_tampered_athena_module_cannot_widen_its_reach(athena, token) -> None:
    athena.remember(f"tenant b secret {token}", scope="tenant-b")
    program = python("""
        import athena, athena_module, sys
        original = athena_module.Channel.call
        def widened(self, operation, args, kwargs):
            return original(self, operation, args, {**kwargs, "scope": "tenant-b"})
        athena_module.Channel.call = widened
        athena.recall = lambda *a, **k: ["forged"]
        sys.modules["athena"] = type(sys)("athena")
        athena.episodic.search(ARGS["token"])
    """, token=token)
    result = execute(athena, program, scope="tenant-a")
    assert result.status == "error" and "ScopeViolationError" in (
        result.error.type + result.error.message), result
    assert token not in json.dumps(result.to_dict())
    assert any("cannot reach scope 'tenant-b'" in v for v in result.violations)
    # The next execution gets a fresh, working module.
    after = python("""
        import athena
        [athena.recall.__name__, athena.recall(ARGS["token"])]
    """, token=token)
    name, hits = assert_ran(execute(athena, after, scope="tenant-b"))
    assert name == "recall" and token in json.dumps(hits)


# --- state between executions ---------------------------------------------------------------

def test_nothing_survives_into_the_next_execution(athena, token) -> None:
    first = python("""
        import builtins, os, sys, athena, json
        for path in ("/work/" + ARGS["token"], "/tmp/" + ARGS["token"],
                     "/work/sitecustomize.py", "/tmp/usercustomize.py"):
            write(path, "raise SystemExit('tampered')")
        attempt(write, "/dev/shm/" + ARGS["token"], "x")
        sys.modules["json"] = type(sys)("json")
        os.environ["PYTHONSTARTUP"] = "/work/" + ARGS["token"]
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv("/bin/sleep", [ARGS["token"] + "-lingering", "600"])
            os._exit(0)
        builtins.len = lambda *_: 0  # also breaks this worker's own result frame
        "tampered"
    """, token=token)
    assert execute(athena, first).status in ("ok", "error")
    second = python("""
        import builtins, os, sys
        mine = os.getpid()
        others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, mine)]
        {
            "files": sorted(os.listdir("/work") + os.listdir("/tmp")),
            "len": len([1, 2]),
            "json": hasattr(sys.modules.get("json", _json), "dumps"),
            "env": os.environ.get("PYTHONSTARTUP"),
            "processes": [read(f"/proc/{p}/cmdline", "rb").decode(errors="replace")
                          for p in others if os.path.exists(f"/proc/{p}/cmdline")],
        }
    """, token=token)
    for _ in range(3):  # pooled and freshly started workers alike
        value = assert_ran(execute(athena, second))
        assert token not in json.dumps(value), value
        assert value["len"] == 2 and value["json"] is True and value["env"] is None
        assert value["processes"] == [], value["processes"]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_forged_frames_are_refused(athena) -> None:
    _assert_violation(athena, """
import fs from "node:fs";
const header = Buffer.alloc(4);
header.writeUInt32BE(50 << 20, 0);
fs.writeSync(3, Buffer.concat([header, Buffer.from("garbage")]));
await new Promise((resolve) => setTimeout(resolve, 30000));
""", language="javascript")


# --- the host's cost ------------------------------------------------------------------------

def _host_peak_growth(run) -> tuple[int, object]:
    """How far the host's peak resident memory rose while ``run()`` ran, and its result.

    The peak is reset first (``/proc/self/clear_refs``), so earlier tests' peaks do not
    hide this one's.
    """
    def peak() -> int:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh
                        if line.startswith("VmHWM:"))

    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass  # without a reset the growth is measured from the earlier peak (stricter)
    before = peak()
    result = run()
    return peak() - before, result


def test_forged_16_mib_frames_leave_the_host_memory_flat(athena) -> None:
    """Frames announcing nearly 16 MiB of ``[{},{},...]``: the host refuses each one from
    its length, before buffering its body (decoding one would take hundreds of MiB)."""
    program = _raw("""
        import os
        body = b"[" + b"{}," * ((16 << 20) // 3 - 2) + b"{}]"
        for _ in range(4):
            try:
                bridge.sendall(struct.pack(">I", len(body)) + body)
            except OSError:
                break
        time.sleep(30)
    """)
    athena.execute("1")  # a warm worker pool and imports: not counted as growth
    growth, result = _host_peak_growth(
        lambda: execute(athena, program, policy=limits()))
    assert growth < 64 << 20, f"the host's peak memory grew by {growth / (1 << 20):.0f} MiB"
    assert result.status == "error", (result.status, result.error)
    assert any(v.startswith("bridge protocol violation") and "limit" in v
               for v in result.violations), result.violations
    assert_host_works(athena)


@pytest.mark.parametrize("length", [(16 << 20) - 1, 0xFFFF_FFFF], ids=["16MiB", "4GiB"])
def test_a_huge_length_prefix_without_a_body_is_refused_at_once(athena, length: int) -> None:
    _assert_violation(athena, _raw("""
        bridge.sendall(struct.pack(">I", ARGS["length"]))
        time.sleep(30)
    """, length=length))


def test_a_call_frame_of_many_small_values_is_refused_before_decoding(athena) -> None:
    """Under the 1 MiB call limit, 300,000 empty objects would still cost the host ~30 MiB."""
    program = _raw("""
        args = "[" + ",".join(["{}"] * 300_000) + "]"
        frame('{"type":"call","id":1,"op":"recall","args":' + args + ',"kwargs":{}}')
        time.sleep(30)
    """)
    result = execute(athena, program, policy=limits())
    assert result.status == "error" and result.error.type == "BridgeViolation"
    assert any("values" in v for v in result.violations), result.violations
    assert_host_works(athena)


def test_a_frame_claiming_to_be_the_result_gets_no_larger_limit_as_a_call(athena) -> None:
    """The result frame may be as large as the output limit; a call that starts like a
    result frame (then names another type) is still refused."""
    _assert_violation(athena, _raw("""
        frame('{"type":"result","type":"call","id":1,"op":"recall","args":["'
              + "x" * (1 << 20) + '"],"kwargs":{}}')
        time.sleep(30)
    """))


def test_a_result_frame_over_the_output_limit_is_refused(athena) -> None:
    _assert_violation(athena, _raw("""
        frame('{"type":"result","value":"' + "x" * (3 << 20) + '","error":null}')
        time.sleep(30)
    """))


@pytest.mark.timeout(60)  # the quadratic scan took about an hour on such a frame
def test_the_shape_scan_is_linear_on_unterminated_strings() -> None:
    """A call frame of commas, then one quote and escaped quotes to its end: each quote
    used to restart the string scan, so 1 MiB held the host for an hour."""
    from athena_core.sandbox_client.frames import FrameError, check_shape

    body = b"," * 100_001 + b'"' + b'\\"' * ((1 << 20) // 2 - 60_000)
    with pytest.raises(FrameError, match="more than 100,000 values"):
        check_shape(body)
