"""Who may do what through the proxy: the one adapter between the proxy and the access policy.

Today the policy lives in the Flask-bound api/auth/access.py (roles, `tool_in_scope` on flask.g); branch
`security` is moving it into one Flask-free module. Until then this adapter restates the two rules the
proxy needs on top of the same `ROLE_RANK`; when that module lands, point these functions at it and
nothing else in the proxy changes.
"""
from __future__ import annotations

from api.auth.access import ROLE_RANK

# What each MCP method needs, as the REST API asks for the same request (api/calls/routes.py): reading
# lists is a viewer's, anything that runs something on a server an operator's.
METHOD_ROLES = {"tools/call": "operator", "resources/read": "operator", "prompts/get": "operator",
                "completion/complete": "operator", "resources/subscribe": "operator"}
DEFAULT_ROLE = "viewer"


def has_role(role: str, needed: str) -> bool:
    return ROLE_RANK.get(role, 0) >= ROLE_RANK[needed]


def role_for(method: str) -> str:
    return METHOD_ROLES.get(method, DEFAULT_ROLE)


def tool_in_scope(tool_scope: frozenset[str] | None, tool_name: str) -> bool:
    """An API key's tool scope (None: every tool; a JWT has none) allows this tool."""
    return tool_scope is None or tool_name in tool_scope
