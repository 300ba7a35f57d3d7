"""Load settings from `config/app.yaml` and the environment.

Every key of app.yaml can be overridden by `MCPS_<SECTION>__<KEY>[__<SUBKEY>]`, its value parsed as a
YAML scalar; `DATABASE_URL` and `REDIS_URL` are honoured as everyone expects. The type of each default
is the type of the key: a value of another type fails start-up with a message naming the key.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping

import yaml

DEFAULTS_FILE = Path(__file__).with_name("app.yaml")
ENV_PREFIX = "MCPS_"
ENVIRONMENTS = ("development", "test", "production")
# A periodic job's schedule: a five-field cron line (UTC) or "every <n>s|m|h".
SCHEDULE = re.compile(r"every \d+(\.\d+)?[smh]|\S+( \S+){4}")
SCHEDULE_KEYS = (("data", "backup", "schedule"), ("data", "cleanup", "schedule"))
# The environment variables of the platform we replace, so that its users' .env files keep working.
# The MCPS_ names win over these when both are set.
SEED_ENV_ALIASES = {
    "SECRET_KEY": "security.jwt_secret",
    "LOG_LEVEL": "logging.level",
    "CORS_ORIGINS": "cors.origins",
    "HOST": "server.host",
    "PORT": "server.port",
    "ACCESS_TOKEN_EXPIRE_MINUTES": "security.access_token_minutes",
    "MCP_TIMEOUT": "mcp.tools.call_timeout_s",
    "BACKUP_DIR": "data.backup.dir",
    "LOG_DIR": "logging.dir",
}
LOG_FORMATS = ("keyvalue", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MCP_LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


class ConfigError(ValueError):
    """A setting is missing, unknown or of the wrong type; the message names the key."""


class Section(Mapping[str, Any]):
    """A read-only mapping whose keys are also attributes: `settings.security.jwt_secret`."""

    def __init__(self, values: Mapping[str, Any]):
        object.__setattr__(self, "_values", {
            key: Section(value) if isinstance(value, Mapping) else value for key, value in values.items()
        })

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("settings are frozen")

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Section({self._values!r})"

    def to_dict(self) -> dict[str, Any]:
        return {k: v.to_dict() if isinstance(v, Section) else v for k, v in self._values.items()}

    def replace(self, **changes: Any) -> "Section":
        """A copy with some keys changed; `replace(**{"security.jwt_secret": "x"})` reaches nested keys."""
        values = self.to_dict()
        for dotted, value in changes.items():
            _assign(values, dotted.split("."), value, dotted)
        return Section(values)


def load_settings(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Section:
    """Build the settings from app.yaml, then `environ` (default: os.environ), then `overrides` (dotted keys)."""
    environ = os.environ if environ is None else environ
    values = yaml.safe_load(DEFAULTS_FILE.read_text())
    for name, dotted in SEED_ENV_ALIASES.items():
        if environ.get(name):
            _assign(values, dotted.split("."), _alias_value(values, dotted, environ[name]), name)
    for name, raw in environ.items():
        if name.startswith(ENV_PREFIX) and "__" in name:
            path = [part.lower() for part in name[len(ENV_PREFIX):].split("__")]
            _assign(values, path, yaml.safe_load(raw) if raw != "" else "", name)
    if environ.get("DATABASE_URL"):
        values["database"]["url"] = environ["DATABASE_URL"]
    if environ.get("REDIS_URL"):
        values["redis"]["url"] = environ["REDIS_URL"]
    for dotted, value in (overrides or {}).items():
        _assign(values, dotted.split("."), value, dotted)
    _resolve_paths(values)
    _check(values)
    return Section(values)


def _alias_value(values: dict, dotted: str, raw: str) -> Any:
    """A seed variable's value: as written for text and lists (a secret is never read as YAML), else a
    YAML scalar (PORT=9000 is a number)."""
    default = values
    for part in dotted.split("."):
        default = default[part]
    return raw if isinstance(default, (str, list)) else yaml.safe_load(raw)


def _assign(values: dict, path: list[str], value: Any, origin: str) -> None:
    target = values
    for part in path[:-1]:
        if not isinstance(target.get(part), dict):
            raise ConfigError(f"{origin}: unknown setting {'.'.join(path)}")
        target = target[part]
    key = path[-1]
    if key not in target:
        raise ConfigError(f"{origin}: unknown setting {'.'.join(path)}")
    default = target[key]
    target[key] = _coerce(default, value, ".".join(path))


def _coerce(default: Any, value: Any, key: str) -> Any:
    if isinstance(default, dict):
        raise ConfigError(f"{key}: is a section, not a value")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
    elif isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if isinstance(default, int) and not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
    elif isinstance(default, list):
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
    elif isinstance(default, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
    return value


def _resolve_paths(values: dict) -> None:
    data_dir = Path(values["app"]["data_dir"]).expanduser()
    if not data_dir.is_absolute():
        data_dir = Path(__file__).resolve().parent.parent / data_dir
    values["app"]["data_dir"] = str(data_dir)
    if not values["logging"]["dir"]:
        values["logging"]["dir"] = str(data_dir / "logs")
    if not values["database"]["url"]:
        values["database"]["url"] = f"sqlite:///{data_dir / 'mcps.db'}"
    values["redis"]["embedded"] = not values["redis"]["url"]
    if values["redis"]["embedded"]:
        values["redis"]["url"] = f"unix://{data_dir / 'redis.sock'}"


def _check(values: dict) -> None:
    app, security = values["app"], values["security"]
    if app["env"] not in ENVIRONMENTS:
        raise ConfigError(f"app.env: must be one of {', '.join(ENVIRONMENTS)}, got {app['env']!r}")
    if not values["database"]["url"].startswith(("sqlite://", "postgres://", "postgresql://")):
        raise ConfigError("database.url: must be sqlite:///path or postgresql://...")
    if not values["redis"]["url"].startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("redis.url: must be redis://, rediss:// or unix://")
    if app["env"] == "production":
        for key in ("jwt_secret", "encryption_key"):
            if len(security[key]) < security["min_secret_length"]:
                raise ConfigError(
                    f"security.{key}: production needs a secret of at least "
                    f"{security['min_secret_length']} characters (set MCPS_SECURITY__{key.upper()})")
    logging_values = values["logging"]
    if logging_values["format"] not in LOG_FORMATS:
        raise ConfigError(f"logging.format: must be one of {', '.join(LOG_FORMATS)}, got {logging_values['format']!r}")
    for key in ("level", "database_level"):
        if str(logging_values[key]).upper() not in LOG_LEVELS:
            raise ConfigError(f"logging.{key}: must be one of {', '.join(LOG_LEVELS)}, got {logging_values[key]!r}")
    page = values["pagination"]
    if not 1 <= page["default_page_size"] <= page["max_page_size"]:
        raise ConfigError("pagination.default_page_size: must be between 1 and pagination.max_page_size")
    if values["mcp"]["tools"]["log_level"] not in MCP_LOG_LEVELS:
        raise ConfigError(f"mcp.tools.log_level: must be one of {', '.join(MCP_LOG_LEVELS)}, "
                          f"got {values['mcp']['tools']['log_level']!r}")
    if values["mcp"]["proxy"]["naming"] not in ("on_conflict", "always"):
        raise ConfigError(f"mcp.proxy.naming: must be on_conflict or always, got {values['mcp']['proxy']['naming']!r}")
    for key in ("management", "calls"):
        _check_rate(values["rate_limits"][key], f"rate_limits.{key}")
    for path in SCHEDULE_KEYS:
        schedule = values[path[0]][path[1]][path[2]]
        if not SCHEDULE.fullmatch(schedule.strip()):
            raise ConfigError(f"{'.'.join(path)}: not a cron line (5 fields, UTC) or 'every <n>s|m|h', got {schedule!r}")


def _check_rate(value: str, key: str) -> None:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{key}: not a rate limit like '60 per minute', got {value!r}") from None
