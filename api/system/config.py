"""/api/v1/system/config (admins): the effective settings with secrets masked, and the settings that can
change at run time (config.runtime), stored in the database and applied by every process without a
restart: a write bumps the generation in Redis, each process reloads at its next look (at most a second
later, models.runtime_settings.LiveSettings), and the answer waits briefly for the live workers and MCP
front door processes to say (in their heartbeats) they applied it. Each change is an operations log entry (who, what, old and new values).

/api/v1/system/restart (admins): a graceful rolling restart of the workers, as a job (workers/restart.py).
"""
from __future__ import annotations

import logging
import re
import time
from urllib.parse import urlsplit, urlunsplit

from flask import current_app
from flask.views import MethodView
from marshmallow import INCLUDE, Schema, fields

from api.auth import current_user, require_role
from api.bodies import Blueprint
from api.errors import abort
from api.extensions import LIVE_SETTINGS_KEY, get_redis, get_settings
from api.mcp_proxy import control
from api.system.maintenance import WaitArgs, run_now
from api.tasks.schemas import AcceptedSchema, TaskSchema
from config import runtime
from jobs import registry
from jobs.keys import config_generation_key
from models import LogEntry
from models.runtime_settings import store, stored_overrides

blp = Blueprint("system_config", __name__, url_prefix="/system", description="Settings and restart")
log = logging.getLogger("mcps.api.system")
MASK = "********"
SECRET_NAME = re.compile(r"secret|password|encryption_key|token$")
APPLY_WAIT_S = 3.0


class ConfigChangeSchema(Schema):
    """Settings as nested sections ({"logging": {"level": "DEBUG"}}) or dotted keys ({"logging.level": ...})."""

    class Meta:
        unknown = INCLUDE


class ConfigSchema(Schema):
    config = fields.Dict(metadata={"description": "Every setting in effect in this process, secrets masked"})
    runtime_keys = fields.List(fields.String(), metadata={"description": "The settings PUT/PATCH may change"})
    overrides = fields.Dict(metadata={"description": "The values stored at run time (over config/app.yaml)"})
    generation = fields.Integer()
    changed = fields.Dict(metadata={"description": "What this write changed: {key: {old, new}}"})
    pending_workers = fields.List(fields.String(), metadata={
        "description": "Live workers that had not applied this write when the answer left (they will)"})
    pending_proxies = fields.List(fields.String(), metadata={
        "description": "Live MCP front door processes that had not applied this write when the answer left"})


def masked_value(name: str, value):
    """A setting's value as answers and logs show it: secrets as MASK, a URL's password (any `url` or
    `*_url` key: a notification URL may carry one) as MASK."""
    if isinstance(value, str) and value and SECRET_NAME.search(name):
        return MASK
    if isinstance(value, str) and (name == "url" or name.endswith("_url")) and "@" in value:
        parts = urlsplit(value)
        netloc = f"{parts.username or ''}:{MASK}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc)) if parts.password else value
    return value


def masked(values: dict, path: str = "") -> dict:
    return {name: masked(value, f"{path}{name}.") if isinstance(value, dict) else masked_value(name, value)
            for name, value in values.items()}


def masked_dotted(values: dict) -> dict:
    """{dotted key: value} with each value masked by its key's last part."""
    return {dotted: masked_value(dotted.rsplit(".", 1)[-1], value) for dotted, value in values.items()}


def config_view(**extra) -> dict:
    settings = get_settings()
    return {"config": masked(settings.to_dict()), "runtime_keys": sorted(runtime.RUNTIME_KEYS),
            "overrides": masked_dotted(stored_overrides()),
            "generation": current_app.extensions[LIVE_SETTINGS_KEY].generation, **extra}


def wait_for_processes(generation: int) -> dict[str, list[str]]:
    """Wait (at most APPLY_WAIT_S) for the live workers and front door processes to apply `generation`;
    {"pending_workers": [...], "pending_proxies": [...]}: those that had not yet."""
    deadline = time.monotonic() + APPLY_WAIT_S
    while True:
        redis, settings = get_redis(), get_settings()
        pending = {
            "pending_workers": [worker["id"] for worker in registry.live_workers(redis, settings)
                                if worker.get("config_generation", 0) < generation],
            "pending_proxies": [beat["id"] for beat in control.live_processes(redis, settings)
                                if beat["settings_generation"] < generation]}
        if not any(pending.values()) or time.monotonic() > deadline:
            return pending
        time.sleep(0.05)


def change(body: dict, replace: bool) -> dict:
    live = current_app.extensions[LIVE_SETTINGS_KEY]
    values, errors = runtime.validate(live.base, runtime.flatten(body))
    if errors:
        abort(422, message="these settings cannot be set: see errors", errors=errors)
    if not values and not replace:
        abort(422, message="no setting given", errors={"body": ["give at least one setting"]})
    user = current_user()
    # masked before it is answered or audited: the operations log must not keep a secret either
    changed = {name: {when: masked_value(name.rsplit(".", 1)[-1], value) for when, value in old_new.items()}
               for name, old_new in store(values, user.id, replace).items()}
    generation = int(get_redis().incr(config_generation_key(live.base)))
    if changed:
        summary = ", ".join(f"{name}={change['new']!r} (was {change['old']!r})" for name, change in changed.items())
        LogEntry.create(category="operations", level="INFO", user_id=user.id, source="api",
                        message=f"settings changed by {user.username}: {summary}", data={"changes": changed})
        log.info("event=config.changed by=%s generation=%d keys=%s", user.username, generation, ",".join(changed))
    live.refresh()
    return config_view(changed=changed, **wait_for_processes(generation))


@blp.route("/config")
class SystemConfig(MethodView):
    @require_role("admin")
    @blp.response(200, ConfigSchema)
    def get(self):
        """The settings in effect (secrets masked), which ones may change at run time, and their stored values"""
        return config_view()

    @require_role("admin")
    @blp.arguments(ConfigChangeSchema)
    @blp.response(200, ConfigSchema)
    def put(self, body):
        """Replace the run-time settings: those given are stored, every other goes back to config's value"""
        return change(body, replace=True)

    @require_role("admin")
    @blp.arguments(ConfigChangeSchema)
    @blp.response(200, ConfigSchema)
    def patch(self, body):
        """Change some run-time settings (validated, stored, applied by every process without restart, audited)"""
        return change(body, replace=False)


@blp.route("/restart")
class RestartWorkers(MethodView):
    @require_role("admin")
    @blp.arguments(WaitArgs, location="query")
    @blp.response(202, AcceptedSchema)
    @blp.alt_response(200, schema=TaskSchema, description="With wait=true: the finished task")
    @blp.alt_response(409, "CONFLICT", description="No live worker to restart")
    def post(self, args):
        """Restart the workers one at a time (graceful: calls in flight finish, tools move to a live worker)"""
        if not registry.live_workers(get_redis(), get_settings()):
            # A state of the platform, not a server failure: 409 (a 5xx would read as the API failing).
            abort(409, message="no live worker to restart")
        return run_now("restart", "rolling_restart", args)
