"""Settings changed at run time: stored here, announced by a generation number in Redis, and applied by
every process when it sees the number move (`LiveSettings`).

The generation is read through a function the process gives (its Redis client and key: jobs.keys), so
this module needs no Redis of its own. Which keys may change, and their checks: config.runtime.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

import peewee
import redis

from config import Section
from config import runtime
from models.base import BaseModel, JSONField, db, utcnow

log = logging.getLogger("mcps.config")
CHECK_EVERY_S = 1.0  # how stale a process's settings may be after a change


class RuntimeSetting(BaseModel):
    name = peewee.CharField(max_length=100, primary_key=True)
    value = JSONField()
    updated_by = peewee.IntegerField(null=True)
    updated_at = peewee.DateTimeField(default=utcnow)


def stored_overrides() -> dict[str, Any]:
    return {row.name: row.value for row in RuntimeSetting.select()}


def store(values: dict[str, Any], user_id: int | None, replace: bool) -> dict[str, dict]:
    """Write the overrides (all of them when `replace`: keys not given go back to config's value);
    returns {key: {"old": ..., "new": ...}} of what changed (a removed override's new value is None)."""
    with db.atomic():
        before = stored_overrides()
        if replace:
            RuntimeSetting.delete().where(RuntimeSetting.name.not_in(list(values) or [""])).execute()
        for name, value in values.items():
            RuntimeSetting.insert(name=name, value=value, updated_by=user_id, updated_at=utcnow()).on_conflict(
                conflict_target=[RuntimeSetting.name],
                update={RuntimeSetting.value: value, RuntimeSetting.updated_by: user_id,
                        RuntimeSetting.updated_at: utcnow()}).execute()
    after = {**({} if replace else before), **values}
    return {name: {"old": before.get(name), "new": after.get(name)}
            for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)}


class LiveSettings:
    """A process's settings: config plus the stored overrides, reloaded when the generation moved.

    `current()` costs nothing between checks (at most one Redis GET per CHECK_EVERY_S) and keeps the last
    settings when Redis or the database cannot answer: a change then applies once they are back.
    """

    def __init__(self, base: Section, read_generation: Callable[[], Any], on_change=None):
        self.base = base
        self.read_generation = read_generation
        self.on_change = on_change  # called with the new settings after each reload
        self._settings = base
        self._generation: Any = object()  # nothing seen yet: the first check loads the overrides
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        return self._generation if isinstance(self._generation, int) else 0

    def current(self) -> Section:
        if time.monotonic() - self._checked_at >= CHECK_EVERY_S:
            self.refresh()
        return self._settings

    def refresh(self) -> Section:
        with self._lock:
            self._checked_at = time.monotonic()
            try:
                raw = self.read_generation()
                generation = int(raw) if raw is not None else 0
                if generation == self._generation:
                    return self._settings
                settings = runtime.apply(self.base, stored_overrides())
            except (redis.RedisError, peewee.PeeweeException, OSError, ValueError) as error:  # keep what we have
                log.warning("event=config.refresh_failed error=%r", str(error))
                return self._settings
            changed = settings.to_dict() != self._settings.to_dict()
            self._settings, self._generation = settings, generation
        if changed:
            log.info("event=config.applied generation=%s", generation)
            if self.on_change is not None:
                self.on_change(settings)
        return settings


def apply_log_level(settings: Section) -> None:
    """logging.level applies to the process's root logger at once."""
    logging.getLogger().setLevel(settings.logging.level.upper())
