"""Who is signed in to the console: the access JWT in the httpOnly cookie of api.auth.tokens, checked by
the same `authenticate()` as every REST request (CSRF included for unsafe requests)."""
from __future__ import annotations

import time
from functools import wraps
from urllib.parse import quote

from flask import g, redirect, request, url_for
from flask_jwt_extended import set_access_cookies
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError
from werkzeug.exceptions import HTTPException

from api.auth import Caller, authenticate, tokens
from api.extensions import get_settings
from models import User


def signed_in() -> Caller | None:
    """The caller of this console request, when its session cookie is valid (an API key never is)."""
    if "console_caller" in g:
        return g.console_caller
    caller = None
    if request.cookies.get(tokens.ACCESS_COOKIE) and not request.headers.get("Authorization"):
        try:
            caller = authenticate()
        except (HTTPException, JWTExtendedException, PyJWTError):
            caller = None
        if caller is not None and (caller.api_key is not None or caller.token is None):
            caller = None
    g.console_caller = caller
    return caller


def signed_in_user() -> User | None:
    caller = signed_in()
    return caller.user if caller else None


def page(view):
    """A console page: the signed-in user's, else a redirect to the sign-in page (back here after)."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if signed_in() is None:
            if request.headers.get("HX-Request"):  # htmx: a full redirect, not a fragment of the sign-in page
                return "", 401, {"HX-Redirect": url_for("console.sign_in")}
            return redirect(url_for("console.sign_in", next=quote(request.full_path.rstrip("?"))))
        return view(*args, **kwargs)
    return wrapper


def renew_if_due(response) -> None:
    """Sliding session: past half of its life, a console page's response carries a new access token
    (same token version and login id: a password change or logging that login out still ends it)."""
    caller = g.get("console_caller")
    if caller is None or caller.token is None or response.status_code >= 400:
        return
    lifetime_s = get_settings().security.access_token_minutes * 60
    if caller.token["exp"] - time.time() < lifetime_s / 2:
        set_access_cookies(response, tokens.access_token_for(caller.user, caller.token.get("ver", 0),
                                                                caller.token.get("sid")))
