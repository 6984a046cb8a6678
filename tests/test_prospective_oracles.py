"""Athena's time-trigger evaluator against independent oracles (cronsim for cron,
python-dateutil for RRULE, zoneinfo for ``at`` and ``every``): a smaller run of
``benchmarks/prospective_time.py``, over its zones (Lord Howe, Kathmandu and Chatham
among them) and the clock changes of 2020-2030."""

from __future__ import annotations

import json

import pytest

from benchmarks import prospective_time


def test_generated_triggers_fire_exactly_when_the_oracles_say(
        capsys: pytest.CaptureFixture[str]) -> None:
    status = prospective_time.main(["--triggers", "400", "--seed", "7", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["mismatches"] == []
    assert status == 0 and result["equal_fraction"] == 1.0
    assert set(result["by_kind"]) == {"at", "every", "cron", "rrule"}
    assert result["days_fired_twice"] == result["days_not_fired"] == 0
    assert result["fixed_daily_cron_days_at_changes"] > 0
