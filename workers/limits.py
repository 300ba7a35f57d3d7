"""Resource limits of a tool's process tree, checked on every heartbeat of its owning worker.

Over `memory_limit_mb` the server is killed at once; over `cpu_limit_percent` (the whole tree, 100 =
one core) for CPU_GRACE_BEATS heartbeats in a row it is killed too. Supervision then restarts it with
back-off like any crash, and the reason is in the tool's log and last_error.
"""
from __future__ import annotations

import time
from collections import defaultdict

import psutil

CPU_GRACE_BEATS = 5


def children_map() -> dict[int, list[int]]:
    """ppid -> pids of every process, from one scan of /proc. psutil's `children(recursive=True)` makes such a
    scan at each call: once per tool per heartbeat, it took a worker with 100 tools seconds a beat."""
    children = defaultdict(list)
    for process in psutil.process_iter(["ppid"]):
        children[process.info["ppid"]].append(process.pid)
    return children


def descendants(pid: int, children_of: dict[int, list[int]]) -> list[int]:
    found, pending = [], list(children_of.get(pid, ()))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(children_of.get(child, ()))
    return found


class TreeMeter:
    """Memory and CPU of one server's process tree; keeps the psutil handles CPU deltas need."""

    def __init__(self, pid: int):
        self.root = psutil.Process(pid)
        self._known: dict[int, psutil.Process] = {}
        self.cpu_over = 0

    def sample(self, children_of: dict[int, list[int]] | None = None) -> dict:
        """The tree's figures; `children_of` (children_map(), shared by every meter of one heartbeat) finds
        the tree without a scan of /proc of its own."""
        if children_of is None:
            tree = [self.root, *self.root.children(recursive=True)]
        else:
            tree = [self.root, *(self._known.get(pid) or _process(pid) for pid in descendants(self.root.pid, children_of))]
        live = {p.pid: self._known.setdefault(p.pid, p) for p in tree if p is not None}
        self._known = live
        rss, cpu = 0, 0.0
        for process in live.values():
            try:
                rss += process.memory_info().rss
                cpu += process.cpu_percent(None)  # since the previous sample (0.0 the first time)
            except psutil.Error:
                continue
        return {"memory_mb": round(rss / 2**20, 1), "cpu_percent": round(cpu, 1),
                "uptime_s": round(time.time() - self.root.create_time(), 1), "processes": len(live)}

    def violation(self, stats: dict, memory_limit_mb: int | None, cpu_limit_percent: int | None) -> str | None:
        """Why the tree must be killed now, or None."""
        if memory_limit_mb and stats["memory_mb"] > memory_limit_mb:
            return f"memory {stats['memory_mb']:.0f} MB over its limit of {memory_limit_mb} MB"
        self.cpu_over = self.cpu_over + 1 if cpu_limit_percent and stats["cpu_percent"] > cpu_limit_percent else 0
        if self.cpu_over >= CPU_GRACE_BEATS:
            return f"CPU {stats['cpu_percent']:.0f}% over its limit of {cpu_limit_percent}% for {self.cpu_over} beats"
        return None

    def kill(self) -> None:
        for process in [*self._known.values()]:
            try:
                process.kill()
            except psutil.Error:
                pass


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:  # gone since the scan
        return None
