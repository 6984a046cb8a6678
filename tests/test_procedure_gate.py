"""Verify before admit: static checks, tests and a dry run in the sandbox, then the catalog.

One Athena, repository and catalog serve the module: each case saves its own procedure.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from athena_core import Athena
from athena_core.errors import InvalidArgumentError
from athena_core.procedures import (
    Procedure,
    ProcedureCatalog,
    ProcedureRepository,
    RunStats,
    TestOutcome,
    ValidationCheck,
    ValidationReport,
    admit,
    confidence,
    procedure_policy,
)
from athena_core.storage.models import MemoryRow
from tests.conftest import _empty_database, make_config
from tests.sandbox import require_sandbox

GOOD = '''\
import athena


def run(topic: str) -> list[str]:
    """Note that the topic was looked into; return what is remembered about it."""
    athena.remember(f"looked into {topic}")
    return sorted(hit.text for hit in athena.recall(topic, k=5))
'''
GOOD_TESTS = '''\
import athena
from main import run


def test_a_topic_is_remembered_and_recalled() -> None:
    assert run("deploys") == ["looked into deploys"]


def test_the_memory_is_in_the_scope() -> None:
    assert athena.recall("deploys", k=1)[0].text == "looked into deploys"


def test_two_topics_are_kept_apart() -> None:
    assert "looked into backups" in run("backups")


def test_a_topic_looked_into_twice_is_remembered_twice() -> None:
    assert run("billing") == ["looked into billing"]
    assert run("billing") == ["looked into billing", "looked into billing"]


def test_the_result_is_a_list_of_strings() -> None:
    assert all(isinstance(text, str) for text in run("alerts"))
'''
EXAMPLES = [{"inputs": {"topic": "deploys"}, "expected": ["looked into deploys"]},
            {"inputs": {"topic": "backups"}}]
PERMISSIONS = ["remember", "recall"]


@pytest.fixture(scope="module")
def athena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Athena]:
    _empty_database()
    with Athena.open(config=make_config(tmp_path_factory.mktemp("gate"))) as opened:
        yield opened


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcedureRepository]:
    with ProcedureRepository.open(tmp_path_factory.mktemp("git") / "procedures.git") as opened:
        yield opened


@pytest.fixture(scope="module")
def catalog(athena: Athena, repository: ProcedureRepository) -> ProcedureCatalog:
    assert athena.storage is not None
    return ProcedureCatalog.open(athena.storage, repository)


def save(catalog: ProcedureCatalog, id: str, code: str = GOOD, tests: str = GOOD_TESTS, *,
         permissions: list[str] = PERMISSIONS, examples: Any = EXAMPLES,
         test_permissions: tuple[str, ...] = ()) -> str:
    procedure = Procedure.from_code(code, id=id, description="Note a topic and recall it.",
                                    permissions=permissions, examples=examples,
                                    test_permissions=test_permissions)
    return catalog.save(procedure, code, tests, author="alice", message="a version").commit


def scratch_rows(athena: Athena) -> int:
    assert athena.storage is not None
    with athena.storage.read() as session:
        return session.scalar(select(func.count()).select_from(MemoryRow)
                              .where(MemoryRow.scope.startswith("_verify/"))) or 0


def check(report: ValidationReport, name: str) -> ValidationCheck:
    return next(check for check in report.checks if check.name == name)


def refused(athena: Athena, catalog: ProcedureCatalog, repository: ProcedureRepository,
            id: str, **version: Any) -> ValidationReport:
    """Admit a version that must be refused; return its report."""
    commit = save(catalog, id, **version)
    record = admit(athena, catalog, repository, id, commit)
    assert record.status == "candidate" and catalog.get(id).status == "candidate"
    assert catalog.get(id).active_commit is None
    assert record.validation is not None and not record.validation.passed
    assert catalog.version(id, commit).validation == record.validation
    return record.validation


# --- the gate in the sandbox -----------------------------------------------------------------

@require_sandbox()
def test_a_sound_procedure_is_admitted_and_the_scratch_scope_is_forgotten(
        athena: Athena, catalog: ProcedureCatalog, repository: ProcedureRepository) -> None:
    mine = athena.remember("looked into deploys", scope="project:web")
    commit = save(catalog, "notes/looked-into")
    record = admit(athena, catalog, repository, "notes/looked-into", commit)
    report = record.validation
    assert report is not None and report.passed, report
    assert record.status == "active" and catalog.get("notes/looked-into").active_commit == commit
    assert [c.name for c in report.checks] == [
        "static.syntax", "static.signature", "static.imports", "static.operations",
        "static.names", "static.stub", "tests", "dry_run"]
    assert report.tests == tuple(TestOutcome(name, True) for name in (
        "test_a_topic_is_remembered_and_recalled", "test_the_memory_is_in_the_scope",
        "test_two_topics_are_kept_apart", "test_a_topic_looked_into_twice_is_remembered_twice",
        "test_the_result_is_a_list_of_strings"))
    assert check(report, "tests").detail == "5 of 5 passed"
    assert check(report, "dry_run").detail == "2 of 2 examples succeeded"
    # The tests and the dry run wrote and recalled memories, in scratch scopes that are gone;
    # the caller's scope saw none of it (a test recalling "deploys" found only its own).
    assert scratch_rows(athena) == 0
    assert [hit.id for hit in athena.recall("looked into", scope="project:web")] == [mine]
    assert athena.recall("looked into") == []  # nor the default scope


@require_sandbox()
def test_a_failing_new_version_stays_a_candidate_and_the_active_one_stays(
        athena: Athena, catalog: ProcedureCatalog, repository: ProcedureRepository) -> None:
    first = save(catalog, "notes/kept-active")
    assert admit(athena, catalog, repository, "notes/kept-active", first).status == "active"
    broken = save(catalog, "notes/kept-active", GOOD.replace("looked into {topic}",
                                                             "saw {topic}"))
    record = admit(athena, catalog, repository, "notes/kept-active", broken)
    assert record.status == "candidate"
    assert record.validation is not None and record.validation.failed_stages == ("tests",)
    entry = catalog.get("notes/kept-active")
    assert (entry.status, entry.active_commit) == ("active", first)


@require_sandbox()
def test_importing_socket_fails_the_static_stage(athena, catalog, repository) -> None:
    report = refused(athena, catalog, repository, "bad/socket",
                     code=GOOD.replace("import athena\n", "import athena\nimport socket\n"))
    assert report.failed_stages == ("static",)
    assert "imports socket" in check(report, "static.imports").detail
    assert check(report, "tests").skipped and check(report, "dry_run").skipped
    assert report.tests == ()


@require_sandbox()
def test_calling_an_operation_outside_the_permissions_fails_the_static_stage(
        athena, catalog, repository) -> None:
    code = GOOD.replace("    return sorted", "    athena.forget(everything=True)\n"
                                            "    return sorted")
    report = refused(athena, catalog, repository, "bad/forgets", code=code)
    assert report.failed_stages == ("static",)
    assert check(report, "static.operations").detail == (
        "main.py line 7: calls athena.forget, which the manifest's permissions do not list")


# A test that arranges a memory with an operation the procedure's code never calls.
ARRANGING_TESTS = GOOD_TESTS + '''

def test_a_run_after_a_recorded_event_still_notes_the_topic() -> None:
    athena.episodic.record("looked into deploys", kind="note")
    assert "looked into deploys" in run("deploys")
'''


@require_sandbox()
def test_tests_may_call_their_test_permissions_and_the_code_may_not(
        athena, catalog, repository) -> None:
    report = refused(athena, catalog, repository, "arrange/undeclared", tests=ARRANGING_TESTS)
    assert check(report, "static.operations").detail == (
        "test_main.py line 27: calls athena.episodic.record, which the manifest's "
        "permissions do not list")
    commit = save(catalog, "arrange/declared", tests=ARRANGING_TESTS,
                  test_permissions=("episodic.record",))
    record = admit(athena, catalog, repository, "arrange/declared", commit)
    assert record.status == "active", record.validation
    code = GOOD.replace("    return sorted", "    athena.episodic.record('note', topic)\n"
                                            "    return sorted")
    report = refused(athena, catalog, repository, "arrange/in-code", code=code,
                     tests=ARRANGING_TESTS, test_permissions=("episodic.record",))
    assert check(report, "static.operations").detail == (
        "main.py line 7: calls athena.episodic.record, which the manifest's permissions do "
        "not list")


@require_sandbox()
def test_a_stub_with_a_todo_fails_the_static_stage(athena, catalog, repository) -> None:
    stub = ('def run(topic: str) -> list[str]:\n    """Recall a topic."""\n'
            '    # TODO: recall the topic\n    raise NotImplementedError\n')
    report = refused(athena, catalog, repository, "bad/stub", code=stub)
    assert report.failed_stages == ("static",)
    assert check(report, "static.stub").detail == (
        "main.py line 1: run() is a stub (its body does nothing); "
        "main.py line 3: a TODO/FIXME/XXX comment marks unfinished work")
    assert confidence(report) < 0.2


@require_sandbox()
def test_failing_tests_fail_the_tests_stage_naming_the_test(athena, catalog, repository) -> None:
    report = refused(athena, catalog, repository, "bad/wrong-result",
                     code=GOOD.replace("looked into {topic}", "saw {topic}"))
    assert report.failed_stages == ("tests",)
    failed = [outcome for outcome in report.tests if not outcome.passed]
    assert [outcome.name for outcome in failed] == [
        "test_a_topic_is_remembered_and_recalled", "test_the_memory_is_in_the_scope",
        "test_two_topics_are_kept_apart", "test_a_topic_looked_into_twice_is_remembered_twice"]
    assert failed[0].error == "AssertionError at test_main.py line 6"
    assert check(report, "tests").detail.startswith("1 of 5 passed; failed: ")
    assert check(report, "dry_run").skipped
    assert scratch_rows(athena) == 0


@require_sandbox()
def test_a_version_without_tests_is_untested_and_refused(athena, catalog, repository) -> None:
    report = refused(athena, catalog, repository, "bad/untested",
                     tests="from main import run\n")
    assert report.failed_stages == ("tests",)
    assert check(report, "tests").detail.startswith("untested")
    assert all(check(report, name).passed for name in ("static.syntax", "static.stub"))
    assert confidence(report) <= 0.2


@require_sandbox()
def test_a_dry_run_that_raises_fails_the_dry_run_stage(athena, catalog, repository) -> None:
    code = GOOD.replace('    athena.remember', '    if " " in topic:\n'
                        '        raise ValueError("one word please")\n    athena.remember')
    report = refused(athena, catalog, repository, "bad/dry-run", code=code,
                     examples=[{"inputs": {"topic": "two words"}}])
    assert report.failed_stages == ("dry_run",)
    assert check(report, "tests").passed
    assert check(report, "dry_run").detail == "example 1 raised ValueError at main.py line 7"


@require_sandbox()
def test_a_dry_run_with_another_output_than_expected_fails(athena, catalog, repository) -> None:
    report = refused(athena, catalog, repository, "bad/unexpected",
                     examples=[{"inputs": {"topic": "deploys"}, "expected": ["other"]}])
    assert report.failed_stages == ("dry_run",)
    assert check(report, "dry_run").detail == (
        "example 1 returned other than its expected output")


@require_sandbox()
def test_no_declared_examples_fails_the_dry_run(athena, catalog, repository) -> None:
    report = refused(athena, catalog, repository, "bad/no-examples", examples=[])
    assert report.failed_stages == ("dry_run",)


# --- static checks alone (no sandbox needed: they refuse before anything runs) ----------------

@pytest.mark.parametrize(("code", "name", "found"), [
    (GOOD.replace("import athena\n", "import os\nimport athena\n"), "static.imports",
     "imports os"),
    (GOOD.replace("import athena\n", "from subprocess import run as sh\nimport athena\n"),
     "static.imports", "imports subprocess"),
    (GOOD.replace("    return sorted", "    open('/etc/passwd')\n    return sorted"),
     "static.names", "uses open"),
    (GOOD.replace("    return sorted", "    eval(topic)\n    return sorted"),
     "static.names", "uses eval"),
    (GOOD.replace("    return sorted", "    getattr(athena, topic)()\n    return sorted"),
     "static.operations", "uses athena other than by calling a named operation"),
    (GOOD.replace("    return sorted", "    athena.nothing_like_this()\n    return sorted"),
     "static.operations", "names athena.nothing_like_this, which is no registered operation"),
    (GOOD.replace("    return sorted", "    keep = athena.remember\n    return sorted"),
     "static.operations", "uses athena.remember other than by calling it"),
    (GOOD.replace("    return sorted", "    object.__subclasses__()\n    return sorted"),
     "static.names", "dunder attribute __subclasses__"),
    (GOOD.replace("    athena.remember", "    # FIXME later\n    athena.remember"),
     "static.stub", "TODO/FIXME/XXX comment"),
    (GOOD + "\n\ndef helper() -> None:\n    ...\n", "static.stub", "helper() is a stub"),
])
def test_the_static_stage_finds(athena, code: str, name: str, found: str) -> None:
    from athena_core.procedures.gate import verify

    procedure = Procedure.from_code(code, id="bad/static", description="Bad.",
                                    permissions=PERMISSIONS, examples=EXAMPLES)
    revision = _revision(procedure, code, GOOD_TESTS)
    report = verify(athena, revision)
    assert report.failed_stages == ("static",)
    assert found in check(report, name).detail


def test_a_test_with_an_empty_body_is_a_stub(athena) -> None:
    from athena_core.procedures.gate import verify

    tests = GOOD_TESTS + "\n\ndef test_nothing() -> None:\n    pass\n"
    procedure = Procedure.from_code(GOOD, id="bad/static", description="Bad.",
                                    permissions=PERMISSIONS, examples=EXAMPLES)
    report = verify(athena, _revision(procedure, GOOD, tests))
    assert "test_nothing() is a stub" in check(report,
                                                                     "static.stub").detail


def test_a_declared_permission_that_is_no_operation_fails(athena) -> None:
    from athena_core.procedures.gate import verify

    procedure = Procedure.from_code(GOOD, id="bad/static", description="Bad.",
                                    permissions=[*PERMISSIONS, "semantic.recall"],
                                    examples=EXAMPLES)
    report = verify(athena, _revision(procedure, GOOD, GOOD_TESTS))
    assert check(report, "static.operations").detail.startswith(
        "declares semantic.recall, which is no registered operation")


def test_the_policy_is_the_strict_preset_narrowed_to_the_declared_operations(athena) -> None:
    policy = procedure_policy(athena, ["recall", "remember", "execute", "unknown"])
    assert policy.api == ("recall", "remember")  # execute is never granted to programs
    assert policy.permissions == ("read", "write")
    assert policy.network_domains == () and policy.write_paths == ()
    assert procedure_policy(athena, []).api == ()


def _revision(procedure: Procedure, code: str, tests: str) -> Any:
    from athena_core.procedures import Revision

    return Revision(commit="0" * 40, author="alice", message="m",
                    created_at=datetime(2026, 12, 1, tzinfo=UTC), procedure=procedure,
                    code=code, tests=tests)


# --- confidence ------------------------------------------------------------------------------

def _report(*checks: bool, tests: int = 0, passed: int = 0) -> ValidationReport:
    return ValidationReport(
        checks=[ValidationCheck(f"c{i}", ok) for i, ok in enumerate(checks)],
        checked_at=datetime(2026, 12, 1, tzinfo=UTC),
        tests=[TestOutcome(f"test_{i}", i < passed) for i in range(tests)])


def test_confidence_is_low_unless_verified_and_grows_with_tests_and_successful_runs() -> None:
    untested = _report(True, True, True, True, True, True, False, False)
    assert confidence(untested) <= 0.2
    assert confidence(untested, RunStats(1000, 1000)) <= 0.2  # runs do not rescue it
    assert confidence(None) == 0.0
    assert confidence(_report(True, False, tests=5, passed=4)) < 0.2
    five = confidence(_report(True, tests=5, passed=5))
    assert 0.4 <= five <= 0.6
    assert confidence(_report(True, tests=1, passed=1)) < five
    assert confidence(_report(True, tests=5, passed=5), RunStats(10, 10)) > five
    many = confidence(_report(True, tests=5, passed=5), RunStats(200, 200))
    assert many > 0.9
    assert confidence(_report(True, tests=5, passed=5), RunStats(200, 20)) < 0.2
    assert 0.0 <= confidence(_report(True, tests=50, passed=50), RunStats(10**6, 10**6)) <= 1.0


@pytest.mark.parametrize(("runs", "successes"), [(-1, 0), (3, 4), (2, -1), (True, 0)])
def test_run_stats_refuse_impossible_counts(runs: Any, successes: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        RunStats(runs, successes)


def test_a_report_with_tests_and_skipped_checks_round_trips() -> None:
    import json

    report = ValidationReport(
        checks=[ValidationCheck("static.imports", False, "main.py line 1: imports os"),
                ValidationCheck("tests", False, "not run", skipped=True)],
        checked_at=datetime(2026, 12, 1, tzinfo=UTC),
        tests=[TestOutcome("test_a", False, "AssertionError at test_main.py line 3")])
    assert ValidationReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    assert report.failed_stages == ("static",)


def test_examples_round_trip_through_the_manifest(tmp_path: Path) -> None:
    procedure = Procedure.from_code(GOOD, id="notes/looked-into", description="d",
                                    examples=EXAMPLES)
    text = procedure.to_manifest()
    assert Procedure.from_manifest(text) == procedure
    assert '"examples": [\n    {\n      "inputs": {\n        "topic": "deploys"' in text
    assert procedure.examples[1].to_dict() == {"inputs": {"topic": "backups"}}
    with pytest.raises(InvalidArgumentError, match="examples"):
        Procedure.from_code(GOOD, id="a/b", description="d", examples=[{"topic": "x"}])
    with pytest.raises(InvalidArgumentError, match="examples"):
        Procedure.from_code(GOOD, id="a/b", description="d",
                            examples=[{"inputs": {"topic": float("nan")}}])
