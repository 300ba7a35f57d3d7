"""Who may do what through the proxy: the MCP methods mapped onto the one access policy (policy.access),
which the REST API uses for the same requests."""
from __future__ import annotations

from policy import access

# What each MCP method needs, as the REST API asks for the same request (api/calls/routes.py): reading
# lists is a viewer's, anything that runs something on a server an operator's.
METHOD_ROLES = {"tools/call": "operator", "resources/read": "operator", "prompts/get": "operator",
                "completion/complete": "operator", "resources/subscribe": "operator"}
DEFAULT_ROLE = "viewer"


def role_for(method: str) -> str:
    return METHOD_ROLES.get(method, DEFAULT_ROLE)


def may(caller, method: str) -> bool:
    return caller.user.is_active and access.has_role(caller.user, role_for(method))


def may_see_tool(caller, tool_id: int) -> bool:
    return access.may_see_tool(caller.user, caller.api_key, tool_id)
