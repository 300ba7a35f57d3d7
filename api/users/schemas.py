"""Bodies of /users (the user itself is api.auth.schemas.UserSchema)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.auth.schemas import USERNAME, UserSchema, password_field
from api.pagination import PageArgs
from models import ROLES


class UserListArgs(PageArgs):
    role = fields.String(validate=validate.OneOf(ROLES))
    is_active = fields.Boolean()
    q = fields.String(validate=validate.Length(min=1, max=64),
                      metadata={"description": "Part of the username or email."})


class UserCreateSchema(Schema):
    username = fields.String(required=True, validate=USERNAME)
    password = password_field(metadata={"description": "Omitted: one is generated and returned once."})
    email = fields.Email(allow_none=True)
    role = fields.String(load_default="viewer", validate=validate.OneOf(ROLES))
    is_active = fields.Boolean(load_default=True)


class UserUpdateSchema(Schema):
    """Only the fields given change (PUT keeps the original platform's path and verb)."""

    username = fields.String(validate=USERNAME)
    email = fields.Email(allow_none=True)
    role = fields.String(validate=validate.OneOf(ROLES))
    is_active = fields.Boolean()


class ResetPasswordSchema(Schema):
    password = password_field(metadata={"description": "Omitted: one is generated and returned once."})


class UserWithPasswordSchema(UserSchema):
    password = fields.String(allow_none=True, metadata={
        "description": "The generated password, shown this once; null when the admin chose it."})


class GeneratedPasswordSchema(Schema):
    password = fields.String(allow_none=True, metadata={
        "description": "The generated password, shown this once; null when the admin chose it."})
