"""Authentication and roles. Blueprints use `require_role`, `current_user`, `current_api_key`,
`tool_in_scope`; the routes of `/api/v1/auth` live in `api.auth.routes`."""
from api.auth.access import (ROLE_RANK, Caller, authenticate, current_api_key, current_user, has_role,
                             optional_caller, require_role, tool_ids_in_scope, tool_in_scope)

__all__ = ["ROLE_RANK", "Caller", "authenticate", "current_api_key", "current_user", "has_role",
           "optional_caller", "require_role", "tool_ids_in_scope", "tool_in_scope"]
