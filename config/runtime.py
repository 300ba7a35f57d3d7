"""The settings that may change while the platform runs (PUT/PATCH /api/v1/system/config).

Each is read where it is used, from the process's current settings, so a new value applies at its next
use: nothing here holds a copy. The scheduler reschedules a job whose schedule or switch changed
(scheduler.runner), the MCP front door takes the call budget and wait limit for its next calls.
Anything else (addresses, pools, secrets) needs a restart.
`validate(changes)` checks values as load_settings does, plus each key's own range.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from config.settings import SCHEDULE, ConfigError, Section, _check_rate, _coerce

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
URL = re.compile(r"https?://\S+")


def _percent(value: float) -> str | None:
    return None if 0 < value <= 100 else "must be above 0 and at most 100"


def _at_least(minimum: float) -> Callable[[Any], str | None]:
    return lambda value: None if value >= minimum else f"must be at least {minimum:g}"


def _between(low: float, high: float) -> Callable[[Any], str | None]:
    return lambda value: None if low <= value <= high else f"must be between {low:g} and {high:g}"


def _level(value: str) -> str | None:
    return None if value.upper() in LOG_LEVELS else f"must be one of {', '.join(LOG_LEVELS)}"


def _url_or_empty(value: str) -> str | None:
    return None if value == "" or URL.fullmatch(value) else "must be empty or an http(s):// URL"


def _addresses(value: str) -> str | None:
    bad = [a for a in (part.strip() for part in value.split(",")) if a and "@" not in a]
    return f"not mail addresses: {', '.join(bad)}" if bad else None


def _any(_value) -> None:
    return None


def _schedule(value: str) -> str | None:
    if not SCHEDULE.fullmatch(value.strip()):
        return "not a cron line (5 fields, UTC) or 'every <n>s|m|h'"
    from apscheduler.triggers.cron import CronTrigger  # late: only a check of a cron line needs it

    if not value.strip().startswith("every "):
        try:
            CronTrigger.from_crontab(value.strip())
        except ValueError as error:
            return f"not a valid cron line: {error}"
    return None


def _rate(value: str) -> str | None:
    try:
        _check_rate(value, "")
    except ConfigError:
        return "not a rate limit like '100 per minute'"
    return None


# dotted key -> its extra check (types are checked against app.yaml's defaults first)
RUNTIME_KEYS: dict[str, Callable[[Any], str | None]] = {
    "logging.level": _level,
    "logging.retention_days": _at_least(1),
    "features.auto_session": _any,
    "features.webhooks": _any,
    "features.email_notifications": _any,
    "notifications.webhook_url": _url_or_empty,
    "notifications.email_to": _addresses,
    "monitoring.cpu_alert_percent": _percent,
    "monitoring.memory_alert_percent": _percent,
    "monitoring.disk_alert_percent": _percent,
    "monitoring.probe_timeout_s": _between(0.1, 300),
    "monitoring.probe_failures": _at_least(1),
    "monitoring.keep_days": _at_least(1),
    "monitoring.raw_keep_hours": _between(1, 24 * 31),
    "mcp.agent.max_workers": _between(1, 256),
    "mcp.jobs.wait_max_s": _between(1, 3600),
    "rate_limits.calls": _rate,
    "features.monitoring": _any,
    "monitoring.interval_s": _between(1, 86400),
    "monitoring.probe_interval_s": _between(1, 86400),
    "monitoring.alert_interval_s": _between(1, 86400),
    "data.backup.enabled": _any,
    "data.backup.schedule": _schedule,
    "data.cleanup.enabled": _any,
    "data.cleanup.schedule": _schedule,
    "data.cleanup.history_days": _at_least(1),
    "data.cleanup.tasks_days": _at_least(1),
    "data.cleanup.sessions_days": _at_least(1),
    "data.cleanup.temp_files_hours": _at_least(1),
}


def default_of(base: Section, dotted: str) -> Any:
    value: Any = base
    for part in dotted.split("."):
        value = value[part]
    return value


def validate(base: Section, changes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(the values coerced to their key's type, {key: [problems]}) for `changes` (dotted keys)."""
    values, errors = {}, {}
    for dotted, value in changes.items():
        if dotted not in RUNTIME_KEYS:
            errors[dotted] = ["not a setting that can change at run time"]
            continue
        try:
            value = _coerce(default_of(base, dotted), value, dotted)
        except ConfigError as error:
            errors[dotted] = [str(error)]
            continue
        problem = RUNTIME_KEYS[dotted](value)
        if problem:
            errors[dotted] = [f"{dotted}: {problem}"]
            continue
        values[dotted] = value.upper() if dotted == "logging.level" else value
    return values, errors


def apply(base: Section, overrides: Mapping[str, Any]) -> Section:
    """`base` with the stored overrides of runtime keys (anything else stored is ignored)."""
    usable = {dotted: value for dotted, value in overrides.items() if dotted in RUNTIME_KEYS}
    return base.replace(**usable) if usable else base


def flatten(nested: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"logging": {"level": "DEBUG"}} -> {"logging.level": "DEBUG"}; dotted keys pass as they are."""
    flat = {}
    for name, value in nested.items():
        dotted = f"{prefix}{name}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat
