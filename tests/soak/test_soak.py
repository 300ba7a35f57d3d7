"""Load and soak (a marked run: `make test PYTEST_ARGS="-m soak"`, see README.md "Load and soak").

On the many-host platform of tests/hosts (two APIs, two front doors, two worker hosts, one Redis, one
PostgreSQL): many REST clients and MCP clients of both protocol eras call several tools for a bounded few
minutes (MCPS_SOAK_SECONDS, 180 by default). No call may fail except by a configured 429; no platform process
may die or grow (the least-squares slope of its RSS after warm-up stays under a bound); latency percentiles
are reported. Then 100 idle tools run at once and their memory per tool is reported.

Figures are printed and written to .cache/soak/<test>.json.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import threading
import time
from collections import Counter, defaultdict

import httpx2
import psutil
import pytest

from jobs import Job, JobClient
from jobs.connection import redis_client
from models import Tool
from tests.api.proxies import connect
from tests.harness import ROOT, SERVERS, make_stdio_tool, wait_for
from tests.hosts.conftest import PASSWORD, admin_of
from tests.soak.meters import MB, MemorySampler, percentiles, platform_processes, tool_servers

pytestmark = [pytest.mark.soak, pytest.mark.timeout(1800)]

SOAK_SECONDS = float(os.environ.get("MCPS_SOAK_SECONDS", "180"))
REST_CLIENTS = 6
MCP_CLIENTS_PER_ERA = 3
RECONNECT_EVERY = 100  # MCP calls per connection: sessions come and go all along
WARM_UP_FRACTION = 0.3  # RSS samples of the first 30 % of the run are not fitted
SLOPE_LIMIT_MB_PER_MIN = 2.0
IDLE_TOOLS = 100
REPORTS = ROOT / ".cache" / "soak"

# tool -> (its MCP tool, arguments)
CALLS = {"echo": ("echo", {"text": "soak"}), "time": ("get_current_time", {"timezone": "UTC"}),
         "legacy": ("echo", {"text": "soak"})}


def report(name: str, figures: dict, capsys) -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{name}.json").write_text(json.dumps(figures, indent=2))
    shown = {**figures}
    if "memory" in shown:  # one line a process: RSS at start, where the fit starts, at the end; slope
        shown["memory"] = {label: f"{m['start_mb']} -> {m['fit_from_mb']} -> {m['end_mb']} MB, "
                                  f"{m['slope_mb_per_min']:+.2f} MB/min" for label, m in figures["memory"].items()}
    with capsys.disabled():
        print(f"\n--- {name} ---\n{json.dumps(shown, indent=1)}")


class Tally:
    """Outcomes and latencies of every client, thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.outcomes: Counter = Counter()
        self.errors: list[str] = []

    def add(self, kind: str, seconds: float, outcome: str, detail: str = "") -> None:
        with self.lock:
            self.outcomes[(kind, outcome)] += 1
            if outcome == "ok":
                self.latencies[kind].append(seconds)
            elif outcome != "rate_limited" and len(self.errors) < 50:
                self.errors.append(f"{kind}: {detail[:300]}")


def rest_client(base: str, key: str, tool_ids: dict[str, int], tally: Tally, stop_at: float, offset: int) -> None:
    tools = itertools.islice(itertools.cycle(CALLS), offset, None)
    with httpx2.Client(base_url=base, headers={"X-API-Key": key}, timeout=60) as http:
        while time.monotonic() < stop_at:
            tool = next(tools)
            name, arguments = CALLS[tool]
            started = time.monotonic()
            try:
                response = http.post(f"/tools/{tool_ids[tool]}/call", json={"tool": name, "arguments": arguments})
            except httpx2.HTTPError as error:
                tally.add(f"rest.{tool}", 0, "error", repr(error))
                continue
            seconds = time.monotonic() - started
            if response.status_code == 429:
                tally.add(f"rest.{tool}", seconds, "rate_limited")
            elif response.status_code != 200 or response.json().get("isError"):
                tally.add(f"rest.{tool}", seconds, "error", f"{response.status_code} {response.text}")
            else:
                tally.add(f"rest.{tool}", seconds, "ok")


async def mcp_client(url: str, tool: str, key: str, mode: str, tally: Tally, stop_at: float) -> None:
    kind = f"mcp.{'2026' if mode == 'auto' else 'handshake'}.{tool}"
    name, arguments = CALLS[tool]
    while time.monotonic() < stop_at:
        try:
            async with connect(url, key, mode) as client:
                for _ in range(RECONNECT_EVERY):
                    if time.monotonic() >= stop_at:
                        break
                    started = time.monotonic()
                    result = await client.call_tool(name, arguments)
                    seconds = time.monotonic() - started
                    tally.add(kind, seconds, "error" if result.is_error else "ok", str(result.content)[:300])
        except Exception as error:  # noqa: BLE001  (every failure is counted as an error of the run)
            tally.add(kind, 0, "error", repr(error))


def run_mcp_clients(clients: list[tuple], tally: Tally, stop_at: float) -> None:
    async def all_of_them():
        await asyncio.gather(*(mcp_client(url, tool, key, mode, tally, stop_at) for url, tool, key, mode in clients))
    asyncio.run(all_of_them())


async def front_doors_serve(urls: list[str], key: str, timeout_s: float = 30) -> None:
    """Wait until every front door URL answers a call (each proxy has loaded the tools just started)."""
    deadline = time.monotonic() + timeout_s
    for url in urls:
        name, arguments = CALLS[url.rsplit("/", 1)[1]]
        while True:
            try:
                async with connect(url, key) as client:
                    if not (await client.call_tool(name, arguments)).is_error:
                        break
            except Exception:  # noqa: BLE001  (not loaded yet)
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.2)


def logged_in(host) -> httpx2.Client:
    http = httpx2.Client(base_url=f"{host.web.url}/api/v1", timeout=60)
    token = http.post("/auth/login", json={"username": "admin", "password": PASSWORD}).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    return http


def test_soak_given_many_rest_and_mcp_clients_for_minutes_then_no_errors_and_flat_memory(two_hosts, capsys):
    # Given the two-host platform running three tools: an SDK server (both eras), mcp-server-time and a
    # hand-written handshake-era server
    a, b = two_hosts
    admin_of(a.settings)
    at_a, at_b = logged_in(a), logged_in(b)
    bodies = {"echo": [str(SERVERS / "echo_server.py")], "time": ["-m", "mcp_server_time"],
              "legacy": [str(SERVERS / "legacy_server.py")]}
    tool_ids = {}
    for name, args in bodies.items():
        created = at_a.post("/tools", json={"name": name, "transport": "stdio", "command": sys.executable, "args": args})
        assert created.status_code == 201, created.text
        tool_ids[name] = created.json()["id"]
        assert at_b.post(f"/tools/{tool_ids[name]}/start?wait=true").status_code == 200
    keys = [at_a.post("/auth/api-keys", json={"name": f"client-{n}"}).json()["key"]
            for n in range(REST_CLIENTS + 2 * MCP_CLIENTS_PER_ERA)]
    asyncio.run(front_doors_serve([f"{host.proxy.base}/mcp/tools/{tool}" for host in (a, b) for tool in CALLS],
                                  keys[0]))
    processes = platform_processes(two_hosts)
    sampler = MemorySampler(processes)

    # When REST clients (spread over both APIs) and MCP clients of both eras (spread over both front doors,
    # reconnecting every RECONNECT_EVERY calls) call the tools for SOAK_SECONDS
    tally = Tally()
    sampler.start()
    started = time.monotonic()
    stop_at = started + SOAK_SECONDS
    rest = [threading.Thread(target=rest_client, args=(
        f"{(a, b)[n % 2].web.url}/api/v1", keys[n], tool_ids, tally, stop_at, n)) for n in range(REST_CLIENTS)]
    tools = itertools.cycle(CALLS)
    mcp = [(f"{(a, b)[n % 2].proxy.base}/mcp/tools/{next(tools)}", mode, keys[REST_CLIENTS + n])
           for n, mode in enumerate(["auto"] * MCP_CLIENTS_PER_ERA + ["legacy"] * MCP_CLIENTS_PER_ERA)]
    mcp = [(url, url.rsplit("/", 1)[1], key, mode) for url, mode, key in mcp]
    threads = rest + [threading.Thread(target=run_mcp_clients, args=(mcp, tally, stop_at))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SOAK_SECONDS + 120)
    elapsed = time.monotonic() - started
    sampler.stop()

    # Then (figures first, so that a failing run still reports them)
    trends = sampler.trends(WARM_UP_FRACTION)
    calls = sum(len(v) for v in tally.latencies.values())
    figures = {
        "seconds": round(elapsed, 1), "rest_clients": REST_CLIENTS, "mcp_clients": 2 * MCP_CLIENTS_PER_ERA,
        "calls_ok": calls, "calls_per_s": round(calls / elapsed, 1),
        "outcomes": {f"{kind} {outcome}": n for (kind, outcome), n in sorted(tally.outcomes.items())},
        "latency": {kind: percentiles(seconds) for kind, seconds in sorted(tally.latencies.items())},
        "latency_all": {"rest": percentiles([s for k, v in tally.latencies.items() if k.startswith("rest") for s in v]),
                        "mcp": percentiles([s for k, v in tally.latencies.items() if k.startswith("mcp") for s in v])},
        "memory": trends, "errors": tally.errors[:10],
    }
    report("soak", figures, capsys)
    # no call failed, but by a configured rate limit (429)
    assert not tally.errors, tally.errors[:10]
    assert not any(thread.is_alive() for thread in threads)
    # every kind of client was served all along
    assert {kind.split(".")[0] + "." + kind.split(".")[1] for kind in tally.latencies} >= {
        "rest.echo", "rest.time", "rest.legacy", "mcp.2026", "mcp.handshake"}
    # no platform process died or was replaced
    assert not sampler.lost, sampler.lost
    assert set(platform_processes(two_hosts)) == set(processes)
    # and none grows: its RSS trend after warm-up stays under the bound
    growing = {label: t for label, t in trends.items() if t["slope_mb_per_min"] > SLOPE_LIMIT_MB_PER_MIN}
    assert not growing, growing


def test_soak_given_100_idle_tools_running_at_once_then_their_memory_per_tool_is_reported(two_hosts, capsys):
    # Given the two worker hosts, idle, and their memory
    workers = [p for label, p in platform_processes(two_hosts).items() if ".workers." in label]
    time.sleep(3)
    before = sum(p.memory_info().rss for p in workers) / MB

    # When IDLE_TOOLS tools (a stdlib server, so the figure is the platform's) start at once
    redis = redis_client(two_hosts[0].settings)
    jobs = JobClient.from_settings(two_hosts[0].settings, redis)
    tools = [make_stdio_tool(f"idle{n}", "legacy_server.py") for n in range(IDLE_TOOLS)]
    started = time.monotonic()
    starts = [Job(kind="start", tool_id=tool.id) for tool in tools]
    for job in starts:
        jobs.submit(job)
    outcomes = [jobs.wait(job.id, 300)["status"] for job in starts]
    start_s = time.monotonic() - started
    wait_for(lambda: Tool.select().where(Tool.status == "RUNNING").count() == IDLE_TOOLS, timeout=60)
    time.sleep(5)  # settled: heartbeats and live stats of every tool going

    # Then every tool runs, and what each costs is reported
    servers = tool_servers(two_hosts)
    after = sum(p.memory_info().rss for p in workers) / MB
    server_rss = [p.memory_info().rss / MB for p in servers]
    server_uss = [p.memory_full_info().uss / MB for p in servers]
    cpu_before = {p.pid: sum(p.cpu_times()[:2]) for p in workers}
    running = {t.id: (t.pid, t.owner_worker) for t in Tool.select()}
    time.sleep(10)
    idle_cpu = sum(sum(p.cpu_times()[:2]) - cpu_before[p.pid] for p in workers) / 10 * 100
    per_host = Counter(t.owner_worker for t in Tool.select())
    figures = {
        "tools": IDLE_TOOLS, "start_all_s": round(start_s, 1), "tools_per_worker": sorted(per_host.values()),
        "worker_processes_rss_mb": {"before": round(before, 1), "after": round(after, 1)},
        "platform_mb_per_tool": round((after - before) / IDLE_TOOLS, 2),
        "server_rss_mb_mean": round(sum(server_rss) / len(server_rss), 2),
        "server_uss_mb_mean": round(sum(server_uss) / len(server_uss), 2),
        "total_rss_mb_per_tool": round((after - before + sum(server_rss)) / IDLE_TOOLS, 2),
        "total_uss_mb_per_tool": round((after - before + sum(server_uss)) / IDLE_TOOLS, 2),
        "workers_idle_cpu_percent": round(idle_cpu, 1),
    }
    report("idle_tools", figures, capsys)
    assert outcomes == ["succeeded"] * IDLE_TOOLS
    assert len(servers) == IDLE_TOOLS
    # and, idle, none was stopped or moved meanwhile (a heartbeat slowed by measuring 100 process trees once
    # renewed the leases too late: the tools were stopped and taken over, again and again)
    assert {t.id: (t.pid, t.owner_worker) for t in Tool.select()} == running
    assert all(psutil.Process(t.pid).is_running() for t in Tool.select())
