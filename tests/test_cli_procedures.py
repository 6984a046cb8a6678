"""``athena procedures ...``, run for real as a subprocess against a temporary data dir.

Procedures are saved into the data dir with the Python API first; the command then reads,
versions, validates, runs, exports and imports them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from athena_core import Athena
from tests.sandbox import require_sandbox
from tests.test_cli import _env, athena, ok_json

ID = "notes/recent"
CODE = '''\
def run(topic: str, days: int = 7) -> list[str]:
    """The notes about a topic from the last few days."""
    return [f"{topic}: nothing new in {days} days"]
'''
CODE_2 = CODE.replace("nothing new", "no news")
TESTS = '''\
from main import run


def test_run() -> None:
    assert run("deploys", 1) == ["deploys: nothing new in 1 days"]
'''


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir holding two versions of ``notes/recent`` (the second with failing
    tests), saved with the Python API under the environment the command runs with."""
    home = tmp_path / "home"
    monkeypatch.setenv("ATHENA_RETRIEVAL_EMBEDDER", "hashing")
    with Athena.open(home) as opened:
        for code in (CODE, CODE_2):
            opened.procedures.save(ID, "List recent notes on a topic; use before work on it.",
                                   code, TESTS, tags=["notes"],
                                   examples=[{"inputs": {"topic": "alerts"}}],
                                   message=f"version {code.count('no news') + 1}")
    return home


def commits(home: Path) -> list[str]:
    """The commits of ``notes/recent``, oldest first."""
    return [version["commit"] for version in reversed(ok_json(home, "procedures", "history",
                                                              ID))]


def test_list_show_and_history_in_text_and_json(home: Path) -> None:
    listed = ok_json(home, "procedures", "list", "--tag", "notes", "--status", "candidate")
    assert [item["id"] for item in listed] == [ID]
    assert ok_json(home, "procedures", "list", "--query", "nothing-like-this") == []
    text = athena(home, "procedures", "list")
    assert text.returncode == 0 and ID in text.stdout and "candidate" in text.stdout

    shown = ok_json(home, "procedures", "show", ID)
    assert shown["status"] == "candidate" and shown["input_schema"]["required"] == ["topic"]
    text = athena(home, "procedures", "show", ID)
    assert text.returncode == 0 and "status: candidate" in text.stdout

    history = ok_json(home, "procedures", "history", ID)
    assert [(v["number"], v["message"].strip()) for v in history] == [(2, "version 2"),
                                                                       (1, "version 1")]
    text = athena(home, "procedures", "history", ID)
    assert text.returncode == 0
    assert text.stdout.index("#2") < text.stdout.index("#1")
    assert "validated: never" in text.stdout


def test_diff_between_two_versions(home: Path) -> None:
    first, second = commits(home)
    proc = athena(home, "procedures", "diff", ID, first[:10], second)
    assert proc.returncode == 0, proc.stderr
    assert f"--- a/{ID}/main.py" in proc.stdout
    assert '-    return [f"{topic}: nothing new in {days} days"]' in proc.stdout
    assert '+    return [f"{topic}: no news in {days} days"]' in proc.stdout
    data = ok_json(home, "procedures", "diff", ID, first, second)
    assert data == {"diff": proc.stdout}
    assert ok_json(home, "procedures", "diff", ID, first, first) == {"diff": ""}


def test_rollback_is_a_new_candidate_commit(home: Path) -> None:
    first, second = commits(home)
    proc = athena(home, "procedures", "rollback", ID, first, "--message", "v2 was wrong")
    assert proc.returncode == 0, proc.stderr
    assert "candidate until validated" in proc.stdout
    third = commits(home)[-1]
    assert third not in (first, second)
    assert ok_json(home, "procedures", "diff", ID, first, third) == {"diff": ""}
    newest = ok_json(home, "procedures", "history", ID)[0]
    assert (newest["number"], newest["status"], newest["message"].strip()) == (
        3, "candidate", "v2 was wrong")


def test_export_then_import_round_trips(home: Path, tmp_path: Path) -> None:
    first = commits(home)[0]
    exported = ok_json(home, "procedures", "export", ID, str(tmp_path / "skills"),
                       "--commit", first)
    folder = Path(exported["folder"])
    assert folder.name == "notes-recent" and (folder / "SKILL.md").is_file()
    assert (folder / "scripts" / "main.py").read_text(encoding="utf-8") == CODE

    other = tmp_path / "other"
    proc = athena(other, "procedures", "import", str(folder), "--namespace", "team")
    assert proc.returncode == 0, proc.stderr
    assert "saved team/recent" in proc.stdout and "candidate" in proc.stdout
    assert "warning:" not in proc.stderr
    shown = ok_json(other, "procedures", "show", "team/recent")
    assert shown["status"] == "candidate" and shown["tags"] == ["notes"]
    again = ok_json(other, "procedures", "export", "team/recent", str(tmp_path / "again"))
    assert (Path(again["folder"]) / "scripts" / "main.py").read_text(encoding="utf-8") == CODE


def test_import_prints_the_warnings_of_a_lenient_import(tmp_path: Path) -> None:
    skill = tmp_path / "release-notes"
    skill.mkdir()
    (skill / "SKILL.md").write_text("---\nname: release-notes\ndescription: Draft release "
                                    "notes. Use when a version is tagged.\n---\nSteps.\n",
                                    encoding="utf-8")
    home = tmp_path / "home"
    proc = athena(home, "procedures", "import", str(skill))
    assert proc.returncode == 0, proc.stderr
    assert "warning: it has no tests" in proc.stderr
    data = ok_json(home, "procedures", "import", str(skill))   # the same version again
    assert data["id"] == "skills/release-notes" and data["status"] == "candidate"
    assert any("no tests" in warning for warning in data["warnings"])


def test_an_unknown_id_is_an_error_without_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for command in (["show", "no/such"], ["history", "no/such"], ["run", "no/such"],
                    ["diff", "no/such", "abcd", "0123"], ["export", "no/such", str(tmp_path)]):
        proc = athena(home, "procedures", *command)
        assert proc.returncode == 1, (command, proc.stderr)
        assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
        data = json.loads(athena(home, "procedures", *command, "--json").stdout)
        assert data["error"]["type"] == "ProcedureNotFoundError"


def test_a_candidate_does_not_run_and_bad_inputs_are_usage_errors(home: Path) -> None:
    proc = athena(home, "procedures", "run", ID, "--input", 'topic="x"')
    assert proc.returncode == 1 and "no active version" in proc.stderr
    proc = athena(home, "procedures", "run", ID, "--input", "topic=not json")
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr
    proc = athena(home, "procedures", "run", ID, "--input", 'topic="x"',
                  "--inputs-json", '{"topic": "y"}')
    assert proc.returncode == 2 and "given twice" in proc.stderr


def test_every_subcommand_has_help_with_an_example(tmp_path: Path) -> None:
    for command in ("list", "show", "history", "diff", "rollback", "validate", "run",
                    "export", "import", "learn", "approve"):
        proc = athena(tmp_path, "procedures", command, "--help")
        assert proc.returncode == 0 and "--json" in proc.stdout
        assert f"example:\n  athena procedures {command}" in proc.stdout


@require_sandbox()
def test_validate_then_run(home: Path) -> None:
    first, _ = commits(home)
    failed = athena(home, "procedures", "validate", ID)   # version 2 fails its test
    assert failed.returncode == 1, failed.stderr
    assert "[fail] tests" in failed.stdout and "[fail] test_run" in failed.stdout
    assert "stays a candidate" in failed.stdout

    passed = athena(home, "procedures", "validate", ID, "--commit", first)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "[pass] tests: 1 of 1 passed\n    [pass] test_run\n[pass] dry_run" in passed.stdout
    assert f"{ID} {first[:12]}: active" in passed.stdout
    assert passed.stderr == ""   # no spinner when stderr is not a terminal

    proc = athena(home, "procedures", "run", ID, "--input", 'topic="deploys"',
                  "--input", "days=2")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ["deploys: nothing new in 2 days"]
    result = ok_json(home, "procedures", "run", ID, "--inputs-json", '{"topic": "x"}')
    assert result == {"id": ID, "value": ["x: nothing new in 7 days"]}
    assert ok_json(home, "procedures", "show", ID)["runs"] == 2


# --- learn ----------------------------------------------------------------------------------

LEARNED_PROGRAM = """\
import athena

hits = athena.recall({query!r}, k=3)
athena.remember({note!r})
[hit.text for hit in hits]
"""


def recorded_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Path:
    """A data dir whose audit log holds three runs of one program with different literals."""
    home = tmp_path / "learn"
    monkeypatch.setenv("ATHENA_RETRIEVAL_EMBEDDER", "hashing")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with Athena.open(home) as opened:
        for query in ("deploys", "backups", "billing"):
            assert opened.execute(LEARNED_PROGRAM.format(query=query,
                                                         note=f"looked into {query}")).ok
    return home


@require_sandbox()
def test_learn_dry_run_proposes_and_saves_nothing(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    home = recorded_home(tmp_path, monkeypatch)
    [proposal] = ok_json(home, "procedures", "learn", "--dry-run")
    assert proposal["status"] == "proposed" and proposal["commit"] is None
    assert [p["name"] for p in proposal["parameters"]] == ["query", "text"]
    assert [run["inputs"]["query"] for run in proposal["evidence"]["runs"]] == [
        "deploys", "backups", "billing"]
    assert ok_json(home, "procedures", "list") == []
    text = athena(home, "procedures", "learn", "--dry-run")
    assert text.returncode == 0, text.stderr
    assert "query (str): 'deploys', 'backups', 'billing'" in text.stdout
    assert "not saved (--dry-run)" in text.stdout
    assert ok_json(home, "procedures", "learn", "--dry-run", "--min-runs", "4") == []
    assert ok_json(home, "procedures", "learn", "--dry-run", "--scope", "elsewhere") == []


@require_sandbox()
def test_learn_verifies_and_prints_the_evidence_and_the_result(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = recorded_home(tmp_path, monkeypatch)
    proc = athena(home, "procedures", "learn")
    assert proc.returncode == 0, proc.stderr
    assert "from 3 successful runs" in proc.stdout
    assert "[pass] tests: 3 of 3 passed" in proc.stdout
    assert "    [pass] test_source_run_1" in proc.stdout
    assert ": active" in proc.stdout
    assert proc.stderr == ""   # no progress bar when stderr is not a terminal
    [listed] = ok_json(home, "procedures", "list")
    assert listed["status"] == "active" and listed["source"] == "learned"
    [again] = ok_json(home, "procedures", "learn")
    assert again["status"] == "active" and again["id"] == listed["id"]


@require_sandbox()
def test_learn_with_require_approval_then_approve(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    home = recorded_home(tmp_path, monkeypatch)
    env = _env(home, ATHENA_PROCEDURES_REQUIRE_APPROVAL="true")
    [learned] = ok_json(home, "procedures", "learn", env=env)
    assert learned["status"] == "candidate" and learned["awaiting_approval"] is True
    proc = athena(home, "procedures", "learn", env=env)
    assert "awaiting approval: athena procedures approve" in proc.stdout
    approved = ok_json(home, "procedures", "approve", learned["id"])
    assert approved["status"] == "active" and approved["commit"] == learned["commit"]


def test_learn_without_program_text_says_there_is_nothing_to_learn(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _env(home, ATHENA_AUDIT_KEEP_PROGRAMS="false")
    proc = athena(home, "procedures", "learn", env=env)
    assert proc.returncode == 1
    assert "keep_programs" in proc.stderr and "Traceback" not in proc.stderr
