"""Normal programs: output, values, errors with line numbers, and the bridge."""

from __future__ import annotations

import json

import pytest


def test_stdout_and_last_expression_value(athena) -> None:
    result = athena.execute("print('hello')\nprint('a', 'b', sep='-')\n6 * 7")
    assert (result.status, result.stdout, result.value) == ("ok", "hello\na-b\n", 42)
    assert result.executor == "restrictedpython" and result.policy == "strict"
    assert result.error is None and result.duration_s > 0
    assert json.loads(json.dumps(result.to_dict()))["value"] == 42


def test_a_final_print_is_output_and_the_value_is_none(athena) -> None:
    result = athena.execute("x = 2\nprint(x * 21)")
    assert (result.status, result.stdout, result.value) == ("ok", "42\n", None)


def test_values_that_are_not_json_come_back_as_repr(athena) -> None:
    result = athena.execute(
        "class Point:\n    def __init__(self, x):\n        self.x = x\nPoint(1)")
    assert result.status == "ok"
    assert "Point object" in result.value["repr"]


def test_errors_report_type_message_and_line(athena) -> None:
    result = athena.execute("x = 1\ny = 2\nraise KeyError('missing thing')")
    assert result.status == "error"
    assert (result.error.type, result.error.line) == ("KeyError", 3)
    assert "missing thing" in result.error.message
    assert 'File "<program>", line 3' in result.stderr
    assert "worker.py" not in result.stderr  # only the program's own frames


def test_errors_inside_functions_report_the_innermost_program_line(athena) -> None:
    result = athena.execute("def f(d):\n    return d['nope']\n\nf({})")
    assert (result.error.type, result.error.line) == ("KeyError", 2)


def test_syntax_errors_are_reported_without_running(athena) -> None:
    result = athena.execute("print('a')\ndef broken(:\n")
    assert result.status == "error" and result.error.type == "SyntaxError"
    assert result.error.line == 2 and result.stdout == ""


def test_restricted_constructs_are_refused_with_their_line(athena) -> None:
    result = athena.execute("print('never runs')\nx = 1\ny = ().__class__")
    assert result.status == "error" and result.error.type == "RestrictedSyntaxError"
    assert result.error.line == 3 and "__class__" in result.error.message
    assert result.stdout == ""


def test_exit_status(athena) -> None:
    assert athena.execute("raise SystemExit(0)").status == "ok"
    failed = athena.execute("raise SystemExit(3)")
    assert (failed.status, failed.error.type) == ("error", "SystemExit")


def test_everyday_python_works(athena) -> None:
    program = """
import collections, datetime, functools, itertools, json, math, re, statistics
from collections import namedtuple

Pair = namedtuple("Pair", "a b")

class Counter:
    def __init__(self, start):
        self.value = start
        self.seen = []

    def bump(self, by=1):
        self.value = self.value + by
        self.seen.append(by)
        return self

total = 0
for i, (a, b) in enumerate([(1, 2), (3, 4)]):
    total += a * b + i
words = {}
for w in "the cat the hat".split():
    words[w] = words.get(w, 0) + 1
[total, words, sorted(words, key=lambda w: -words[w])[0], Pair(1, 2).b,
 Counter(1).bump().bump(5).value, math.isqrt(17), statistics.median([3, 1, 2]),
 json.loads(json.dumps({"k": [1, 2]})), re.findall(r"\\d+", "a1b22"),
 datetime.date(2024, 1, 2).isoformat(), datetime.datetime.strptime("2024", "%Y").year,
 functools.reduce(lambda x, y: x * y, range(1, 6)), list(itertools.islice(itertools.count(), 3)),
 collections.Counter("aab").most_common(1), list(zip("ab", [1, 2])), f"{3.14159:.2f}"]
"""
    result = athena.execute(program)
    assert result.status == "ok", result.stderr
    assert result.value == [
        15, {"the": 2, "cat": 1, "hat": 1}, "the", 2, 7, 4, 2, {"k": [1, 2]}, ["1", "22"],
        "2024-01-02", 2024, 120, [0, 1, 2], [["a", 2]], [["a", 1], ["b", 2]], "3.14"]


def test_printed_collects_what_the_scope_printed(athena) -> None:
    result = athena.execute("def f():\n    print('inner')\n    return printed\nf()")
    assert (result.status, result.stdout, result.value) == ("ok", "inner\n", "inner\n")


def test_bridge_reaches_memory_with_host_api_names(athena) -> None:
    athena.remember("Deploys go through staging first", scope="web")
    program = """
import athena
hits = athena.recall("how do we deploy?", k=3)
new_id = athena.remember("written from restricted code", metadata={"via": "bridge"})
event = athena.episodic.record("restricted event", kind="action")
[hits[0].text, hits[0]["layer"], new_id]
"""
    result = athena.execute(program, scope="web")
    assert result.status == "ok", result.stderr
    text, layer, new_id = result.value
    assert (text, layer) == ("Deploys go through staging first", "semantic")
    assert athena.get(new_id, scope="web").metadata == {"via": "bridge"}
    assert [c.operation for c in result.bridge_calls] == ["recall", "remember", "episodic.record"]
    assert all(c.ok and c.request_bytes > 0 for c in result.bridge_calls)
    assert [h.text for h in athena.recall("written from restricted", scope="web")][:1] == [
        "written from restricted code"]


def test_athena_is_ready_without_an_import(athena) -> None:
    athena.remember("Deploys go through staging first")
    result = athena.execute("import athena as imported\n"
                            "[athena is imported, athena.recall('deploy', k=1)[0].text]")
    assert result.status == "ok", result.stderr
    assert result.value == [True, "Deploys go through staging first"]


def test_from_import_of_athena_operations(athena) -> None:
    athena.remember("Tea is served at four")
    result = athena.execute("from athena import recall\nrecall('tea', k=1)[0].text")
    assert (result.status, result.value) == ("ok", "Tea is served at four")


def test_bridge_errors_are_exceptions_inside_the_program(athena) -> None:
    program = """
import athena
try:
    athena.recall("")
except athena.AthenaError as exc:
    print(exc.type)
"""
    result = athena.execute(program)
    assert result.status == "ok", result.stderr
    assert result.stdout.split() == ["InvalidArgumentError"]


def test_policy_allow_list_limits_operations(athena) -> None:
    result = athena.execute("import athena\nsorted(athena.operations)",
                            policy={"api": ["recall", "semantic.*"]})
    assert result.value == ["recall", "semantic.facts", "semantic.history", "semantic.update"]


def test_executions_are_recorded_in_the_audit_log(athena) -> None:
    result = athena.execute("1 + 1", scope="audit")
    [record] = athena.audit.records(kind="execution", scope="audit")
    assert record.id == result.id
    assert record.executor == "restrictedpython" and record.status == "ok"


@pytest.mark.parametrize("code", ["import math\nmath.floor(2.5)",
                                  "from math import floor\nfloor(2.5)"])
def test_allowed_modules_import_both_ways(athena, code: str) -> None:
    result = athena.execute(code)
    assert (result.status, result.value) == ("ok", 2)


def test_host_errors_arrive_as_the_classes_of_athena_errors(athena) -> None:
    program = """
import athena
from athena.errors import MemoryNotFoundError
out = []
try:
    athena.get("no-such-memory")
except MemoryNotFoundError as exc:
    out.append([exc.type, isinstance(exc, athena.errors.AthenaError), str(exc)])
try:
    athena.forgett
except AttributeError as exc:
    out.append(str(exc))
out
"""
    result = athena.execute(program)
    assert result.status == "ok", result.stderr
    (name, is_base, message), unknown = result.value
    assert (name, is_base) == ("MemoryNotFoundError", True)
    assert message.startswith("No memory 'no-such-memory'"), message
    assert "Did you mean 'forget'?" in unknown, unknown
    uncaught = athena.execute("import athena\nathena.get('no-such-memory')")
    assert (uncaught.error.type, uncaught.error.line) == ("MemoryNotFoundError", 2)
    assert "athena_module" not in uncaught.stderr


def test_a_value_larger_than_the_output_limit_is_cut(athena) -> None:
    result = athena.execute('"z" * 10_000_000')
    assert result.status == "ok" and result.value_truncated == 10_000_002
    assert isinstance(result.value, str) and len(result.value) < 1 << 20
