"""What every request handler may need from the application: its settings and its Redis client.

Both are created once per app by `create_app` and kept in `app.extensions`; nothing here is global
state, so two apps with different settings (as in tests) never see each other's values.
"""
from __future__ import annotations

import redis
from flask import current_app

from config import Section

SETTINGS_KEY = "mcps.settings"
LIVE_SETTINGS_KEY = "mcps.live_settings"
REDIS_KEY = "mcps.redis"


def get_settings() -> Section:
    """The settings of the current app, with the run-time changes (models.runtime_settings) applied."""
    live = current_app.extensions.get(LIVE_SETTINGS_KEY)
    return live.current() if live is not None else current_app.extensions[SETTINGS_KEY]


def get_redis() -> redis.Redis:
    """The Redis client of the current app (connection pool shared by its requests)."""
    return current_app.extensions[REDIS_KEY]
