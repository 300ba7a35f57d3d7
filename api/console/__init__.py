"""The web console: server-rendered pages (Jinja + htmx) at `/`, on top of the REST API.

The console keeps no data of its own: pages read through the REST API in this process (api.console.rest,
as the signed-in user) and the browser calls the REST API itself (static/js/api.js), authenticated by the
session cookie of api.auth.tokens. Each page is a module of PAGES that adds its routes to `blp`.
"""
from __future__ import annotations

import importlib
import logging

from flask import Flask

from api.console.blueprint import VENDOR_DIR, VENDOR_FILES, blp

# Modules whose import adds routes to `blp` (one per page, in nav order).
PAGES = [
    "api.console.session",
    "api.console.overview",
    "api.console.tools",
    "api.console.tasks",
    "api.console.logs",
    "api.console.alerts",
    "api.console.connect",
    "api.console.admin",
    "api.console.placeholders",
]

log = logging.getLogger("mcps.console")


def init_console(app: Flask) -> None:
    for module_name in PAGES:
        importlib.import_module(module_name)
    app.register_blueprint(blp)
    missing = [name for name in VENDOR_FILES if not (VENDOR_DIR / name).is_file()]
    if missing:
        log.warning("event=console.assets_missing files=%s hint='make console-assets'", ",".join(missing))
