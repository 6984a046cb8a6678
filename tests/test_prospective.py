"""Prospective memory: intentions, time triggers after downtime, event and context
triggers on the write path, delivery, and bad input that stores nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from athena_core import Athena
from athena_core._time import utcnow
from athena_core.errors import (
    DependencyCycleError,
    InvalidArgumentError,
    ScheduleError,
    TaskNotFoundError,
    TriggerInPastError,
    UnknownTimeZoneError,
)
from athena_core.prospective.schedule import Schedule
from tests.conftest import _empty_database, make_config


@pytest.fixture(autouse=True)
def empty_database() -> None:
    """Each test starts from an empty database (on PostgreSQL, one is shared)."""
    _empty_database()


@pytest.fixture
def athena(tmp_path: Path) -> Any:
    with Athena.open(config=make_config(tmp_path)) as instance:
        yield instance


def schedule(**kwargs: Any) -> Schedule:
    return Schedule.create(now=datetime(2020, 1, 1, tzinfo=UTC), **kwargs)


def fires(s: Schedule, after: datetime, count: int) -> list[str]:
    found, instant = [], after
    for _ in range(count):
        instant = s.next_after(instant)
        assert instant is not None
        found.append(instant.strftime("%Y-%m-%dT%H:%M"))
    return found


# --- clock changes: the declared behaviour ------------------------------------------------

def test_fixed_cron_fires_a_skipped_time_after_the_gap_and_a_repeated_one_once() -> None:
    berlin = schedule(cron="30 2 * * *", zone="Europe/Berlin")
    # 2026-03-29: 02:00 -> 03:00 (CET -> CEST); 2026-10-25: 03:00 -> 02:00.
    assert fires(berlin, datetime(2026, 3, 27, 12, tzinfo=UTC), 3) == [
        "2026-03-28T01:30", "2026-03-29T01:00", "2026-03-30T00:30"]
    assert fires(berlin, datetime(2026, 10, 24, 12, tzinfo=UTC), 2) == [
        "2026-10-25T00:30", "2026-10-26T01:30"]


def test_wildcard_cron_follows_the_clock_through_both_changes() -> None:
    hourly = schedule(cron="0 * * * *", zone="America/New_York")
    # 2026-11-01 01:00 EDT (05:00Z) and 01:00 EST (06:00Z) are both hours of the clock.
    assert fires(hourly, datetime(2026, 11, 1, 4, 30, tzinfo=UTC), 3) == [
        "2026-11-01T05:00", "2026-11-01T06:00", "2026-11-01T07:00"]
    # 2026-03-08: 02:00 EST does not exist; 01:00 EST (06:00Z) is followed by 03:00 EDT.
    assert fires(hourly, datetime(2026, 3, 8, 5, 30, tzinfo=UTC), 2) == [
        "2026-03-08T06:00", "2026-03-08T07:00"]


def test_rrule_follows_rfc_5545_at_a_gap_and_fires_a_repeated_time_once() -> None:
    rule = schedule(rrule="FREQ=DAILY", start="2026-03-27T02:30", zone="Europe/Berlin")
    # RFC 5545 3.3.5: 02:30 on 03-29 is read with the offset before the gap: 03:30 CEST.
    assert fires(rule, datetime(2026, 3, 27, tzinfo=UTC), 3) == [
        "2026-03-27T01:30", "2026-03-28T01:30", "2026-03-29T01:30"]
    autumn = schedule(rrule="FREQ=HOURLY;BYHOUR=1,2", start="2026-10-24T00:00",
                      zone="America/New_York")
    assert fires(autumn, datetime(2026, 11, 1, 4, tzinfo=UTC), 2) == [
        "2026-11-01T05:00", "2026-11-01T07:00"]


def test_half_hour_and_quarter_hour_zones() -> None:
    lord_howe = schedule(cron="15 2 * * *", zone="Australia/Lord_Howe")
    # 2026-10-04 02:00 -> 02:30 (+10:30 -> +11): 02:15 fires at 02:30 local = 15:30Z.
    assert fires(lord_howe, datetime(2026, 10, 3, 12, tzinfo=UTC), 1) == ["2026-10-03T15:30"]
    kathmandu = schedule(at="2026-06-01T09:00", zone="Asia/Kathmandu")
    assert fires(kathmandu, datetime(2026, 1, 1, tzinfo=UTC), 1) == ["2026-06-01T03:15"]


def test_rrule_subset() -> None:
    last_weekday = schedule(rrule="FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
                            start="2026-01-01T17:00", zone="UTC")
    assert fires(last_weekday, datetime(2026, 1, 1, tzinfo=UTC), 3) == [
        "2026-01-30T17:00", "2026-02-27T17:00", "2026-03-31T17:00"]
    second_tuesday = schedule(rrule="FREQ=YEARLY;BYMONTH=3;BYDAY=2TU;COUNT=2",
                              start="2026-01-01T09:00", zone="UTC")
    assert fires(second_tuesday, datetime(2026, 1, 1, tzinfo=UTC), 2) == [
        "2026-03-10T09:00", "2027-03-09T09:00"]
    assert second_tuesday.next_after(datetime(2027, 3, 10, tzinfo=UTC)) is None


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "error", "says"), [
    ({"cron": "61 * * * *"}, ScheduleError, "0-59"),
    ({"cron": "0 0 L * *"}, ScheduleError, "Accepted"),
    ({"cron": "* * *"}, ScheduleError, "5"),
    ({"rrule": "FREQ=SECONDLY"}, ScheduleError, "Accepted"),
    ({"rrule": "FREQ=DAILY;BYWEEKNO=3"}, ScheduleError, "BYWEEKNO is not supported"),
    ({"rrule": "FREQ=WEEKLY;BYDAY=1MO"}, ScheduleError, "MONTHLY and YEARLY"),
    ({"rrule": "FREQ=DAILY;UNTIL=2030-01-01"}, ScheduleError, "UTC"),
    ({"at": "2020-01-01T00:00"}, TriggerInPastError, "never fire"),
    ({"rrule": "FREQ=DAILY;UNTIL=20200101T000000Z", "start": "2019-12-01T00:00"},
     TriggerInPastError, "never fire"),
    ({"cron": "0 9 * * *", "zone": "Mars/Olympus"}, UnknownTimeZoneError, "IANA"),
    ({"every": "soon"}, ScheduleError, "45 minutes"),
    ({"at": "in 5 minutes", "cron": "* * * * *"}, ScheduleError, "exactly one"),
    ({"when": {"colour": "red"}}, ScheduleError, "colour"),
    ({"when": {"keyword": "two words"}}, ScheduleError, "one word"),
    ({"at": "in 5 minutes", "misfire": "sometimes"}, InvalidArgumentError, "catch_up_all"),
])
def test_bad_triggers_are_refused_and_nothing_is_stored(athena: Any, kwargs: dict[str, Any],
                                                        error: type[Exception],
                                                        says: str) -> None:
    with pytest.raises(error) as caught:
        athena.prospective.add("water the plants", **kwargs)
    assert says in str(caught.value)
    assert athena.prospective.list() == []


def test_a_dependency_cycle_is_refused_and_nothing_is_stored(athena: Any) -> None:
    one = athena.prospective.add("one")["id"]
    two = athena.prospective.add("two", depends_on=[one])["id"]
    three = athena.prospective.add("three", depends_on=[two])["id"]
    with pytest.raises(DependencyCycleError):
        athena.prospective.depend(one, [three])
    with pytest.raises(DependencyCycleError):
        athena.prospective.depend(one, [one])
    assert athena.prospective.get(one)["depends_on"] == []


def test_unknown_and_other_scopes_ids(athena: Any) -> None:
    mine = athena.prospective.add("mine", scope="a")["id"]
    with pytest.raises(TaskNotFoundError):
        athena.prospective.done(mine, scope="b")
    with pytest.raises(TaskNotFoundError):
        athena.prospective.get("nope")


# --- lifecycle and dependencies ---------------------------------------------------------------

def test_a_task_never_fires_before_its_dependencies_are_done(athena: Any) -> None:
    first = athena.prospective.add("migrate the database")["id"]
    then = athena.prospective.add("announce the release", depends_on=[first],
                                  at="in 1 minute", misfire="coalesce_once")
    later = utcnow() + timedelta(minutes=30)
    athena.prospective.tick(now=later)
    assert athena.prospective.runs(then["id"]) == []
    assert athena.prospective.get(then["id"])["waiting"] == [first]
    with pytest.raises(InvalidArgumentError, match="waits for"):
        athena.prospective.start(then["id"])
    athena.prospective.done(first)
    athena.prospective.tick(now=later)
    runs = athena.prospective.runs(then["id"])
    assert [run["outcome"] for run in runs] == ["coalesced"]
    assert athena.prospective.get(then["id"])["status"] == "active"


def test_status_lifecycle_and_parent_goal(athena: Any) -> None:
    goal = athena.prospective.add("launch", kind="goal", priority="high")["id"]
    task = athena.prospective.add("write the post", parent=goal, priority="urgent")["id"]
    assert [item["id"] for item in athena.prospective.list(parent=goal)] == [task]
    assert athena.prospective.start(task)["status"] == "active"
    assert athena.prospective.fail(task, "the draft was lost")["status"] == "failed"
    with pytest.raises(InvalidArgumentError, match="already failed"):
        athena.prospective.done(task)
    with pytest.raises(InvalidArgumentError, match="must be a goal"):
        athena.prospective.add("sub", parent=task)
    assert athena.prospective.cancel(goal)["status"] == "cancelled"


def test_past_due_plus_grace_is_overdue_and_surfaced_once(athena: Any) -> None:
    task = athena.prospective.add("renew the certificate", due="in 1 hour", grace="10 minutes")
    athena.prospective.tick(now=utcnow() + timedelta(minutes=65))
    assert athena.prospective.get(task["id"])["status"] == "pending"
    athena.prospective.tick(now=utcnow() + timedelta(minutes=75))
    assert athena.prospective.get(task["id"])["status"] == "overdue"
    due = athena.prospective.due()
    assert [(entry["task"], entry["outcome"]) for entry in due] == [(task["id"], "overdue")]
    assert athena.prospective.due() == []
    assert athena.prospective.list(status="overdue")[0]["id"] == task["id"]


# --- downtime and misfire policies -------------------------------------------------------------

@pytest.mark.parametrize(("policy", "outcomes"), [
    ("catch_up_all", ["caught_up"] * 24),
    ("coalesce_once", ["coalesced"]),
    ("skip", ["skipped"]),
])
def test_a_day_of_downtime_follows_the_misfire_policy(tmp_path: Path, policy: str,
                                                      outcomes: list[str]) -> None:
    config = make_config(tmp_path)
    with Athena.open(config=config) as athena:
        task = athena.prospective.add("hourly check", cron="0 * * * *", misfire=policy,
                                      grace="5 minutes")
        first = datetime.fromisoformat(task["triggers"][0]["next_fire"])
    # The process is gone for a day; a new one ticks at the first instant plus 23.5 h.
    with Athena.open(config=config) as athena:
        athena.prospective.tick(now=first + timedelta(hours=23, minutes=30))
        runs = sorted(athena.prospective.runs(task["id"], limit=1000),
                      key=lambda run: run["scheduled_for"])
        assert [run["outcome"] for run in runs] == outcomes
        assert sum(run["instants"] for run in runs) == 24
        following = athena.prospective.get(task["id"])["triggers"][0]["next_fire"]
        assert datetime.fromisoformat(following) == first + timedelta(hours=24)


def test_two_processes_ticking_at_once_fire_each_instant_once(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with Athena.open(config=config) as athena:
        ids = [athena.prospective.add(f"job {n}", every="10 minutes",
                                      misfire="catch_up_all")["id"] for n in range(20)]
    later = utcnow() + timedelta(hours=2)
    instances = [Athena.open(config=config) for _ in range(3)]
    try:
        threads = [threading.Thread(target=instance.prospective.tick, kwargs={"now": later})
                   for instance in instances]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        runs = instances[0].prospective.runs(limit=10_000)
    finally:
        for instance in instances:
            instance.close()
    per_task = {task: [run["scheduled_for"] for run in runs if run["task"] == task]
                for task in ids}
    for instants in per_task.values():
        assert len(instants) == len(set(instants)) == 12


# --- event and context triggers ------------------------------------------------------------

def test_event_triggers_fire_on_matching_writes_only(athena: Any) -> None:
    deploy = athena.prospective.add("look at the deploy", kind="reminder",
                                    when={"kind": "error", "keyword": "deploy"})["id"]
    alice = athena.prospective.add("ask about Alice Smith", when={"entity": "Alice Smith"},
                                   once=False)["id"]
    athena.episodic.record("deployment went fine", kind="error")  # near miss: other word
    athena.episodic.record("deploy finished", kind="success")  # near miss: other kind
    athena.remember("Smith and Alice met")  # near miss: not the name in order
    assert athena.prospective.due() == []
    athena.episodic.record("The deploy failed again", kind="error")
    athena.remember("alice smith joined the team")
    athena.remember("Alice Smith left")
    fired = [entry["task"] for entry in athena.prospective.due()]
    assert sorted(fired) == sorted([deploy, alice, alice])


def test_context_and_operation_triggers(athena: Any) -> None:
    ctx = athena.prospective.add("mention the db migration", when={
        "path": "/srv/app", "tags": ["db"]})["id"]
    op = athena.prospective.add("summarise what was recalled",
                                when={"operation": "episodic.timeline"})["id"]
    athena.remember("schema notes", metadata={"path": "/srv/application", "tags": ["db"]})
    athena.remember("schema notes", metadata={"path": "/srv/app/models", "tags": ["ui"]})
    assert athena.prospective.due() == []
    athena.episodic.timeline()
    fired = athena.prospective.triggered(path="/srv/app/models/user.py", tags=["db", "x"])
    assert [entry["task"] for entry in fired] == [ctx]
    assert [entry["task"] for entry in athena.prospective.due()] == [op]


def test_a_hosts_direct_call_of_an_athena_method_is_announced_once(athena: Any) -> None:
    """``athena.remember(...)`` in a host is a method of Athena itself, not a registry
    call: it fires an operation trigger all the same, and a call through the registry
    fires it once, not twice."""
    task = athena.prospective.add("after remember", when={"operation": "remember"},
                                  once=False)["id"]
    athena.remember("direct from the host")
    assert [entry["task"] for entry in athena.prospective.due()] == [task]
    athena.api.get("remember")("through the registry")
    assert [entry["task"] for entry in athena.prospective.due()] == [task]


def test_an_operation_trigger_added_by_another_process_fires_at_the_next_call(
        tmp_path: Path) -> None:
    """What an instance knows about operation triggers is kept only until the database
    changes: a trigger another instance (another process, as far as the database is
    concerned) adds after this one looked fires at this one's very next call, and one
    it cancels stops firing at once."""
    config = make_config(tmp_path)
    with Athena.open(config=config) as here, Athena.open(config=config) as there:
        memory = here.remember("kept")
        here.api.get("get")(memory)  # here looks, and finds no trigger on get
        task = there.prospective.add("after get", when={"operation": "get"},
                                     once=False)["id"]
        here.api.get("get")(memory)
        assert [entry["task"] for entry in here.prospective.due()] == [task]
        there.prospective.cancel(task)
        here.api.get("get")(memory)
        assert here.prospective.due() == []


def test_announcing_the_same_event_twice_fires_once(athena: Any) -> None:
    task = athena.prospective.add("greet", when={"session": "standup"}, once=False)["id"]
    assert len(athena.prospective.triggered(session="standup", key="e1")) == 1
    assert athena.prospective.triggered(session="standup", key="e1") == []
    assert [run["task"] for run in athena.prospective.runs()] == [task]


def test_concurrent_writers_deliver_a_once_trigger_exactly_once(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with Athena.open(config=config) as athena:
        task = athena.prospective.add("first outage", when={"keyword": "outage"})["id"]
    instances = [Athena.open(config=config) for _ in range(4)]
    try:
        def write(instance: Athena, n: int) -> None:
            for k in range(5):
                instance.episodic.record(f"outage {n}-{k}", kind="error")

        threads = [threading.Thread(target=write, args=(instance, n))
                   for n, instance in enumerate(instances)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        runs = instances[0].prospective.runs(task)
    finally:
        for instance in instances:
            instance.close()
    assert len(runs) == 1


# --- export, import and forget ----------------------------------------------------------------

def test_export_import_and_forget_cover_intentions(tmp_path: Path) -> None:
    import io

    from athena_core.transfer import export_jsonl, import_jsonl

    with Athena.open(config=make_config(tmp_path / "one")) as athena:
        goal = athena.prospective.add("launch", kind="goal")["id"]
        first = athena.prospective.add("draft", parent=goal)["id"]
        athena.prospective.add("publish", depends_on=[first], cron="0 9 * * MON",
                               zone="Europe/Berlin")
        athena.prospective.add("on error", when={"kind": "error"}, once=False)
        athena.prospective.triggered(kind="error", key="e1")
        out = io.StringIO()
        export_jsonl(athena, out)
        before = athena.prospective.list()
    _empty_database()  # the second store starts empty on PostgreSQL too
    with Athena.open(config=make_config(tmp_path / "two")) as other:
        import_jsonl(other, io.BytesIO(out.getvalue().encode()))
        again = io.StringIO()
        export_jsonl(other, again)
        assert again.getvalue() == out.getvalue()
        assert other.prospective.list() == before
        other.episodic.record("it broke", kind="error")  # the imported cue still fires
        assert len(other.prospective.runs()) == 2
        assert other.forget(first) == 1
        assert [item["title"] for item in other.prospective.list()] == [
            "launch", "publish", "on error"]
        other.forget(subject="publish")
        other.forget(everything=True)
        assert other.prospective.list() == [] and other.prospective.runs() == []


def test_an_import_linking_to_another_scopes_intention_is_refused(tmp_path: Path) -> None:
    import io
    import json

    from athena_core.errors import ImportFormatError
    from athena_core.transfer import export_jsonl, import_jsonl

    with Athena.open(config=make_config(tmp_path)) as athena:
        theirs = athena.prospective.add("theirs", scope="A")["id"]
        athena.prospective.add("mine", scope="B")
        out = io.StringIO()
        export_jsonl(athena, out, scope="B")
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        lines[-1]["intention"]["id"] = "01J" + "A" * 23
        lines[-1]["intention"]["depends_on"] = [theirs]
        payload = "".join(json.dumps(line) + "\n" for line in lines)
        with pytest.raises(ImportFormatError, match="no intention of scope"):
            import_jsonl(athena, io.BytesIO(payload.encode()))
        assert [item["title"] for item in athena.prospective.list(scope="B")] == ["mine"]
