"""The audit trail: every write through the API (POST, PUT, PATCH, DELETE under /api/) becomes an
`operations` log entry, from this one after_request hook, whatever blueprint answered and whatever the
outcome (refused and failed writes too: they are what an audit is read for).

Each entry says who (user, or API key and its user), from where (client IP), what (method, path,
endpoint, the tool it targets) and the outcome (status). It goes through the log sink (models.log_sink):
a queue put, written in batches by the sink's thread, never in the request.
"""
from __future__ import annotations

import logging

from flask import Flask, Response, g, request

from api.ids import parse_id
from models import Tool
from models.fastget import get_by
from models.log_sink import log_sink

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Body fields worth keeping for a write that has no caller yet (a login's username). Never the password.
ANONYMOUS_FIELDS = ("username",)
log = logging.getLogger("mcps.audit")


def init_audit(app: Flask) -> None:
    app.after_request(record_write)


def outcome_of(status: int) -> str:
    return "succeeded" if status < 400 else "refused" if status < 500 else "failed"


def _target_tool_id(status: int) -> int | None:
    tool_ref = (request.view_args or {}).get("tool_ref")
    if tool_ref is None:
        return None
    if request.method == "DELETE" and status < 400 and request.url_rule.rule.endswith("/tools/<tool_ref>"):
        return None  # a deleted tool's id may be given to the next tool: the entry keeps the ref in its target
    tool_id = parse_id(str(tool_ref))
    if tool_id is not None:
        return tool_id
    tool = get_by(Tool, Tool.name, tool_ref, (Tool.id,))
    return tool.id if tool is not None else None


def record_write(response: Response) -> Response:
    if request.method not in WRITE_METHODS or not request.path.startswith("/api/"):
        return response
    try:
        caller = g.get("mcps_caller")  # set by authenticate(): a refused caller has none
        data = {"method": request.method, "path": request.path, "endpoint": request.endpoint,
                "status": response.status_code, "outcome": outcome_of(response.status_code),
                "ip": request.remote_addr, "target": {k: str(v) for k, v in (request.view_args or {}).items()}}
        if caller is not None:
            data["username"] = caller.user.username
            if caller.api_key is not None:
                data["api_key_id"], data["api_key"] = caller.api_key.id, caller.api_key.prefix
        else:
            body = request.get_json(silent=True)
            if isinstance(body, dict):
                data.update({f: str(body[f])[:100] for f in ANONYMOUS_FIELDS if isinstance(body.get(f), str)})
        who = data.get("username", "anonymous") + (f" (key {data['api_key']})" if "api_key" in data else "")
        message = f"{request.method} {request.path} {response.status_code} {data['outcome']} by {who} from {data['ip']}"
        log_sink.emit("operations", message, "INFO" if response.status_code < 400 else "WARNING",
                      tool_id=_target_tool_id(response.status_code), user_id=caller.user.id if caller else None, source="audit",
                      data=data)
        log.info("event=audit method=%s path=%s status=%d user=%s ip=%s", request.method, request.path,
                 response.status_code, data.get("username", "-"), data["ip"])
    except Exception:  # the answer is already made: an audit failure is logged, not turned into a 500
        log.exception("event=audit.failed method=%s path=%s", request.method, request.path)
    return response
