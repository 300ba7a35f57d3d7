"""The REST API: `create_app(settings)` builds one Flask app; blueprints are listed in BLUEPRINTS.

Every resource lives under /api/v1: a blueprint declares its own part (`url_prefix="/tools"`) and is
registered below API_PREFIX. The OpenAPI document is at /openapi.json, read at /docs and /redoc.
"""
from __future__ import annotations

import importlib
import logging
import time

from flask import Flask
from flask_cors import CORS

from api.audit import init_audit
from api.auth.passwords import HASHER_KEY, make_hasher
from api.auth.tokens import init_jwt
from api.bodies import init_bodies
from api.cli import register_cli
from api.console import init_console
from api.errors import register_error_handlers
from api.extensions import LIVE_SETTINGS_KEY, REDIS_KEY, SETTINGS_KEY
from api.ids import init_ids
from api.metrics import init_metrics
from api.openapi import init_openapi
from api.ratelimit import init_rate_limits
from api.security_headers import init_security_headers
from config import Section, load_settings, secret
from playhouse.pool import PooledDatabase

from models import bind_database, bind_encryption_key, db
from models.migrate import upgrade
from models.runtime_settings import LiveSettings, apply_log_level
from jobs.connection import redis_client
from jobs.keys import config_generation_key

VERSION = "0.1.0"
API_PREFIX = "/api/v1"
# "module:attribute" of each flask-smorest Blueprint, imported when an app is created.
BLUEPRINTS = [
    "api.auth.routes:blp",
    "api.users.routes:blp",
    "api.system.routes:blp",
    "api.system.schedules:blp",
    "api.system.backups:blp",
    "api.system.runtime:blp",
    "api.system.config:blp",
    "api.monitoring.alerts:blp",
    "api.monitoring.rules:blp",
    "api.monitoring.webhooks:blp",
    "api.tools.routes:blp",
    "api.tasks.routes:blp",
    "api.calls.routes:blp",
    "api.sessions.routes:blp",
    "api.proxy.routes:blp",
    "api.logs.routes:blp",
    "api.monitoring.routes:blp",
    "api.events.routes:blp",
]
STARTED_AT_KEY = "mcps.started_at"
MIGRATIONS_KEY = "mcps.migrations_applied"

log = logging.getLogger("mcps.api")


def create_app(settings: Section | None = None) -> Flask:
    settings = load_settings() if settings is None else settings
    app = Flask(__name__, static_folder=None)  # api/static holds vendored docs assets, served by api.openapi
    init_bodies(app, settings)
    init_ids(app)
    app.extensions[SETTINGS_KEY] = settings
    app.extensions[REDIS_KEY] = redis_client(settings)
    app.extensions[LIVE_SETTINGS_KEY] = LiveSettings(
        settings, lambda: app.extensions[REDIS_KEY].get(config_generation_key(settings)), on_change=apply_log_level)
    app.extensions[HASHER_KEY] = make_hasher(settings)
    app.extensions[STARTED_AT_KEY] = time.time()

    database = bind_database(settings)
    bind_encryption_key(secret(settings, "encryption_key"))
    app.extensions[MIGRATIONS_KEY] = upgrade(database)
    if app.extensions[MIGRATIONS_KEY]:
        log.info("event=db.migrated migrations=%s", ",".join(app.extensions[MIGRATIONS_KEY]))
    app.teardown_appcontext(_close_database)

    register_error_handlers(app)
    init_security_headers(app, settings)
    api = init_openapi(app, VERSION)
    init_jwt(app, settings)
    init_rate_limits(app, settings)
    init_audit(app)
    init_metrics(app)
    if settings.cors.origins:
        CORS(app, resources={r"/api/*": {"origins": list(settings.cors.origins)}},
             expose_headers=["Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"])
    for dotted in BLUEPRINTS:
        module_name, _, attribute = dotted.partition(":")
        blueprint = getattr(importlib.import_module(module_name), attribute)
        api.register_blueprint(blueprint, url_prefix=API_PREFIX + (blueprint.url_prefix or ""))
    init_console(app)  # the web console at / (not part of the REST API's OpenAPI document)
    register_cli(app)
    database.close()
    if isinstance(database, PooledDatabase):
        # Under `gunicorn --preload` the app is built once and forked: a pooled connection kept from the
        # migration (or anything else the set-up read) would be shared by every web process.
        database.close_idle()
    return app


def _close_database(_exc: BaseException | None) -> None:
    # Returns the connection to the pool on PostgreSQL. SQLite keeps one connection per thread open:
    # reopening it (and re-running its pragmas) cost a millisecond per request.
    if isinstance(db.obj, PooledDatabase) and not db.is_closed():
        db.close()
