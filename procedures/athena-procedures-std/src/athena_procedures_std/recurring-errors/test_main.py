import athena
from main import run, signature


def _arrange() -> None:
    athena.episodic.record("connection refused to db-7 on port 5432", kind="error",
                           session="s1", occurred_at="2026-03-01T10:00:00Z")
    athena.episodic.record("restarted the database proxy", kind="fix", session="s1",
                           occurred_at="2026-03-01T10:05:00Z")
    athena.episodic.record("connection refused to db-9 on port 5433", kind="action",
                           outcome="failure", session="s2",
                           occurred_at="2026-03-03T10:00:00Z")
    athena.episodic.record("restarted the database proxy", outcome="success", session="s2",
                           occurred_at="2026-03-03T10:02:00Z")
    athena.episodic.record("disk full on /var/lib/data/volume", kind="error", session="s3",
                           occurred_at="2026-03-04T10:00:00Z")


def test_signatures_mask_numbers_paths_ids_and_quoted_values() -> None:
    assert signature("Timeout after 30 s in /srv/app/main.py") == \
        "timeout after <n> s in <path>"
    assert signature("No key 'abc' for commit 1a2b3c4d5e6f") == \
        "no key <value> for commit <id>"


def test_a_recurring_error_is_grouped_with_its_fix() -> None:
    _arrange()
    [group] = run()
    assert group["signature"] == "connection refused to db-<n> on port <n>"
    assert group["count"] == 2 and group["sessions"] == ["s1", "s2"]
    assert group["fixes"] == [{"text": "restarted the database proxy", "times": 2}]
    assert group["first_seen"].startswith("2026-03-01")
    assert group["last_seen"].startswith("2026-03-03")


def test_min_count_one_lists_single_errors_too() -> None:
    _arrange()
    groups = run(min_count=1)
    assert [group["count"] for group in groups] == [2, 1]
    assert groups[1]["fixes"] == []


def test_a_period_limits_the_errors_counted() -> None:
    _arrange()
    assert run(start="2026-03-02T00:00:00Z") == []
    assert len(run(min_count=1, start="2026-03-02T00:00:00Z")) == 2
