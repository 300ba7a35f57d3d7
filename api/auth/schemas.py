"""Request and response bodies of /auth and /users (users share the same public view of a user)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.auth.passwords import MAX_PASSWORD_LENGTH
from api.ids import MAX_ID, is_id, parse_id
from api.schemas import Pattern, SettingBound, UTCDateTime
from models import ROLES, Tool

USERNAME = Pattern(r"^[A-Za-z0-9_.@-]{1,64}$",
                           error="1 to 64 letters, digits or . _ @ - characters.")


class ToolRef(fields.Field):
    """A tool named by its id (a number, or its ASCII digits) or by its name; loaded as int or str."""

    default_error_messages = {"invalid": "A tool id or name."}

    def __init__(self, **kwargs):
        # What _deserialize takes, for the OpenAPI document.
        kwargs.setdefault("metadata", {})["anyOf"] = [{"type": "integer", "minimum": 0, "maximum": MAX_ID},
                                                      {"type": "string", "minLength": 1, "maxLength": 64}]
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if is_id(value):
            return value
        if isinstance(value, str) and 1 <= len(value) <= 64:
            parsed = parse_id(value)
            return value if parsed is None else parsed
        raise self.make_error("invalid")


def password_field(**kwargs) -> fields.String:
    # The rules of check_password_rules, as validators the OpenAPI document can state.
    return fields.String(validate=[SettingBound("security.password_min_length", "minLength",
                                                "Must be at least {bound} characters long."),
                                   validate.Length(max=MAX_PASSWORD_LENGTH,
                                                   error="Must be at most {max} characters long.")],
                         load_only=True, **kwargs)


class UserSchema(Schema):
    """A user as the API shows it: never the password hash."""

    id = fields.Integer(dump_only=True)
    username = fields.String(required=True)
    email = fields.String(allow_none=True)
    role = fields.String(validate=validate.OneOf(ROLES))
    is_active = fields.Boolean()
    locked_until = UTCDateTime(allow_none=True, dump_only=True)
    last_login_at = UTCDateTime(allow_none=True, dump_only=True)
    created_at = UTCDateTime(dump_only=True)
    updated_at = UTCDateTime(dump_only=True)


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1024))


class TokensSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String()
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds the access token is valid."})
    user = fields.Nested(UserSchema)


class LogoutSchema(Schema):
    refresh_token = fields.String(metadata={"description": "Also revoke this refresh token (your own)."})


class RegisterSchema(Schema):
    username = fields.String(required=True, validate=USERNAME)
    password = password_field(required=True)
    email = fields.Email(allow_none=True)
    role = fields.String(validate=validate.OneOf(ROLES),
                         metadata={"description": "Admins only; self-registered users are viewers."})


class ChangePasswordSchema(Schema):
    current_password = fields.String(required=True, load_only=True)
    new_password = password_field(required=True)


class ApiKeyArgsSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    tool_scope = fields.List(ToolRef(), allow_none=True, load_default=None, validate=validate.Length(max=1000),
                             metadata={"description": "The tools this key may use, by id or name (stored as ids: "
                                                      "renaming a tool keeps its keys); null: every tool."})
    expires_at = UTCDateTime(allow_none=True, load_default=None)


class ApiKeySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String(metadata={"description": "The first characters of the key, to tell keys apart."})
    tool_scope = fields.List(fields.Integer(), allow_none=True, metadata={"description": "Tool ids; null: every tool."})
    tool_scope_names = fields.Method("scope_names", allow_none=True,
                                     metadata={"description": "The names of those tools now."})
    created_at = UTCDateTime()
    expires_at = UTCDateTime(allow_none=True)
    last_used_at = UTCDateTime(allow_none=True)
    revoked_at = UTCDateTime(allow_none=True)


    def scope_names(self, api_key) -> list[str] | None:
        if api_key.tool_scope is None:
            return None
        names = dict(Tool.select(Tool.id, Tool.name).where(Tool.id.in_(api_key.tool_scope)).tuples())
        return [names[tool_id] for tool_id in api_key.tool_scope if tool_id in names]


class NewApiKeySchema(ApiKeySchema):
    key = fields.String(required=True, metadata={"description": "The key itself: shown this once only."})


class MeSchema(UserSchema):
    auth_method = fields.String(metadata={"description": "jwt or api_key"})
    api_key = fields.Nested(ApiKeySchema, allow_none=True)
