"""Benchmark: the same MCP tool called directly with the SDK, through the job path (Dramatiq + Redis,
in-process client) and through the REST API (HTTP sync call), sequentially and by 16 clients at once,
and once after an idle pause. Prints a table and the gateway overhead, then the start-up time of
`make run` on a fresh data dir until /system/health says ok (bench/startup.py).

    make bench                      # or: .venv/bin/python -m bench [--calls 500] [--redis-url redis://...]
"""
from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2
from mcp import Client, StdioServerParameters

from bench.stack import Stack
from bench.startup import measure_startup
from jobs import Job, JobClient
from jobs.connection import redis_client

TOOL = {"name": "time", "transport": "stdio", "command": sys.executable, "args": ["-m", "mcp_server_time"]}
CALL = ("get_current_time", {"timezone": "UTC"})


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Result:
    """One path's measurements, over every round: latencies and idle calls pooled, rates per round."""

    def __init__(self, name: str):
        self.name = name
        self.latencies: list[float] = []
        self.rates_1: list[float] = []
        self.rates_16: list[float] = []
        self.idle: list[float] = []

    @property
    def rate_1(self) -> float:
        return statistics.median(self.rates_1)

    @property
    def rate_16(self) -> float:
        return statistics.median(self.rates_16)

    def row(self) -> list[str]:
        return [self.name, f"{percentile(self.latencies, 0.5):.2f}", f"{percentile(self.latencies, 0.99):.2f}",
                f"{self.rate_1:.0f}", f"{self.rate_16:.0f}", f"{statistics.median(self.idle):.2f}"]


def measure_sync(result: Result, call, calls: int, clients: int, idle_s: float, idle_rounds: int,
                 make_caller) -> Result:
    for _ in range(50):
        call()
    started = time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter()
        call()
        result.latencies.append((time.perf_counter() - t0) * 1000)
    result.rates_1.append(calls / (time.perf_counter() - started))
    callers = [make_caller() for _ in range(clients)]
    barrier = threading.Barrier(clients)

    def client_loop(index: int) -> None:
        barrier.wait()
        for _ in range(calls // clients):
            callers[index]()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client_loop, range(clients)))
    result.rates_16.append((calls // clients) * clients / (time.perf_counter() - started))
    for _ in range(idle_rounds):
        time.sleep(idle_s)
        t0 = time.perf_counter()
        call()
        result.idle.append((time.perf_counter() - t0) * 1000)
    return result


async def measure_direct(result: Result, calls: int, clients: int, idle_s: float, idle_rounds: int) -> Result:
    params = StdioServerParameters(command=TOOL["command"], args=TOOL["args"])
    async with Client(params) as client:
        async def call():
            await client.call_tool(*CALL)
        for _ in range(50):
            await call()
        started = time.perf_counter()
        for _ in range(calls):
            t0 = time.perf_counter()
            await call()
            result.latencies.append((time.perf_counter() - t0) * 1000)
        result.rates_1.append(calls / (time.perf_counter() - started))

        async def client_loop():
            for _ in range(calls // clients):
                await call()
        started = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(clients)))
        result.rates_16.append((calls // clients) * clients / (time.perf_counter() - started))
        for _ in range(idle_rounds):
            await asyncio.sleep(idle_s)
            t0 = time.perf_counter()
            await call()
            result.idle.append((time.perf_counter() - t0) * 1000)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=500, help="calls per measurement (default 500)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds, each measuring every path in turn (default 3): a noisy machine's "
                             "drift then hits every path alike")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--idle", type=float, default=5.0, help="idle pause before the 'after idle' call (s)")
    parser.add_argument("--idle-rounds", type=int, default=3, help="how many idle pauses (median reported)")
    parser.add_argument("--redis-url", help="a real Redis instead of the embedded one")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes (default 2, as the Procfile)")
    parser.add_argument("--web-threads", type=int, default=32, help="gunicorn threads (default 32, as the Procfile)")
    parser.add_argument("--web-class", default="gthread", help="gunicorn worker class (default gthread)")
    parser.add_argument("--startup-runs", type=int, default=3,
                        help="times `make run` is started on a fresh data dir (median reported; 0: skip)")
    args = parser.parse_args()

    direct, job, rest = (Result("direct (SDK, stdio)"), Result("job path (Dramatiq+Redis)"),
                         Result("REST sync call"))
    with Stack(args.redis_url, worker_threads=32, web_workers=args.web_workers, web_threads=args.web_threads,
               web_class=args.web_class) as stack:
        headers = stack.login()
        api = httpx2.Client(base_url=stack.base, headers=headers, timeout=60)
        tool = api.post("/tools", json=TOOL).json()
        api.post(f"/tools/{tool['id']}/start?wait=true").raise_for_status()

        client = redis_client(stack.settings)
        jobs = JobClient.from_settings(stack.settings, client)

        def job_caller():
            return lambda: _check_job(jobs.run(Job(kind="call", tool_id=tool["id"],
                                                   args={"tool": CALL[0], "arguments": CALL[1]}), 30))

        def rest_caller():
            # The standard library's keep-alive client: it adds the least of its own to the measure.
            connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
            body = json.dumps({"tool": CALL[0], "arguments": CALL[1]})
            request_headers = {**headers, "Content-Type": "application/json"}
            path = f"/api/v1/tools/{tool['id']}/call"

            def call():
                try:
                    connection.request("POST", path, body, request_headers)
                    reply = connection.getresponse()
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                    connection.close()  # the server closed an idle keep-alive connection: reconnect
                    connection.request("POST", path, body, request_headers)
                    reply = connection.getresponse()
                _check_http(reply.status, reply.read())
            return call

        for _ in range(args.rounds):
            asyncio.run(measure_direct(direct, args.calls, args.clients, args.idle, args.idle_rounds))
            measure_sync(job, job_caller(), args.calls, args.clients, args.idle, args.idle_rounds, job_caller)
            measure_sync(rest, rest_caller(), args.calls, args.clients, args.idle, args.idle_rounds, rest_caller)
    print_table([direct, job, rest], args)
    if args.startup_runs:
        print_startup([measure_startup() for _ in range(args.startup_runs)])
    return 0


def print_startup(runs) -> None:
    healthy = statistics.median(run.healthy_s for run in runs)
    bootstrap = statistics.median(run.bootstrap_s for run in runs)
    print(f"\nstart-up (make run, fresh data dir, until /system/health is ok): median {healthy:.2f} s of "
          f"{len(runs)} (bootstrap {bootstrap:.2f} s of it; each: {', '.join(f'{r.healthy_s:.2f}' for r in runs)} s)")


def _check_job(event: dict) -> None:
    if event.get("status") != "succeeded" or event["result"].get("isError"):
        raise RuntimeError(f"call failed: {event}")


def _check_http(status: int, body: bytes) -> None:
    if status != 200 or json.loads(body).get("isError"):
        raise RuntimeError(f"call failed: {status} {body[:300]!r}")


def print_table(results: list[Result], args) -> None:
    header = ["path", "p50 ms", "p99 ms", "calls/s (1)", f"calls/s ({args.clients})",
              f"after {args.idle:g}s idle ms"]
    rows = [header] + [r.row() for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for index, row in enumerate(rows):
        print(" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            print("-+-".join("-" * w for w in widths))
    direct = results[0]
    print(f"\nbackend: mcp-server-time {CALL[0]}, {args.rounds} rounds of {args.calls} calls per path "
          f"(latencies pooled, rates: median of the rounds)")
    for other in results[1:]:
        p50 = percentile(other.latencies, 0.5) - percentile(direct.latencies, 0.5)
        idle = statistics.median(other.idle) - statistics.median(direct.idle)
        print(f"{other.name}: overhead p50 {p50:+.2f} ms, after idle {idle:+.2f} ms, "
              f"{args.clients} clients {other.rate_16 / direct.rate_16:.0%} of direct throughput")


if __name__ == "__main__":
    sys.exit(main())
