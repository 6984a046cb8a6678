"""Athena.execute with the bubblewrap executor: results, bridge, policies, pool, records."""

from __future__ import annotations

import json

import pytest

from athena_core.errors import ConfigError, SandboxUnavailableError, UnknownNameError
from athena_core.execution.policy import PRESETS, Policy, policy_from_mapping
from athena_core.execution.static_checks import check_python
from tests.sandbox import require_sandbox

pytestmark = require_sandbox()


def test_result_carries_output_value_and_timing(athena) -> None:
    result = athena.execute("print('hello')\nimport sys\nprint('oops', file=sys.stderr)\n6 * 7")
    assert (result.status, result.stdout, result.value) == ("ok", "hello\n", 42)
    assert "oops" in result.stderr
    assert result.executor == "bwrap" and result.policy == "strict"
    assert result.duration_s > 0 and result.error is None
    assert json.loads(json.dumps(result.to_dict()))["value"] == 42


def test_program_errors_report_type_message_and_line(athena) -> None:
    result = athena.execute("x = 1\ny = 2\nraise KeyError('missing thing')")
    assert result.status == "error"
    assert (result.error.type, result.error.line) == ("KeyError", 3)
    assert "missing thing" in result.error.message


def test_syntax_error_is_reported_without_running(athena) -> None:
    result = athena.execute("print('a')\ndef broken(:\n")
    assert result.status == "error" and result.error.type == "SyntaxError"
    assert result.error.line == 2 and result.stdout == ""


def test_bridge_reaches_memory_with_host_api_names(athena) -> None:
    athena.remember("Deploys go through staging first", scope="web")
    program = """
import athena
hits = athena.recall("how do we deploy?", k=3)
new_id = athena.remember("written from the sandbox", metadata={"via": "bridge"})
event = athena.episodic.record("sandbox event", kind="action")
[hits[0].text, hits[0]["layer"], new_id]
"""
    result = athena.execute(program, scope="web")
    assert result.status == "ok", result.stderr
    text, layer, new_id = result.value
    assert (text, layer) == ("Deploys go through staging first", "semantic")
    assert athena.get(new_id, scope="web").metadata == {"via": "bridge"}
    assert [c.operation for c in result.bridge_calls] == ["recall", "remember", "episodic.record"]
    assert all(c.ok and c.request_bytes > 0 for c in result.bridge_calls)


def test_athena_is_ready_without_an_import(athena) -> None:
    """As in JavaScript, a Python program reaches memory through ``athena`` without
    importing it; ``import athena`` gives the same module."""
    athena.remember("Deploys go through staging first", scope="web")
    result = athena.execute("import athena as imported\n"
                            "[athena is imported, athena.recall('deploy', k=1)[0].text]",
                            scope="web")
    assert result.status == "ok", result.stderr
    assert result.value == [True, "Deploys go through staging first"]


_API_FILES = """import os
sorted(os.path.join(root, name)[len("/athena/apis/"):]
       for root, _, names in os.walk("/athena/apis") for name in names if name.endswith(".py"))
"""


def test_a_warm_worker_shows_only_what_the_next_policy_allows(athena) -> None:
    """The warm pool's workers are set up per policy, allow-list and permissions included:
    a worker started for a policy allowing everything is not handed to one that does not."""
    everything = athena.execute(_API_FILES)  # leaves a warm worker for `strict` behind
    assert "forget.py" in everything.value and "remember.py" in everything.value
    recall_only = athena.execute(_API_FILES, policy={"name": "strict", "api": ["recall"]})
    assert recall_only.value == ["_types.py", "recall.py"], recall_only
    read_only = athena.execute(_API_FILES, policy={"name": "strict", "permissions": ["read"]})
    assert "recall.py" in read_only.value, read_only
    assert not {"forget.py", "remember.py", "episodic/record.py",
                "semantic/update.py"} & set(read_only.value), read_only


def test_bridge_errors_are_exceptions_inside_the_program(athena) -> None:
    program = """
import athena
try:
    athena.recall("")
except athena.AthenaError as exc:
    print(exc.type)
try:
    athena.recall("x", k="many")
except athena.AthenaError as exc:
    print(exc.type)
"""
    result = athena.execute(program)
    assert result.status == "ok"
    assert result.stdout.split() == ["InvalidArgumentError", "InvalidArgumentError"]


def test_policy_allow_list_limits_operations(athena) -> None:
    policy = {"api": ["recall", "semantic.*"]}
    hidden = athena.execute("import athena\nsorted(athena.operations)", policy=policy)
    assert hidden.value == ["recall", "semantic.facts", "semantic.history", "semantic.update"]
    forged = """
import athena
channel = next(c.cell_contents for c in athena.recall.__closure__
               if hasattr(c.cell_contents, "call"))
channel.call("remember", ("not allowed",), {})
"""
    result = athena.execute(forged, policy=policy)
    assert result.status == "error" and result.error.type == "PermissionDeniedError"
    assert any("remember" in v for v in result.violations)
    assert athena.recall("allowed", layers=["semantic"]) == []


def test_operations_that_execute_are_never_exposed(athena) -> None:
    result = athena.execute("import athena\nhasattr(athena, 'execute')")
    assert result.value is False


def test_every_execution_is_recorded_in_the_audit_log(athena) -> None:
    result = athena.execute("1 + 1", scope="audit")
    [record] = athena.audit.records(kind="execution", scope="audit")
    assert record.id == result.id and record.status == "ok"
    assert record.payload == "1 + 1"
    assert athena.episodic.timeline(scope="audit") == []  # not a memory


def test_wall_time_limit(athena) -> None:
    result = athena.execute("import time\ntime.sleep(30)", policy={"limits": {"wall_seconds": 1}})
    assert result.status == "timeout" and result.error.type == "Timeout"
    assert result.duration_s < 10


def test_output_limit(athena) -> None:
    result = athena.execute("print('x' * 5_000_000)", policy={"limits": {"output_bytes": 10_000}})
    assert result.status == "killed"
    assert len(result.stdout) < 20_000 and result.stdout.endswith("[output truncated]")


@pytest.mark.parametrize(("language", "code", "expected"), [
    ("bash", "echo hello from bash", "hello from bash\n"),
    ("javascript", "console.log('hello from node')", "hello from node\n"),
])
def test_other_languages(athena, language: str, code: str, expected: str) -> None:
    if language == "javascript":
        import shutil

        if shutil.which("node") is None:
            pytest.skip("node is not installed")
    result = athena.execute(code, language=language)
    assert (result.status, result.stdout) == ("ok", expected)


def test_non_zero_exit_of_bash_is_an_error(athena) -> None:
    result = athena.execute("echo partial; exit 3", language="bash")
    assert result.status == "error" and "exit status 3" in result.error.message
    assert result.stdout == "partial\n"


def test_network_policy_is_refused_by_bwrap(athena_factory) -> None:
    athena = athena_factory(execution={"executor": "bwrap"})
    result = athena.execute("1", policy={"network_domains": ["example.org"]})
    assert result.status == "denied"
    assert any("cannot filter network" in v for v in result.violations)


def test_static_checks_are_advice_with_line_numbers(athena) -> None:
    result = athena.execute("x = 1\nimport subprocess\nx")
    assert result.status == "ok" and result.value == 1
    assert any(v.startswith("static check, line 2: imports subprocess") for v in result.violations)


def test_workers_are_not_reused(athena) -> None:
    first = athena.execute("import os\nopen('/work/marker', 'w').write('x')\nos.getpid()")
    second = athena.execute("import os\nos.path.exists('/work/marker')")
    assert first.status == second.status == "ok"
    assert second.value is False


def test_unknown_policy_and_executor_names(athena_factory) -> None:
    athena = athena_factory()
    with pytest.raises(UnknownNameError, match="'development', 'research', 'strict'"):
        athena.execute("1", policy="lenient")
    other = athena_factory(execution={"executor": "nope"})
    with pytest.raises(UnknownNameError, match="'bwrap'"):
        other.execute("1")


def test_blocked_executors_never_fall_back(athena_factory, tmp_path) -> None:
    athena = athena_factory(plugins={"block": ["bwrap", "srt"]})
    canary = tmp_path / "ran-unsandboxed"
    with pytest.raises(SandboxUnavailableError):
        athena.execute(f"open({str(canary)!r}, 'w').write('x')")
    assert not canary.exists()


def test_custom_policy_from_config(athena_factory, tmp_path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("project notes")
    athena = athena_factory(policies={"ci": {"extends": "strict",
                                             "read_paths": [str(project)],
                                             "limits": {"wall_seconds": 5}}})
    result = athena.execute(f"open({str(project / 'notes.txt')!r}).read()", policy="ci")
    assert result.value == "project notes" and result.policy == "ci"
    denied = athena.execute(f"open({str(project / 'new.txt')!r}, 'w')", policy="ci")
    assert denied.status == "error" and "Read-only" in denied.error.message
    assert not (project / "new.txt").exists()


def test_policy_parsing_errors() -> None:
    with pytest.raises(ConfigError, match="unknown key 'netwrk'"):
        policy_from_mapping("x", {"netwrk": []})
    with pytest.raises(ConfigError, match="unknown limit 'cpu'"):
        policy_from_mapping("x", {"limits": {"cpu": 1}})
    with pytest.raises(ConfigError, match="extends unknown preset"):
        policy_from_mapping("x", {"extends": "loose"})
    with pytest.raises(ConfigError, match="must be positive"):
        policy_from_mapping("x", {"limits": {"wall_seconds": 0}})
    assert Policy.from_json('{"name": "j", "env": ["CI"]}').env == ("CI",)
    assert PRESETS["development"].read_paths == (".",)


def test_static_checker_findings() -> None:
    error, findings = check_python("import os\nimport socket\neval('1')\n", PRESETS["strict"])
    assert error is None
    assert [f.line for f in findings] == [2, 3]
    error, _ = check_python("def (", PRESETS["strict"])
    assert error.type == "SyntaxError" and error.line == 1


def test_many_runs_in_a_row_all_complete(athena) -> None:
    statuses = []
    for i in range(40):
        result = athena.execute(f"{i} * 2")
        statuses.append((result.status, result.value, result.stderr[-300:],
                         result.violations))
    assert [s[:2] for s in statuses] == [("ok", i * 2) for i in range(40)], [
        s for s in statuses if s[0] != "ok"][:3]


def test_javascript_reaches_memory_through_the_bridge(athena) -> None:
    import shutil

    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    athena.remember("Deploys go through staging first")
    program = """
const hits = await athena.recall("deploy", {k: 3});
await athena.remember("stored from node", {metadata: {via: "js"}});
try { await athena.recall(""); } catch (e) { console.log(e.type); }
console.log(hits[0].text);
"""
    result = athena.execute(program, language="javascript")
    assert result.status == "ok", result.stderr
    assert result.stdout.splitlines() == ["InvalidArgumentError",
                                          "Deploys go through staging first"]
    assert [c.operation for c in result.bridge_calls] == ["recall", "remember", "recall"]
    assert athena.recall("stored from node", k=1)[0].metadata == {"via": "js"}


def test_automatic_choice_prefers_an_executor_that_accepts_the_policy(athena_factory) -> None:
    """Selection logic only: stand-in executors, the real ones blocked."""
    from athena_core import hookimpl
    from athena_core.execution.model import ExecutionResult

    class StandIn:
        def __init__(self, name, takes_network):
            self.name, self._takes_network = name, takes_network

        def unavailable(self):
            return None

        def refusals(self, policy, language):
            return [] if self._takes_network or not policy.network_domains else ["no network"]

        def run(self, request, bridge):
            return ExecutionResult(id=request.id, status="ok", executor=self.name,
                                   language=request.language, policy=request.policy.name)

        def close(self):
            pass

    class Plugin:
        @hookimpl
        def athena_register_executors(self, register):
            register("bwrap", lambda context: StandIn("bwrap", False))
            register("srt", lambda context: StandIn("srt", True))

    athena = athena_factory(plugins={"block": ["bwrap", "srt"]})
    athena.close()
    from athena_core import Athena

    with Athena.open(config=athena.config, plugins=[Plugin()]) as chosen:
        assert chosen.execute("1").executor == "bwrap"
        assert chosen.execute("1", policy="research").executor == "srt"


def test_execution_records_are_kept_with_either_setting(athena_factory, tmp_path) -> None:
    for durable in (False, True):
        athena = athena_factory(tmp_path / str(durable),
                                execution={"durable_records": durable, "pool_size": 0})
        result = athena.execute("print('hi')")
        assert result.ok, result
        records = athena.audit.records(kind="execution")
        assert [(r.id, r.status) for r in records] == [(result.id, "ok")]
        with athena.storage.write() as session:  # the record's level did not stick
            assert session.connection().exec_driver_sql("PRAGMA synchronous").scalar() == 2


def test_programs_read_the_api_tree_at_a_fixed_path_and_cannot_change_it(athena) -> None:
    from athena_core.discovery import SANDBOX_API_PATH

    result = athena.execute(f"""
import os
root = {SANDBOX_API_PATH!r}
try:
    open(os.path.join(root, "recall.py"), "a").write("tampered")
    wrote = True
except OSError:
    wrote = False
[sorted(os.listdir(root)), open(os.path.join(root, "episodic", "timeline.py")).read(), wrote]
""")
    assert result.ok, result
    names, stub, wrote = result.value
    assert {"README.md", "recall.py", "remember.py", "episodic", "semantic"} <= set(names)
    assert "execute.py" not in names  # programs cannot start programs: not in their API
    assert "def timeline(" in stub and "Permissions: read." in stub
    assert not wrote


# --- what a program sees of errors and of large values ------------------------------------

def test_sandbox_errors_mirror_the_host_error_classes(athena) -> None:
    """``athena.errors`` has every class of ``athena_core.errors``, with the same bases."""
    from athena_core import errors

    program = """
import athena
{name: [c.__name__ for c in getattr(athena.errors, name).__mro__]
 for name in athena.errors.__all__}
"""
    result = athena.execute(program)
    assert result.status == "ok", result.stderr
    host = {name: [c.__name__ for c in getattr(errors, name).__mro__] for name in errors.__all__}
    assert result.value == host


def test_the_error_classes_are_listed_before_use_and_made_once(athena) -> None:
    """``athena.errors`` makes each class on first use: ``dir`` and ``__all__`` list them
    all before, a parent made after its child is that child's parent, and a class is the
    same object each time it is looked up."""
    program = """
import athena
errors = athena.errors
listed = "MemoryNotFoundError" in dir(errors) and "StorageError" in errors.__all__
child = errors.StorageFullError
try:
    errors.MemoryNotFoundErr
    misspelt = None
except AttributeError as exc:
    misspelt = str(exc)
[listed, child is errors.StorageFullError, child.__mro__[1] is errors.StorageError,
 errors.StorageError.__mro__[1] is errors.AthenaError, misspelt]
"""
    result = athena.execute(program)
    assert result.status == "ok", result.stderr
    *checks, misspelt = result.value
    assert checks == [True] * 4
    assert "Did you mean 'MemoryNotFoundError'" in misspelt


def test_a_frame_with_members_encoded_before_is_the_frame_of_the_whole_message() -> None:
    from athena_core.sandbox_client import frames

    operations = [{"name": "recall", "doc": "Find memories \u00e9 \u2014 \U0001f600"}]
    message = {"type": "run", "code": "print('\u00e9')"}
    whole = frames.encode({**message, "operations": operations, "errors": []})
    parts = frames.encode(message, encoded={"operations": frames.ascii_json(operations),
                                            "errors": "[]"})
    assert json.loads(parts[4:]) == json.loads(whole[4:])
    assert frames.HEADER.unpack(parts[:4])[0] == len(parts) - 4
    assert json.loads(frames.encode({}, encoded={"a": "1"})[4:]) == {"a": 1}


def test_a_program_catches_host_errors_by_their_class(athena) -> None:
    program = """
import athena
from athena.errors import InvalidArgumentError
out = []
try:
    athena.get("no-such-memory")
except athena.errors.MemoryNotFoundError as exc:
    out.append([type(exc).__name__, exc.type, isinstance(exc, KeyError),
                isinstance(exc, athena.AthenaError), str(exc)])
try:
    athena.recall("")
except InvalidArgumentError as exc:
    out.append([type(exc).__name__, isinstance(exc, ValueError)])
out
"""
    result = athena.execute(program, scope="s")
    assert result.status == "ok", result.stderr
    (name, kind, is_key_error, is_athena_error, message), invalid = result.value
    assert (name, kind, is_key_error, is_athena_error) == ("MemoryNotFoundError",) * 2 + (
        True, True)
    assert message.startswith("No memory 'no-such-memory'"), message
    assert invalid == ["InvalidArgumentError", True]


def test_an_uncaught_host_error_is_reported_once_at_the_programs_line(athena) -> None:
    result = athena.execute("import athena\n\ndef fetch(i):\n    return athena.get(i)\n\n"
                            "fetch('no-such-memory')\n", scope="s")
    assert result.status == "error"
    error = result.error
    assert (error.type, error.line) == ("MemoryNotFoundError", 4)  # the innermost line
    assert error.message.startswith("No memory 'no-such-memory'"), error.message
    assert "MemoryNotFoundError" not in error.message
    # The traceback shows the program's two frames and nothing of the worker or the module.
    assert result.stderr.count('File "<program>"') == 2, result.stderr
    assert "athena_module" not in result.stderr and "worker.py" not in result.stderr
    assert result.stderr.count("No memory") == 1, result.stderr


def test_a_misspelt_operation_or_field_lists_the_valid_names(athena) -> None:
    program = """
import athena
out = {}
for name, get in [("op", lambda: athena.forgett), ("ns", lambda: athena.episodic.recrod)]:
    try:
        get()
    except AttributeError as exc:
        out[name] = str(exc)
athena.remember("hello there")
try:
    athena.recall("hello")[0].txt
except AttributeError as exc:
    out["field"] = str(exc)
out["hasattr"] = hasattr(athena, "delete") or hasattr(athena.episodic, "delete")
out
"""
    result = athena.execute(program)
    assert result.status == "ok", result.stderr
    value = result.value
    assert value["hasattr"] is False
    assert "Did you mean 'forget'?" in value["op"], value["op"]
    assert "remember" in value["op"] and "episodic.record" in value["op"]
    assert "Did you mean 'record'?" in value["ns"] and "timeline" in value["ns"], value["ns"]
    assert "Did you mean 'text'?" in value["field"] and "score" in value["field"], value["field"]


def test_javascript_gets_the_same_error_classes_and_names(athena) -> None:
    import shutil

    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    program = """
const out = [];
try { await athena.get("no-such-memory"); } catch (e) {
  out.push(e instanceof athena.errors.MemoryNotFoundError, e instanceof athena.AthenaError,
           e.type, e.message);
}
try { athena.forgett("x"); } catch (e) { out.push(e.name, e.message); }
console.log(JSON.stringify(out));
"""
    result = athena.execute(program, language="javascript", scope="s")
    assert result.status == "ok", result.stderr
    is_class, is_base, kind, message, name, unknown = json.loads(result.stdout)
    assert (is_class, is_base, kind) == (True, True, "MemoryNotFoundError")
    assert message.startswith("No memory 'no-such-memory'"), message
    assert name == "TypeError" and "Did you mean 'forget'?" in unknown, unknown


def test_javascript_values_that_cannot_travel_get_the_host_error(athena) -> None:
    """What a call cannot carry as JSON (non-finite numbers, BigInts, functions, nesting
    or size beyond the bridge's limits) is refused as the host API refuses it
    (InvalidArgumentError), and the program goes on: never a protocol violation."""
    import shutil

    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    program = """
let deep = 1;
for (let i = 0; i < 200; i++) deep = [deep];
const cases = {
  nan: () => athena.recall("q", {k: NaN}),
  infinity: () => athena.remember("t", {importance: Infinity}),
  bigint: () => athena.recall("q", {k: 10n}),
  func: () => athena.remember("t", {metadata: {f: () => 1}}),
  deep: () => athena.remember("t", {metadata: {deep}}),
  many: () => athena.remember("t", {metadata: {many: Array(200000).fill(0)}}),
  huge: () => athena.recall("x".repeat(2 << 20)),
};
const out = {};
for (const [name, run] of Object.entries(cases)) {
  try { await run(); out[name] = "no error"; } catch (e) { out[name] = e.name; }
}
out.after = (await athena.recall("anything", {k: 1})).length >= 0;
console.log(JSON.stringify(out));
"""
    result = athena.execute(program, language="javascript", scope="s")
    assert result.status == "ok", (result.error, result.violations, result.stderr[-2000:])
    out = json.loads(result.stdout)
    assert out.pop("after") is True
    assert out == dict.fromkeys(out, "InvalidArgumentError"), out
    assert len(out) == 7
    assert athena.recall("t", scope="s") == []  # nothing was stored


def test_a_value_larger_than_the_output_limit_is_cut(athena) -> None:
    result = athena.execute('"z" * 10_000_000')
    assert result.status == "ok", (result.error, result.stderr[-500:])
    assert result.value_truncated == 10_000_002  # the JSON text, with its quotes
    assert isinstance(result.value, str) and result.value.startswith('"zzz')
    assert len(result.value) < 1 << 20
    assert any("cut" in v for v in result.violations), result.violations
    small = athena.execute("list(range(10))")
    assert (small.value, small.value_truncated) == (list(range(10)), 0)
