"""Alerts: the list (GET /monitoring/alerts) with acknowledge and resolve, an alert raised by hand, and
the alert rules (GET/POST /monitoring/alert-rules, PATCH/DELETE /monitoring/alert-rules/{id})."""
from __future__ import annotations

from flask import render_template

from api.console import formats  # noqa: F401  (its template filters)
from api.console import rest
from api.console.blueprint import blp
from api.console.listing import PAGE_SIZE, current_page, filters_from_query
from api.console.pages import render_page, rest_error_page
from api.console.rest import RestError
from api.console.session_cookie import page
from api.extensions import get_settings
from models.alerts import ALERT_STATUSES, OPERATORS, SEVERITIES, default_rules

FILTERS = ("status", "severity", "acknowledged")


def alert_listing():
    filters = filters_from_query(FILTERS)
    return filters, rest.get("/monitoring/alerts", **filters, page=current_page(), page_size=PAGE_SIZE)


@blp.get("/alerts")
@page
def alerts():
    try:
        filters, listing = alert_listing()
        rules = rest.get("/monitoring/alert-rules")
    except RestError as error:
        return rest_error_page(error)
    return render_page("console/alerts.html", "console.alerts", listing=listing, filters=filters,
                       rules=rules["items"], metrics=rules["metrics"], statuses=ALERT_STATUSES,
                       default_names={rule["name"] for rule in default_rules(get_settings())},
                       severities=SEVERITIES, operators=OPERATORS)


@blp.get("/alerts/_rows")
@page
def alert_rows():
    try:
        _filters, listing = alert_listing()
    except RestError as error:
        return rest_error_page(error)
    return render_template("console/_alert_rows.html", listing=listing)
