"""A job's result stream: events in order, capped, expiring, readable late, followed until the result."""
from __future__ import annotations

import threading
import time

from jobs import events, stream
from jobs.keys import stream_key


def test_given_events_when_read_then_in_order_and_the_final_one_is_found(settings, redis):
    stream.publish_now(redis, settings, "j1", events.progress(1, 2))
    stream.publish_now(redis, settings, "j1", events.succeeded({"ok": 1}))

    read = stream.read(redis, settings, "j1")

    assert [event["type"] for _, event in read] == ["progress", "result"]
    assert stream.final_event(redis, settings, "j1")["result"] == {"ok": 1}


def test_given_a_stream_when_published_then_it_expires_with_the_result_ttl(settings, redis):
    stream.publish_now(redis, settings, "j2", events.progress(1))

    assert 0 < redis.ttl(stream_key(settings, "j2")) <= settings.mcp.jobs.result_ttl_s


def test_given_only_progress_when_asked_for_the_final_event_then_none(settings, redis):
    stream.publish_now(redis, settings, "j3", events.progress(1))

    assert stream.final_event(redis, settings, "j3") is None


def test_given_many_events_then_the_stream_stays_near_its_cap(make_settings, redis):
    settings = make_settings(**{"mcp.jobs.stream_maxlen": 10})
    for n in range(500):
        stream.publish_now(redis, settings, "j4", events.progress(n))

    assert redis.xlen(stream_key(settings, "j4")) < 200  # approximate trimming: whole macro nodes


def test_given_a_follower_when_events_arrive_later_then_it_yields_them_and_ends_after_the_result(settings, redis):
    def worker():
        time.sleep(0.05)
        stream.publish_now(redis, settings, "j5", events.log({"level": "info", "data": "hi"}))
        stream.publish_now(redis, settings, "j5", events.succeeded(None))
    threading.Thread(target=worker).start()

    seen = [event["type"] for _, event in stream.follow(redis, settings, "j5", block_ms=20) if event]

    assert seen == ["log", "result"]
