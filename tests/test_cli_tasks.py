"""``athena tasks``: every prospective operation from the command line, with ``--json``,
and ``athena tick``; errors are the operations' own typed errors, with exit status 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import athena, ok_json


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_an_intentions_life_from_the_command_line(home: Path) -> None:
    goal = ok_json(home, "tasks", "add", "ship the release", "--kind", "goal")
    first = ok_json(home, "tasks", "add", "write the notes", "--parent", goal["id"])
    second = ok_json(home, "tasks", "add", "tag the build", "--priority", "high")
    waiting = ok_json(home, "tasks", "depend", second["id"], "--on", first["id"])
    assert waiting["waiting"] == [first["id"]]
    refused = athena(home, "tasks", "start", second["id"])
    assert refused.returncode != 0 and "wait" in refused.stderr
    assert ok_json(home, "tasks", "start", first["id"])["status"] == "active"
    assert ok_json(home, "tasks", "done", first["id"])["status"] == "done"
    assert ok_json(home, "tasks", "start", second["id"])["status"] == "active"
    failed = ok_json(home, "tasks", "fail", second["id"], "--reason", "the CI is red")
    assert failed["status"] == "failed"
    assert ok_json(home, "tasks", "get", second["id"])["outcome"] == "the CI is red"
    assert {item["id"] for item in ok_json(home, "tasks", "list")} == {
        goal["id"], first["id"], second["id"]}


def test_an_announcement_fires_a_reminder_once_and_due_delivers_nothing_twice(
        home: Path) -> None:
    reminder = ok_json(home, "tasks", "add", "check the rollback", "--kind", "reminder",
                       "--when", '{"keyword": "deploy"}')
    fired = ok_json(home, "tasks", "triggered", "--text", "the deploy failed",
                    "--key", "deploy-1")
    assert [run["task"] for run in fired] == [reminder["id"]]
    again = ok_json(home, "tasks", "triggered", "--text", "the deploy failed",
                    "--key", "deploy-1")
    assert again == []
    assert ok_json(home, "tasks", "due") == []  # delivered already, to the announcer
    runs = ok_json(home, "tasks", "runs", reminder["id"])
    assert len(runs) == 1 and runs[0]["delivered_to"]
    assert ok_json(home, "tick") == {"triggers": 0, "runs": 0, "overdue": 0}


def test_bad_input_is_a_typed_error_and_stores_nothing(home: Path) -> None:
    bad = athena(home, "tasks", "add", "never", "--cron", "61 * * * *")
    assert bad.returncode == 1 and "minute" in bad.stderr.lower()
    unknown = athena(home, "tasks", "add", "never", "--at", "09:00", "--zone", "Mars/Olympus")
    assert unknown.returncode == 1 and "Mars/Olympus" in unknown.stderr
    assert ok_json(home, "tasks", "list") == []
