"""Failed logins, counted per username and per client address, separately.

Per username: after `security.max_login_attempts` failures the name is locked for `lockout_minutes`
(423 with Retry-After), whether or not a user has that name: existing users keep their count in the
database (an admin sees `locked_until`), other names here in Redis, so that the answers do not tell
which users exist. Per address: `max_login_failures_per_ip` failures in a lockout window make that
address wait (429), without touching anyone else's logins from behind the same NAT.
"""
from __future__ import annotations

from api.errors import abort
from api.extensions import get_redis, get_settings
from jobs.keys import key

UNKNOWN_COUNT_TTL_S = 30 * 24 * 3600  # as the database's count, which only a success resets


def _key(*parts) -> str:
    return key(get_settings(), "login", *parts)


def abort_locked(seconds: int) -> None:
    """423 Locked: too many failed logins; Retry-After says when a login may succeed again."""
    seconds = max(int(seconds), 1)
    abort(423, message=f"account locked after too many failed logins; try again in {seconds} s",
          headers={"Retry-After": str(seconds)})


def check_address(address: str | None) -> None:
    """429 while this address has spent its failed logins."""
    security = get_settings().security
    failures_key = _key("failed_ip", address or "unknown")
    failures = get_redis().get(failures_key)
    if failures is not None and int(failures) >= security.max_login_failures_per_ip:
        retry_after = max(get_redis().ttl(failures_key), 1)
        abort(429, message="too many failed logins from this address; try again later",
              headers={"Retry-After": str(retry_after)})


def record_address_failure(address: str | None) -> None:
    pipe = get_redis().pipeline(transaction=False)
    failures_key = _key("failed_ip", address or "unknown")
    pipe.incr(failures_key)
    pipe.expire(failures_key, get_settings().security.lockout_minutes * 60, nx=True)
    pipe.execute()


def check_unknown_name(username: str) -> None:
    """423 while a name no user has is locked, exactly as a user's would be."""
    ttl = get_redis().ttl(_key("locked", username))
    if ttl > 0:
        abort_locked(ttl + 1)


def record_unknown_name_failure(username: str) -> None:
    """Count a failed login of a name no user has; the max_login_attempts-th one locks the name."""
    security = get_settings().security
    count_key = _key("failures", username)
    pipe = get_redis().pipeline(transaction=False)
    pipe.incr(count_key)
    pipe.expire(count_key, UNKNOWN_COUNT_TTL_S)
    failures = pipe.execute()[0]
    if failures >= security.max_login_attempts:
        lock_s = security.lockout_minutes * 60
        get_redis().delete(count_key)
        get_redis().set(_key("locked", username), 1, ex=lock_s)
        abort_locked(lock_s + 1)
