"""A result as the client's protocol revision has it, whatever revision the backend spoke.

A 2026-07-28 result carries `resultType` (and, for cacheable methods, `ttlMs` + `cacheScope`, which the
2026 wire requires); a handshake-era result has none of them. The SDK's `serialize_server_result` does
this by validating the whole result against the revision's model, tens of microseconds for a small result
and more for a big one; these few keys are all that differ between the eras for the results we pass
through, so they are set or dropped here.
"""
from __future__ import annotations

from mcp_types.methods import CACHEABLE_METHODS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

_MODERN_ONLY = ("resultType", "ttlMs", "cacheScope")


def is_modern(version: str | None) -> bool:
    return version in MODERN_PROTOCOL_VERSIONS


def for_client(method: str, version: str, result: dict) -> dict:
    if is_modern(version):
        if "resultType" in result and (method not in CACHEABLE_METHODS or "cacheScope" in result):
            return result
        result = {**result}
        result.setdefault("resultType", "complete")
        if method in CACHEABLE_METHODS:
            result.setdefault("ttlMs", 0)
            result.setdefault("cacheScope", "private")
        return result
    if any(name in result for name in _MODERN_ONLY):
        return {name: value for name, value in result.items() if name not in _MODERN_ONLY}
    return result
