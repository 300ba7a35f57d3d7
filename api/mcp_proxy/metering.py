"""What a proxy process did in the last minute, for its heartbeat (control.py): requests by era, calls,
errors, call latencies and requests in flight.

Counted in one-second buckets so that the cost per request is an increment, whatever the load; a bucket
keeps at most SAMPLES_PER_S latencies. `MeteredMethods` is `Methods` with the counting around `handle`,
so that every transport (streamable HTTP, legacy SSE) is measured in one place.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from api.mcp_proxy import eras
from api.mcp_proxy.methods import Methods, Request

WINDOW_S = 60
SAMPLES_PER_S = 50
PUBLISHED_SAMPLES = 200
CALL_METHODS = frozenset({"tools/call", "resources/read", "prompts/get", "completion/complete"})


@dataclass
class _Second:
    at: int
    modern: int = 0
    handshake: int = 0
    calls: int = 0
    errors: int = 0
    call_ms: list[float] = field(default_factory=list)


class Meter:
    def __init__(self):
        self.seconds: deque[_Second] = deque()
        self.in_flight = 0

    def _bucket(self, now: float) -> _Second:
        second = int(now)
        if not self.seconds or self.seconds[-1].at != second:
            self.seconds.append(_Second(second))
            self._prune(now)
        return self.seconds[-1]

    def _prune(self, now: float) -> None:
        while self.seconds and self.seconds[0].at <= now - WINDOW_S:
            self.seconds.popleft()

    def observe(self, method: str, modern: bool, elapsed_s: float, ok: bool) -> None:
        bucket = self._bucket(time.time())
        if modern:
            bucket.modern += 1
        else:
            bucket.handshake += 1
        if not ok:
            bucket.errors += 1
        if method in CALL_METHODS:
            bucket.calls += 1
            if len(bucket.call_ms) < SAMPLES_PER_S:
                bucket.call_ms.append(elapsed_s * 1000)

    def error(self) -> None:
        """An answer that never reached `handle` (a refused request, a transport error)."""
        self._bucket(time.time()).errors += 1

    def snapshot(self) -> dict:
        self._prune(time.time())
        seconds = list(self.seconds)
        samples = sorted(ms for s in seconds for ms in s.call_ms)
        step = max(1, len(samples) // PUBLISHED_SAMPLES)
        modern = sum(s.modern for s in seconds)
        handshake = sum(s.handshake for s in seconds)
        return {"requests_1m": modern + handshake, "modern_requests_1m": modern, "handshake_requests_1m": handshake,
                "calls_1m": sum(s.calls for s in seconds), "errors_1m": sum(s.errors for s in seconds),
                "p50_ms": round(samples[len(samples) // 2], 3) if samples else "",
                "recent_ms": [round(ms, 3) for ms in samples[::step]], "in_flight": self.in_flight}


class MeteredMethods(Methods):
    def __init__(self, services, meter: Meter):
        super().__init__(services)
        self.meter = meter

    async def handle(self, method: str, request: Request) -> dict:
        started = time.perf_counter()
        self.meter.in_flight += 1
        ok = False
        try:
            result = await super().handle(method, request)
            ok = True
            return result
        finally:
            self.meter.in_flight -= 1
            self.meter.observe(method, eras.is_modern(request.version), time.perf_counter() - started, ok)
