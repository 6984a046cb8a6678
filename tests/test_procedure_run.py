"""Running procedures: ``athena.procedures.run`` from the host and from sandboxed programs.

One Athena serves the module (the real sandbox, a real git repository and catalog); each
case saves its own procedure, so their run statistics and audit records stay apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from athena_core import Athena
from athena_core.errors import (
    InvalidArgumentError,
    ProcedureNotActiveError,
    ProcedureRunError,
)
from athena_core.procedures.service import AUDIT_KIND, MAX_DEPTH, inputs_digest
from tests.conftest import _empty_database, make_config
from tests.sandbox import require_sandbox

pytestmark = require_sandbox()

NOTE = '''\
import athena


def run(topic: str, times: int = 1) -> list[str]:
    """Note that a topic was looked into; return what is remembered about it."""
    athena.remember(f"looked into {topic}")
    return sorted(hit.text for hit in athena.recall(topic, k=5)) * times
'''
NOTE_TESTS = '''\
from main import run


def test_a_topic_is_remembered_and_recalled() -> None:
    assert run("deploys") == ["looked into deploys"]


def test_times_repeats_the_result() -> None:
    assert run("backups", 2) == ["looked into backups", "looked into backups"]
'''
NOTE_PERMISSIONS = ["remember", "recall"]
NOTE_EXAMPLES = [{"inputs": {"topic": "alerts"}, "expected": ["looked into alerts"]}]


@pytest.fixture(scope="module")
def athena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Athena]:
    _empty_database()
    with Athena.open(config=make_config(tmp_path_factory.mktemp("run"))) as opened:
        yield opened


def admitted(athena: Athena, id: str, code: str = NOTE, tests: str = NOTE_TESTS, *,
             permissions: list[str] = NOTE_PERMISSIONS,
             examples: list[dict[str, Any]] = NOTE_EXAMPLES) -> str:
    """Save ``id`` and validate it; return its active commit."""
    athena.procedures.save(id, "Note a topic and recall it.", code, tests,
                           permissions=permissions, examples=examples)
    report = athena.procedures.validate(id)
    assert report["status"] == "active", report["validation"]
    return str(report["commit"])


def runs_of(athena: Athena, id: str) -> list[Any]:
    return [record for record in athena.audit.records(kind=AUDIT_KIND)
            if record.details["procedure"] == id]


def texts(athena: Athena, query: str, scope: str) -> list[str]:
    return sorted(hit.text for hit in athena.recall(query, k=10, scope=scope))


def test_a_saved_procedure_runs_only_once_validated(athena: Athena) -> None:
    saved = athena.procedures.save("run/first", "Note a topic and recall it.", NOTE,
                                   NOTE_TESTS, permissions=NOTE_PERMISSIONS,
                                   examples=NOTE_EXAMPLES)
    assert saved["status"] == "candidate"
    with pytest.raises(ProcedureNotActiveError, match="validate"):
        athena.procedures.run("run/first", topic="deploys")
    assert runs_of(athena, "run/first") == []

    report = athena.procedures.validate("run/first")
    assert report["status"] == "active" and report["commit"] == saved["commit"]
    assert athena.procedures.run("run/first", topic="deploys", times=2) == [
        "looked into deploys", "looked into deploys"]
    # inputs may also come as a mapping
    assert athena.procedures.run("run/first", {"topic": "deploys"}) == [
        "looked into deploys", "looked into deploys"]
    assert athena.procedures.history("run/first")[0]["runs"] == 2


@pytest.mark.parametrize(("inputs", "argument"), [
    ({"topic": 3}, "topic"), ({"topic": "x", "times": "2"}, "times"),
    ({"topic": "x", "times": True}, "times"), ({}, "topic"),
    ({"topic": "x", "colour": "red"}, "colour")])
def test_inputs_that_do_not_fit_the_schema_are_refused_before_running(
        athena: Athena, inputs: dict[str, Any], argument: str) -> None:
    if "run/typed" not in {entry["id"] for entry in athena.procedures.list()}:
        admitted(athena, "run/typed")
    before = len(runs_of(athena, "run/typed"))
    with pytest.raises(InvalidArgumentError) as caught:
        athena.procedures.run("run/typed", **inputs)
    assert caught.value.argument == argument
    assert len(runs_of(athena, "run/typed")) == before
    assert athena.procedures.show("run/typed")["runs"] == before


FORGETTER = '''\
import athena


def run(topic: str) -> int:
    """Forget everything, which it has not declared."""
    return athena.forget(everything=True)
'''
FORGETTER_TESTS = '''\
from main import run


def test_run() -> None:
    assert run("x") >= 0
'''


def test_a_procedure_cannot_call_an_operation_it_did_not_declare(athena: Athena) -> None:
    # The gate would never admit this version; it is made active by hand, as if the gate
    # had been bypassed, to show that running enforces the declared permissions itself.
    saved = athena.procedures.save("run/forgetter", "Forget everything.", FORGETTER,
                                   FORGETTER_TESTS, permissions=["recall"])
    athena.procedures.catalog.set_status("run/forgetter", saved["commit"], "active")
    athena.remember("kept, whatever the procedure tries", scope="run:forgetter")
    with athena.bound(scope="run:forgetter"), \
            pytest.raises(ProcedureRunError, match="PermissionDeniedError") as caught:
        athena.procedures.run("run/forgetter", topic="x")  # the host may forget; it may not
    assert caught.value.status == "ok" and caught.value.error is not None
    assert texts(athena, "kept", "run:forgetter") == ["kept, whatever the procedure tries"]
    assert runs_of(athena, "run/forgetter")[-1].status == "error"


def test_a_caller_without_write_cannot_run_a_procedure_that_writes(athena: Athena) -> None:
    admitted(athena, "run/writer")
    with athena.bound(scope="run:reader", policy={"name": "reader", "permissions": ["read"]}), \
            pytest.raises(ProcedureRunError, match="PermissionDeniedError"):
        athena.procedures.run("run/writer", topic="deploys")
    assert texts(athena, "deploys", "run:reader") == []
    with athena.bound(scope="run:writer"):
        assert athena.procedures.run("run/writer", topic="deploys") == ["looked into deploys"]


def test_the_run_happens_in_the_callers_bound_scope(athena: Athena) -> None:
    admitted(athena, "run/scoped")
    with athena.bound(scope="team:a"):
        assert athena.procedures.run("run/scoped", topic="billing") == ["looked into billing"]
    result = athena.execute("import athena\nathena.procedures.run('run/scoped', "
                            "topic='billing')", scope="team:b")
    assert result.ok, result.error
    assert result.value == ["looked into billing"]  # team:b holds only its own memory
    assert texts(athena, "billing", "team:a") == ["looked into billing"]
    assert texts(athena, "billing", "team:b") == ["looked into billing"]
    assert texts(athena, "billing", athena.config.memory.default_scope) == []


def test_each_run_is_audited_with_a_hash_of_its_inputs_and_never_their_text(
        athena: Athena) -> None:
    commit = admitted(athena, "run/audited")
    secret = "the-launch-codes-are-0000"
    output = athena.procedures.run("run/audited", topic=secret)
    record = runs_of(athena, "run/audited")[-1]
    assert record.status == "ok" and record.scope == athena.config.memory.default_scope
    assert record.details["commit"] == commit
    assert record.details["inputs_sha256"] == inputs_digest({"topic": secret})
    assert record.details["output_bytes"] == len(json.dumps(output).encode())
    assert record.duration_ms is not None and record.duration_ms > 0
    assert record.payload is None
    assert secret not in json.dumps(record.to_dict(), default=str)
    assert athena.audit.verify().ok


def test_runs_are_counted_and_successful_runs_raise_confidence(athena: Athena) -> None:
    admitted(athena, "run/counted")
    before = athena.procedures.show("run/counted")
    assert (before["runs"], before["successes"], before["status"]) == (0, 0, "active")
    for number in range(5):
        athena.procedures.run("run/counted", topic=f"topic {number}")
    after = athena.procedures.show("run/counted")
    assert (after["runs"], after["successes"]) == (5, 5)
    assert after["confidence"] > before["confidence"]
    with pytest.raises(InvalidArgumentError):
        athena.procedures.run("run/counted", topic=1)  # refused, not a run
    assert athena.procedures.show("run/counted")["runs"] == 5


RECURSE = '''\
import athena


def run(n: int) -> int:
    """Count down by running itself n more times."""
    if n <= 0:
        return 0
    return 1 + athena.procedures.run("run/recurse", n=n - 1)
'''
RECURSE_TESTS = '''\
from main import run


def test_zero_needs_no_inner_run() -> None:
    assert run(0) == 0
'''


def test_procedures_run_procedures_up_to_the_depth_limit(athena: Athena) -> None:
    admitted(athena, "run/recurse", RECURSE, RECURSE_TESTS, permissions=["procedures.run"],
             examples=[{"inputs": {"n": 0}, "expected": 0}])
    deepest = MAX_DEPTH - 1
    assert athena.procedures.run("run/recurse", n=deepest) == deepest
    assert max(record.details["depth"] for record in runs_of(athena, "run/recurse")) \
        == MAX_DEPTH
    with pytest.raises(ProcedureRunError):
        athena.procedures.run("run/recurse", n=MAX_DEPTH)
    innermost = [record for record in runs_of(athena, "run/recurse")
                 if record.status == "error" and record.details["depth"] == MAX_DEPTH]
    assert innermost and innermost[-1].details["error"].startswith("ProcedureDepthError")


def test_ids_up_to_the_models_length_and_long_code_are_accepted(athena: Athena) -> None:
    # procedure ids are longer than memory ids, and code longer than a memory's text
    long_id = "n" * 64 + "/" + "m" * 64
    padding = "".join(f"\n\ndef helper_{n}() -> int:\n    return {n}\n" for n in range(600))
    saved = athena.procedures.save(long_id, "Note a topic and recall it.", NOTE + padding,
                                   NOTE_TESTS, permissions=NOTE_PERMISSIONS)
    assert len(NOTE + padding) > 20_000
    assert athena.procedures.show(long_id)["commit"] == saved["commit"]
    assert [entry["id"] for entry in athena.procedures.list("n" * 64)] == [long_id]
    with pytest.raises(InvalidArgumentError):
        athena.procedures.list("a" * 2_000)
