"""jobs.live_events: the events a worker and the API build (task, alert), as they land in the stream."""
from jobs import live_events


def test_given_a_task_event_then_only_the_details_given_are_sent_with_who_and_which_tool(redis, settings):
    job = {"id": "j1", "kind": "call", "tool_id": 3, "user_id": 7}
    live_events.publish(redis, settings, *live_events.task_event(job, "started", "running"))
    live_events.publish(redis, settings, *live_events.task_event(job, "progress", "running", progress=1, total=None,
                                                                 message="step 1"))

    events = [live_events.decode(i, f) for i, f in redis.xrange(live_events.events_key(settings))]

    assert [(e["kind"], e["tool_id"], e["user_id"]) for e in events] == [("task", 3, 7)] * 2
    assert [e["data"] for e in events] == [
        {"id": "j1", "kind": "call", "phase": "started", "status": "running"},
        {"id": "j1", "kind": "call", "phase": "progress", "status": "running", "progress": 1, "message": "step 1"}]


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
