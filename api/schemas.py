"""Marshmallow pieces shared by every blueprint."""
from __future__ import annotations

from datetime import datetime, timezone

from marshmallow import RAISE, Schema, ValidationError, fields, validate


class UTCDateTime(fields.DateTime):
    """The database keeps naive UTC datetimes: dump them with an explicit `+00:00`, and load any
    ISO 8601 value (an offset is converted to UTC, no offset means UTC) back to naive UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return super()._serialize(value, attr, obj, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
        return parsed


class StrictSchema(Schema):
    """A request body: an unknown field is a 422 naming it, not silently dropped."""

    class Meta:
        unknown = RAISE


# An http(s) URL with a host: one pattern validates it and states it in the OpenAPI document.
# (Explicit ranges, not \s: Python counts \x1c-\x1f as whitespace, the document's ECMA regexes do not.)
HTTP_URL = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20\x7f/?#@\[\]]+(?:[/?#][^\x00-\x20\x7f]*)?$"


class Pattern(validate.Regexp):
    """validate.Regexp that must match the whole value, as the OpenAPI document's `pattern` does: Python's
    `$` also matches before a final newline, so `re.match("^[a-z]+$", "abc\\n")` succeeds."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


http_url = Pattern(HTTP_URL, error="must be an http:// or https:// URL with a host")


class AnyOf(fields.Field):
    """A value of one of several shapes, each a schema: the first that loads it wins. The OpenAPI
    document says `anyOf` (api.openapi), so the document and the validation are the same rule."""

    def __init__(self, *schemas: type[Schema], explain=None, **kwargs):
        """`explain(value)`: a sentence saying what is wrong with a value no schema loads (None: list
        each schema's errors)."""
        super().__init__(**kwargs)
        self.schemas, self.explain = schemas, explain
        self._instances = [schema() for schema in schemas]

    def _deserialize(self, value, attr, data, **kwargs):
        errors = {}
        for schema in self._instances:
            try:
                return schema.load(value)
            except ValidationError as error:
                errors[type(schema).__name__.removesuffix("Schema")] = error.messages
        explained = self.explain(value) if self.explain else None
        raise ValidationError(explained or {"matches none of": errors})

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class SettingBound(validate.Validator):
    """A bound read from the settings when validating (`pagination.max_page_size`); the OpenAPI document
    states the value of the app it describes (api.openapi). `keyword`: minimum, maximum, minLength, maxLength."""

    CHECKS = {"minimum": lambda value, bound: value >= bound, "maximum": lambda value, bound: value <= bound,
              "minLength": lambda value, bound: len(value) >= bound,
              "maxLength": lambda value, bound: len(value) <= bound}

    def __init__(self, setting: str, keyword: str, error: str):
        self.setting, self.keyword, self.error = setting, keyword, error

    def bound(self, settings):
        value = settings
        for part in self.setting.split("."):
            value = value[part]
        return value

    def __call__(self, value):
        from api.extensions import get_settings

        bound = self.bound(get_settings())
        if not self.CHECKS[self.keyword](value, bound):
            raise ValidationError(self.error.format(bound=bound))
        return value
