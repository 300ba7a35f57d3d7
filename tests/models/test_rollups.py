"""Metric down-sampling on SQLite and PostgreSQL: samples past the raw period become hourly roll-ups with
the right averages and maxima, batch by batch, counted once; the series reads both tiers alike."""
from __future__ import annotations

from datetime import datetime, timedelta

from api.monitoring.series import series
from models import MetricRollup, MetricSample, utcnow
from models.retention import run_retention
from models.rollups import raw_cutoff, roll_up_samples

NOW = datetime(2026, 3, 10, 12, 30)
OLD_HOUR = datetime(2026, 3, 8, 10, 0)  # two days back: past a day of raw samples


def minute_samples(hour: datetime, cpu_of, tool_id=None, source="host", minutes=60) -> list[dict]:
    return [{"source": source, "tool_id": tool_id, "created_at": hour + timedelta(minutes=m),
             "data": {"cpu_percent": cpu_of(m), "queues": {"lifecycle": m % 3}, "host": "h"}}
            for m in range(minutes)]


def test_given_old_minute_samples_when_rolled_up_then_hourly_averages_and_maxima_and_counts(any_database):
    # Given an hour of host samples two days back (cpu = minute), another of a tool, and recent samples
    MetricSample.insert_many(minute_samples(OLD_HOUR, lambda m: m)).execute()
    MetricSample.insert_many(minute_samples(OLD_HOUR + timedelta(hours=1), lambda m: 50, tool_id=7,
                                            source="tool", minutes=30)).execute()
    recent = minute_samples(NOW - timedelta(hours=2), lambda m: 99, minutes=10)
    MetricSample.insert_many(recent).execute()

    # When rolled up with a day of raw samples, in batches of 25 (hours split across batches)
    counts = roll_up_samples(NOW, raw_keep_hours=24, batch_size=25)

    # Then every old sample was counted once, the recent ones stay, and each hour is one row
    assert counts["samples"] == 90 and counts["rollups"] >= 2
    assert MetricSample.select().count() == len(recent)
    host, tool = (MetricRollup.get(MetricRollup.source == s) for s in ("host", "tool"))
    assert (host.hour, host.tool_id, host.samples) == (OLD_HOUR, None, 60)
    assert abs(host.data["cpu_percent"] - 29.5) < 1e-9 and host.maxima["cpu_percent"] == 59
    assert abs(host.data["queues.lifecycle"] - 1.0) < 1e-9 and host.maxima["queues.lifecycle"] == 2
    assert "host" not in host.data  # text is not averaged
    assert (tool.hour, tool.tool_id, tool.samples, tool.data["cpu_percent"]) == (
        OLD_HOUR + timedelta(hours=1), 7, 30, 50)

    # When run again, then nothing more to do
    assert roll_up_samples(NOW, raw_keep_hours=24, batch_size=25) == {"samples": 0, "rollups": 0}


def test_given_a_late_sample_for_a_rolled_up_hour_then_it_is_merged_into_the_same_row(any_database):
    MetricSample.insert_many(minute_samples(OLD_HOUR, lambda m: 10, minutes=30)).execute()
    roll_up_samples(NOW, 24, 1000)

    MetricSample.create(source="host", data={"cpu_percent": 40}, created_at=OLD_HOUR + timedelta(minutes=59))
    assert roll_up_samples(NOW, 24, 1000) == {"samples": 1, "rollups": 1}

    (row,) = MetricRollup.select()
    assert row.samples == 31 and abs(row.data["cpu_percent"] - (30 * 10 + 40) / 31) < 1e-9
    assert row.maxima["cpu_percent"] == 40


def test_given_both_tiers_when_a_series_is_read_then_points_average_across_them(any_database):
    # Given an hour rolled up (cpu 0..59) and the next hour still raw (cpu 100)
    MetricSample.insert_many(minute_samples(OLD_HOUR, lambda m: m)).execute()
    roll_up_samples(OLD_HOUR + timedelta(hours=25), raw_keep_hours=24, batch_size=1000)
    MetricSample.insert_many(minute_samples(OLD_HOUR + timedelta(hours=1), lambda m: 100)).execute()
    assert MetricRollup.select().count() == 1 and MetricSample.select().count() == 60

    # When read per hour, and over both hours at once
    hourly = series("host", OLD_HOUR, OLD_HOUR + timedelta(hours=2), 3600, None)
    both = series("host", OLD_HOUR, OLD_HOUR + timedelta(hours=2), 7200, None)

    # Then the rolled-up hour reads as its samples did, and a point over both weighs each sample once
    assert [(p["samples"], p["cpu_percent"], p["max"]["cpu_percent"]) for p in hourly] == [(60, 29.5, 59), (60, 100, 100)]
    assert (both[0]["samples"], both[0]["cpu_percent"], both[0]["max"]["cpu_percent"]) == (120, 64.75, 100)


def test_given_retention_then_roll_ups_past_keep_days_are_deleted_and_counted(any_database, make_settings):
    settings = make_settings(**{"monitoring.keep_days": 30})
    now = utcnow()
    for days in (40, 10):
        MetricRollup.create(source="host", hour=raw_cutoff(now, 24 * days), samples=60, data={}, maxima={})

    counts = run_retention(settings, now)

    assert counts["metric_rollups"] == 1 and MetricRollup.select().count() == 1


def test_given_a_field_some_samples_lack_then_it_averages_over_those_that_had_it_across_batches(any_database):
    # Given tool samples of an hour, the first 20 without a cpu figure yet (just started), the others 30
    MetricSample.insert_many([{"source": "tool", "tool_id": 3, "created_at": OLD_HOUR + timedelta(minutes=m),
                               "data": {"memory_mb": 100, **({} if m < 20 else {"cpu_percent": 30})}}
                              for m in range(60)]).execute()

    # When rolled up in batches that split the hour, then read back as a series
    roll_up_samples(NOW, raw_keep_hours=24, batch_size=25)
    (row,) = MetricRollup.select()
    (point,) = series("tool", OLD_HOUR, OLD_HOUR + timedelta(hours=1), 3600, 3)

    # Then the missing figure is not taken for zero
    assert row.samples == 60 and row.partial == {"cpu_percent": 40}
    assert row.data == {"memory_mb": 100, "cpu_percent": 30}
    assert (point["samples"], point["cpu_percent"], point["memory_mb"]) == (60, 30, 100)
