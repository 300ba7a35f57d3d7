"""jobs.live_events against a real Redis: the publisher a worker sends its live events through."""
import threading
import time

import redis as redis_lib

from jobs import live_events


def read_all(redis, settings) -> list[dict]:
    return [live_events.decode(entry_id, fields) for entry_id, fields in redis.xrange(live_events.events_key(settings))]


def test_given_events_put_from_two_threads_then_each_threads_events_land_in_order_in_few_round_trips(redis, settings):
    # Given a started publisher
    publisher = live_events.Publisher(redis, settings)
    publisher.start()
    job = {"id": "j1", "kind": "call", "tool_id": 3, "user_id": 7}

    # When two threads put 1000 task events each, as fast as they can
    def put_many(thread: int):
        for n in range(1000):
            publisher.put(*live_events.task_event({**job, "id": f"t{thread}"}, "progress", "running", progress=n))
    threads = [threading.Thread(target=put_many, args=(t,)) for t in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert publisher.flush(10)

    # Then all 2000 are in the stream, each thread's in the order it put them, with who and which tool
    events = read_all(redis, settings)
    assert len(events) == 2000
    for thread in range(2):
        mine = [e for e in events if e["data"]["id"] == f"t{thread}"]
        assert [e["data"]["progress"] for e in mine] == list(range(1000))
    assert {(e["kind"], e["tool_id"], e["user_id"], e["data"]["phase"]) for e in events} == {("task", 3, 7, "progress")}
    # And a detail not given is left out rather than sent as null
    assert "total" not in events[0]["data"] and "message" not in events[0]["data"]
    publisher.stop()


def test_given_redis_is_unreachable_then_put_never_blocks_and_the_publisher_stops_cleanly(settings):
    # Given a publisher whose Redis does not answer (nothing listens on that port)
    unreachable = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    publisher = live_events.Publisher(unreachable, settings)
    publisher.start()

    # When 10k events are put
    began = time.perf_counter()
    for n in range(10_000):
        publisher.put("task", {"id": "x", "n": n}, 1, 1)
    put_s = time.perf_counter() - began

    # Then putting took no Redis round trip (10k puts in well under the time of one failed connect each)
    assert put_s < 10_000 * 0.2 / 10
    # And the publisher gives up on them and stops when told
    assert publisher.flush(30)
    publisher.stop()
    assert not publisher._thread.is_alive()


def test_given_an_alert_row_then_its_event_names_the_tool_of_a_tool_subject():
    class Row:
        id, rule_name, severity, status, message, value = 5, "tool_error", "warning", "firing", "in ERROR", 1.0
        subject = "tool:12"

    kind, data, tool_id, user_id = live_events.alert_event(Row(), "fired")
    assert (kind, tool_id, user_id, data["event"], data["subject"], data["status"]) == (
        "alert", 12, None, "fired", "tool:12", "firing")
    Row.subject = "host:h1"
    assert live_events.alert_event(Row(), "resolved", by_user_id=3)[1:] == (
        {**data, "event": "resolved", "subject": "host:h1", "status": "resolved"}, None, 3)
