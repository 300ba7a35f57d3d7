"""What the soak run measures: the resident memory of every platform process over time (and its trend), and
latency percentiles."""
from __future__ import annotations

import contextlib
import statistics
import threading
import time
from dataclasses import dataclass, field

import psutil

MB = 1024 * 1024
SERVER_MARKERS = ("tests/servers/", "tests/hosts/quick_server", "mcp_server_time", "mcp-server-time")


def is_tool_server(process: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return any(marker in part for part in process.cmdline() for marker in SERVER_MARKERS)
    return False


def platform_processes(hosts) -> dict[str, psutil.Process]:
    """label -> process of every platform process of the hosts (tool servers left out): each API's gunicorn
    arbiter and workers, each front door, each worker host's supervisor, Dramatiq main and worker processes."""
    found = {}
    for host in hosts:
        roots = {"web": host.web.process.pid, "proxy": host.proxy.process.pid, "workers": host.workers.pid}
        for role, pid in roots.items():
            root = psutil.Process(pid)
            found[f"{host.name}.{role}.{pid}"] = root
            for child in root.children(recursive=True):
                if not is_tool_server(child):
                    found[f"{host.name}.{role}.{child.pid}"] = child
    return found


def tool_servers(hosts) -> list[psutil.Process]:
    servers = []
    for host in hosts:
        with contextlib.suppress(psutil.NoSuchProcess):
            servers += [p for p in psutil.Process(host.workers.pid).children(recursive=True) if is_tool_server(p)]
    return servers


@dataclass
class MemorySampler:
    """RSS of each process every `interval_s`, on a thread of its own."""
    processes: dict[str, psutil.Process]
    interval_s: float = 2.0
    samples: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # label -> [(t s, RSS MB)]
    lost: set[str] = field(default_factory=set)  # processes that went away meanwhile

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        started = time.monotonic()
        while True:
            now = time.monotonic() - started
            for label, process in self.processes.items():
                try:
                    self.samples.setdefault(label, []).append((now, process.memory_info().rss / MB))
                except psutil.Error:
                    self.lost.add(label)
            if self._stop.wait(self.interval_s):
                return

    def trends(self, skip_fraction: float) -> dict[str, dict]:
        """label -> RSS first/last MB and the least-squares slope in MB/min, over the samples after the first
        `skip_fraction` of the run (warm-up: caches, pools and arenas fill)."""
        result = {}
        for label, points in self.samples.items():
            kept = points[int(len(points) * skip_fraction):]
            if len(kept) < 3:
                continue
            times, rss = [t / 60 for t, _ in kept], [m for _, m in kept]
            slope = statistics.linear_regression(times, rss).slope
            result[label] = {"start_mb": round(points[0][1], 1), "fit_from_mb": round(rss[0], 1),
                             "end_mb": round(rss[-1], 1), "max_mb": round(max(rss), 1),
                             "slope_mb_per_min": round(slope, 3)}
        return result


def percentiles(seconds: list[float]) -> dict:
    if not seconds:
        return {}
    ordered = sorted(seconds)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)
    return {"n": len(ordered), "p50_ms": at(0.50), "p90_ms": at(0.90), "p99_ms": at(0.99),
            "max_ms": round(ordered[-1] * 1000, 2)}
