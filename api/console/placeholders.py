"""Pages of the nav not built yet: each module that builds one removes its line here."""
from __future__ import annotations

from api.console.blueprint import blp
from api.console.pages import render_page
from api.console.session_cookie import page

PLACEHOLDERS: dict[str, str] = {}


def _placeholder(name: str, title: str):
    @page
    def view():
        return render_page("console/placeholder.html", f"console.{name}", title=title)
    view.__name__ = name
    blp.add_url_rule(f"/{name}", endpoint=name, view_func=view, methods=["GET"])


for _name, _title in PLACEHOLDERS.items():
    _placeholder(_name, _title)
