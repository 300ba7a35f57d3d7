"""The front door's control plane in Redis, shared by the proxy processes and the REST API (/api/v1/proxy).

- `<ns>:proxy:process:<id>`: one proxy process's heartbeat hash (what it serves, its streams, requests and
  calls in the last minute, errors, a sample of recent call latencies), written every
  `mcp.proxy.heartbeat_s` and expiring after three; `<ns>:proxy:processes` the ids seen (readers prune).
- `<ns>:proxy:serving`: "0" while the front door is stopped: no new sessions, existing ones finish.
- `<ns>:proxy:config`: the generation of the live config (naming policy, virtual servers) in the database,
  incremented by every change; a process that sees a newer one reloads it.
- `<ns>:proxy:control`: pub/sub channel, "look again now" after either changed, so that a stop or a config
  change takes effect at once instead of at the next heartbeat.
- `<ns>:proxy:inbox:<id>`: pub/sub channel of one process: answers for the legacy SSE streams it holds.
- `<ns>:mcp:sessions`: handshake-era sessions by expiry time (sessions.py), for counting them.

Readers here are synchronous (the REST API); the proxy writes with redis.asyncio (heartbeat.py).
"""
from __future__ import annotations

import json
import statistics
import time

from config import Section
from jobs.keys import key

HEARTBEATS_TO_EXPIRE = 3


def process_key(settings: Section, process_id: str) -> str:
    return key(settings, "proxy", "process", process_id)


def processes_key(settings: Section) -> str:
    return key(settings, "proxy", "processes")


def serving_key(settings: Section) -> str:
    return key(settings, "proxy", "serving")


def generation_key(settings: Section) -> str:
    return key(settings, "proxy", "config")


def control_channel(settings: Section) -> str:
    return key(settings, "proxy", "control")


def inbox_channel(settings: Section, process_id: str) -> str:
    return key(settings, "proxy", "inbox", process_id)


def sessions_index_key(settings: Section) -> str:
    return key(settings, "mcp", "sessions")


# -- the REST API's side ----------------------------------------------------------------------------

def is_serving(redis, settings: Section) -> bool:
    return redis.get(serving_key(settings)) != b"0"


def set_serving(redis, settings: Section, serving: bool) -> None:
    redis.set(serving_key(settings), b"1" if serving else b"0")
    redis.publish(control_channel(settings), b"serving")


def bump_generation(redis, settings: Section) -> int:
    """Tell every proxy process the config in the database changed; returns the new generation."""
    generation = redis.incr(generation_key(settings))
    redis.publish(control_channel(settings), b"config")
    return generation


def live_processes(redis, settings: Section) -> list[dict]:
    """Every proxy process whose heartbeat has not expired, decoded; ids of expired ones are pruned."""
    ids = sorted(member.decode() for member in redis.smembers(processes_key(settings)))
    pipe = redis.pipeline(transaction=False)
    for process_id in ids:
        pipe.hgetall(process_key(settings, process_id))
    processes, gone = [], []
    for process_id, fields in zip(ids, pipe.execute()):
        if not fields:
            gone.append(process_id)
            continue
        processes.append(decode_heartbeat(fields))
    if gone:
        redis.srem(processes_key(settings), *gone)
    return processes


def count_handshake_sessions(redis, settings: Section) -> int:
    index = sessions_index_key(settings)
    pipe = redis.pipeline(transaction=False)
    pipe.zremrangebyscore(index, "-inf", time.time())
    pipe.zcard(index)
    return pipe.execute()[1]


_INTS = ("pid", "in_flight", "sse_streams", "requests_1m", "modern_requests_1m", "handshake_requests_1m",
         "calls_1m", "errors_1m", "config_generation", "settings_generation")
_FLOATS = ("started_at", "last_seen", "p50_ms")


def decode_heartbeat(fields: dict) -> dict:
    beat = {name.decode(): value.decode() for name, value in fields.items()}
    for name in _INTS:
        beat[name] = int(beat.get(name) or 0)
    for name in _FLOATS:
        beat[name] = float(beat[name]) if beat.get(name) not in (None, "") else None
    beat["serving"] = beat.get("serving") == "1"
    beat["recent_ms"] = json.loads(beat.get("recent_ms") or "[]")
    return beat


def summarize(serving: bool, processes: list[dict], handshake_sessions: int) -> dict:
    """The front door as a whole: what /api/v1/proxy/status answers."""
    samples = [ms for beat in processes for ms in beat["recent_ms"]]
    in_flight = sum(beat["in_flight"] for beat in processes)
    return {
        "serving": serving and bool(processes),
        "accepting_new_sessions": serving,
        "draining": not serving and in_flight > 0,
        "processes": len(processes),
        "sessions": {"handshake": handshake_sessions, "legacy_sse": sum(b["sse_streams"] for b in processes)},
        "requests_per_min": {"2026-07-28": sum(b["modern_requests_1m"] for b in processes),
                             "handshake": sum(b["handshake_requests_1m"] for b in processes)},
        "calls_per_min": sum(b["calls_1m"] for b in processes),
        "errors_per_min": sum(b["errors_1m"] for b in processes),
        "p50_ms": round(statistics.median(samples), 3) if samples else None,
        "in_flight": in_flight,
        "per_process": [{name: value for name, value in beat.items() if name != "recent_ms"} for beat in processes],
    }
