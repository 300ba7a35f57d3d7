"""Sign-in and sign-out. The sign-in page's script logs in through the REST API (POST /auth/login: its
lockout and messages), then hands the access token to POST /session, which puts it in the httpOnly
cookie (and the CSRF cookie beside it). Sign-out: POST /auth/logout revokes the token, DELETE /session
clears the cookies."""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import make_response, redirect, render_template, request, url_for
from flask_jwt_extended import set_access_cookies, unset_jwt_cookies

from api.auth import authenticate, tokens
from api.console.blueprint import blp
from api.console.session_cookie import signed_in
from api.errors import error_response


def safe_next(target: str | None) -> str:
    """Only a path of this site (no scheme, no host): the sign-in page must not redirect elsewhere."""
    target = unquote(target or "")
    parts = urlsplit(target)
    # Browsers read "/\\host" as "//host"; control characters and spaces have no place in a path here.
    if (not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc
            or any(char == "\\" or char.isspace() or ord(char) < 32 for char in target)):
        return url_for("console.overview")
    return target


@blp.get("/login")
def sign_in():
    next_path = safe_next(request.args.get("next"))
    if signed_in() is not None:
        return redirect(next_path)
    return render_template("console/login.html", next_path=next_path)


@blp.post("/session")
def open_session():
    """Put the access token of `Authorization: Bearer` (a user's, fresh from /auth/login) in the cookies."""
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return error_response(401, "send the access token from /api/v1/auth/login as Authorization: Bearer")
    caller = authenticate()
    if caller.api_key is not None or caller.token is None:
        return error_response(403, "the console needs a user's login, not an API key")
    response = make_response("", 204)
    set_access_cookies(response, request.headers["Authorization"].split(" ", 1)[1].strip())
    return response


@blp.get("/session")
def session_alive():
    """204 while signed in (the answer renews the cookie past half its life: console.js asks every few
    minutes, so an open page keeps its session), else 401."""
    if signed_in() is None:
        return error_response(401, "not signed in")
    return make_response("", 204)


@blp.delete("/session")
def close_session():
    """Clear the session cookies (the token itself is revoked by POST /api/v1/auth/logout)."""
    csrf = request.cookies.get(tokens.CSRF_COOKIE)
    if csrf and request.headers.get(tokens.CSRF_HEADER) != csrf:
        return error_response(403, "missing or wrong X-CSRF-TOKEN")
    response = make_response("", 204)
    unset_jwt_cookies(response)
    return response
