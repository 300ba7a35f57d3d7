"""/api/v1/system: health (public, honest) and info (authenticated)."""
from __future__ import annotations

import json
import logging
import platform
import time
from datetime import datetime, timezone

import peewee
import redis
from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, fields

from api import STARTED_AT_KEY, VERSION
from api.bodies import Blueprint
from api.auth import require_role
from api.extensions import get_redis, get_settings
from api.schemas import UTCDateTime
from models import Tool, db
from jobs.keys import health_key
from jobs.registry import live_workers

blp = Blueprint("system", __name__, url_prefix="/system", description="Health and information")
log = logging.getLogger("mcps.api.system")


class CheckSchema(Schema):
    ok = fields.Boolean(required=True)
    latency_ms = fields.Float(allow_none=True)
    detail = fields.String(allow_none=True)


class WorkersCheckSchema(CheckSchema):
    alive = fields.Integer()
    ids = fields.List(fields.String())


class ToolsCheckSchema(CheckSchema):
    running = fields.Integer()
    unhealthy = fields.List(fields.Integer(), metadata={
        "description": "Ids of running tools whose health probes failed monitoring.probe_failures times in a row"})


class HealthChecksSchema(Schema):
    database = fields.Nested(CheckSchema)
    redis = fields.Nested(CheckSchema)
    workers = fields.Nested(WorkersCheckSchema)
    tools = fields.Nested(ToolsCheckSchema)


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"description": "ok | degraded | down"})
    checks = fields.Nested(HealthChecksSchema)


class InfoSchema(Schema):
    name = fields.String()
    version = fields.String()
    env = fields.String()
    database_engine = fields.String(metadata={"description": "sqlite or postgresql"})
    redis_embedded = fields.Boolean()
    python = fields.String()
    started_at = UTCDateTime()
    uptime_s = fields.Float()


def database_engine() -> str:
    return "postgresql" if isinstance(db.obj, peewee.PostgresqlDatabase) else "sqlite"


def _timed(check) -> dict:
    started = time.perf_counter()
    result = check()
    return {**result, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def check_database() -> dict:
    try:
        db.execute_sql("SELECT 1").fetchone()
        return {"ok": True}
    except peewee.PeeweeException as error:
        log.warning("event=health.database_down error=%r", str(error))
        return {"ok": False, "detail": "database unreachable"}


def check_redis() -> dict:
    try:
        get_redis().ping()
        return {"ok": True}
    except (redis.RedisError, OSError) as error:
        log.warning("event=health.redis_down error=%r", str(error))
        return {"ok": False, "detail": "redis unreachable"}


def check_tools() -> dict:
    """The health probes' verdict (workers/health.py) on every running tool."""
    running = [tool.id for tool in Tool.select(Tool.id).where(Tool.status == "RUNNING")]
    states = get_redis().mget([health_key(get_settings(), tool_id) for tool_id in running]) if running else []
    unhealthy = [tool_id for tool_id, state in zip(running, states)
                 if state and not json.loads(state).get("healthy", True)]
    return {"ok": not unhealthy, "running": len(running), "unhealthy": unhealthy,
            "detail": f"{len(unhealthy)} running tool(s) failing their health probes" if unhealthy else None}


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="The database or Redis is down")
    def get(self):
        """Health: database, Redis and live workers; 200 ok/degraded, 503 when the database or Redis is down"""
        database = _timed(check_database)
        redis_check = _timed(check_redis)
        workers = {"ok": False, "alive": 0, "ids": [], "detail": "unknown: redis unreachable"}
        if redis_check["ok"]:
            ids = [worker["id"] for worker in live_workers(get_redis(), get_settings())]
            workers = {"ok": bool(ids), "alive": len(ids), "ids": ids,
                       "detail": None if ids else "no live worker: tools cannot start or be called"}
        checks = {"database": database, "redis": redis_check, "workers": workers}
        if not (database["ok"] and redis_check["ok"]):
            return {"status": "down", "checks": checks}, 503
        checks["tools"] = _timed(check_tools)
        return {"status": "ok" if workers["ok"] and checks["tools"]["ok"] else "degraded", "checks": checks}


@blp.route("/info")
class Info(MethodView):
    @require_role("viewer")
    @blp.response(200, InfoSchema)
    def get(self):
        """Version, environment, database engine, Redis mode and uptime"""
        settings = get_settings()
        started = current_app.extensions[STARTED_AT_KEY]
        return {"name": settings.app.name, "version": VERSION, "env": settings.app.env,
                "database_engine": database_engine(), "redis_embedded": settings.redis.embedded,
                "python": platform.python_version(),
                "started_at": datetime.fromtimestamp(started, timezone.utc),
                "uptime_s": round(time.time() - started, 1)}
