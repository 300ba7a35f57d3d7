"""/api/v1/proxy (and the seed's /api/v1/mcp/proxy): the MCP front door's status, stop/start, live config
and virtual servers.

The proxy processes publish their state to Redis and read their switches there (api.mcp_proxy.control):
this API never talks to them directly, so it works the same with one proxy process or ten, and with none
running (status says so). Stop means: no new sessions, the open ones finish (drain); tools keep running.
"""
from __future__ import annotations

import logging

from flask.views import MethodView

from api.auth import current_user, require_role
from api.bodies import Blueprint
from api.errors import abort
from api.extensions import get_redis, get_settings
from api.mcp_proxy import control
from api.proxy import config
from api.proxy.schemas import (ProxyConfigOutSchema, ProxyConfigSchema, ProxyStatusSchema,
                               VirtualServerOutSchema, VirtualServerSchema)
from models import Tool, VirtualServer

blp = Blueprint("proxy", __name__, url_prefix="", description="The MCP front door (proxy processes)")
log = logging.getLogger("mcps.api.proxy")


def status() -> dict:
    redis, settings = get_redis(), get_settings()
    return control.summarize(control.is_serving(redis, settings), control.live_processes(redis, settings),
                             control.count_handshake_sessions(redis, settings))


def switch(serving: bool) -> dict:
    redis, settings = get_redis(), get_settings()
    control.set_serving(redis, settings, serving)
    log.info("event=proxy.%s by=%s", "started" if serving else "stopped", current_user().username)
    config.wait_for_processes(redis, settings, lambda beat: beat["serving"] == serving)
    return status()


@blp.route("/proxy/status")
@blp.route("/mcp/proxy/status", endpoint="McpProxyStatus")
class ProxyStatus(MethodView):
    @require_role("viewer")
    @blp.response(200, ProxyStatusSchema)
    def get(self):
        """Front door status: serving, sessions by era, requests and calls per minute, errors, p50, per process"""
        return status()


@blp.route("/proxy/start")
@blp.route("/mcp/proxy/start", endpoint="McpProxyStart")
class ProxyStart(MethodView):
    @require_role("admin")
    @blp.response(200, ProxyStatusSchema)
    def post(self):
        """Accept new sessions again (after a stop)"""
        return switch(True)


@blp.route("/proxy/stop")
@blp.route("/mcp/proxy/stop", endpoint="McpProxyStop")
class ProxyStop(MethodView):
    @require_role("admin")
    @blp.response(200, ProxyStatusSchema)
    def post(self):
        """Stop accepting new sessions and drain: open sessions finish, tools keep running"""
        return switch(False)


def _resolved(server: dict) -> dict:
    try:
        members = config.resolve_members(server["tools"])
    except ValueError as error:  # policy.UnknownTools too
        abort(422, message=f"virtual server {server['name']}: {error}", errors={"tools": [str(error)]})
    return {"name": server["name"], "description": server.get("description", ""), "members": members}


def _applied(beat: dict, generation: int) -> bool:
    return beat["config_generation"] >= generation


@blp.route("/proxy/config")
class ProxyConfig(MethodView):
    @require_role("admin")
    @blp.response(200, ProxyConfigOutSchema)
    def get(self):
        """The front door's live config: naming policy and virtual servers"""
        return config.config_view(get_settings().mcp.proxy.naming)

    @require_role("admin")
    @blp.arguments(ProxyConfigSchema)
    @blp.response(200, ProxyConfigOutSchema)
    def put(self, body):
        """Change the naming policy and/or replace the virtual servers; running proxies apply it at once"""
        servers = [_resolved(server) for server in body["virtual_servers"]] if "virtual_servers" in body else None
        config.write_config(body.get("naming"), servers, current_user().id)
        applied = config.announce(get_redis(), get_settings(), _applied)
        log.info("event=proxy.configured generation=%s by=%s", applied["generation"], current_user().username)
        return {**config.config_view(get_settings().mcp.proxy.naming), **applied}


@blp.route("/proxy/servers")
class VirtualServers(MethodView):
    @require_role("admin")
    @blp.response(200, VirtualServerOutSchema(many=True))
    def get(self):
        """Virtual servers (named subsets of the tools, served at /mcp/servers/<name>)"""
        return config.config_view(get_settings().mcp.proxy.naming)["virtual_servers"]

    @require_role("admin")
    @blp.arguments(VirtualServerSchema)
    @blp.response(201, VirtualServerOutSchema)
    @blp.alt_response(409, "CONFLICT")
    def post(self, body):
        """Define a virtual server"""
        if VirtualServer.select().where(VirtualServer.name == body["name"]).exists():
            abort(409, message=f"a virtual server named {body['name']} exists")
        config.save_server(_resolved(body), current_user().id)
        config.announce(get_redis(), get_settings(), _applied)
        return _server(body["name"])


def _server(name: str) -> dict:
    row = VirtualServer.get_or_none(VirtualServer.name == name)
    if row is None:
        abort(404, message=f"no virtual server {name}")
    names = {tool.id: tool.name for tool in Tool.select(Tool.id, Tool.name)}
    return config.server_view({"name": row.name, "description": row.description, "members": row.members or []}, names)


@blp.route("/proxy/servers/<name>")
class VirtualServerByName(MethodView):
    @require_role("admin")
    @blp.response(200, VirtualServerOutSchema)
    def get(self, name):
        """One virtual server"""
        return _server(name)

    @require_role("admin")
    @blp.arguments(VirtualServerSchema)
    @blp.response(200, VirtualServerOutSchema)
    def put(self, body, name):
        """Define or replace a virtual server (its name in the body must be the path's)"""
        if body["name"] != name:
            abort(422, message="the body's name must be the path's", errors={"name": ["must be " + name]})
        config.save_server(_resolved(body), current_user().id)
        config.announce(get_redis(), get_settings(), _applied)
        return _server(name)

    @require_role("admin")
    @blp.response(204)
    def delete(self, name):
        """Delete a virtual server (its clients' next requests answer 404)"""
        if not VirtualServer.delete().where(VirtualServer.name == name).execute():
            abort(404, message=f"no virtual server {name}")
        config.announce(get_redis(), get_settings(), _applied)
