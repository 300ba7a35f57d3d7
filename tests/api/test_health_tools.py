"""/system/health also tells the running tools the health probes found unhealthy (workers/health.py)."""
from __future__ import annotations

import json

from jobs.connection import redis_client
from jobs.keys import health_key
from models import Tool


def test_given_a_tool_failing_its_probes_then_health_is_degraded_and_names_it(client, settings):
    sick = Tool.create(name="sick", transport="stdio", command="x", status="RUNNING")
    well = Tool.create(name="well", transport="stdio", command="x", status="RUNNING")
    redis = redis_client(settings)
    redis.set(health_key(settings, sick.id), json.dumps({"healthy": False, "failures": 3}))
    redis.set(health_key(settings, well.id), json.dumps({"healthy": True, "failures": 0}))

    body = client.get("/api/v1/system/health").json

    assert body["status"] == "degraded"
    assert body["checks"]["tools"] == {**body["checks"]["tools"], "ok": False, "running": 2, "unhealthy": [sick.id]}
