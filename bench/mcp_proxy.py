"""Benchmark rows of the MCP front door, all against mcp-server-time in the same run:

- direct stdio (the SDK client spawning the server),
- the server served natively over streamable HTTP by the SDK itself (`create_server(...)` with
  `run_streamable_http_async`): the floor an HTTP front door can reach,
- the proxy (`python -m api.mcp_proxy`) in front of the platform's stdio tool,

the HTTP ones with a 2026-era (`auto`) and a handshake-era (`legacy`) client: p50/p99 of sequential calls,
a call after `--idle` seconds, and 16 concurrent client sessions each asking its own time zone (calls/s,
and answers that came back for the wrong zone).

    .venv/bin/python -m bench.mcp_proxy [--calls 300] [--redis-url redis://127.0.0.1:6379/0]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from contextlib import asynccontextmanager

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from bench.__main__ import percentile
from bench.stack import ROOT, Stack, free_port

ZONES = ["UTC", "Europe/Paris", "Asia/Tokyo", "America/New_York", "Europe/London", "Australia/Sydney",
         "America/Sao_Paulo", "Africa/Cairo", "Asia/Kolkata", "Europe/Berlin", "America/Chicago", "Asia/Dubai",
         "Pacific/Auckland", "Europe/Madrid", "Asia/Singapore", "America/Los_Angeles"]
NATIVE_SERVER = ("import asyncio, sys; from mcp_server_time.server import create_server; "
                 "asyncio.run(create_server('UTC').run_streamable_http_async(port=int(sys.argv[1])))")


@asynccontextmanager
async def http_client(url: str, mode: str, key: str | None = None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=None)) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            yield client


async def time_in(client: Client, zone: str) -> str:
    result = await client.call_tool("get_current_time", {"timezone": zone})
    return json.loads(result.content[0].text)["timezone"]


async def measure(name: str, connect, calls: int, idle_s: float) -> dict:
    async with connect() as client:
        for _ in range(20):  # warm-up
            await time_in(client, "UTC")
        latencies = []
        for _ in range(calls):
            started = time.perf_counter()
            await time_in(client, "UTC")
            latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(idle_s)
        started = time.perf_counter()
        await time_in(client, "UTC")
        idle_ms = (time.perf_counter() - started) * 1000
    rate, misrouted = await concurrent(connect, max(calls // 4, 20))
    return {"path": name, "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99), "idle": idle_ms,
            "rate16": rate, "misrouted": misrouted}


async def concurrent(connect, calls_each: int) -> tuple[float, int]:
    """16 client sessions at once, each asking for its own zone; (calls/s, answers for another zone)."""
    misrouted = 0

    async def session(zone: str) -> None:
        nonlocal misrouted
        async with connect() as client:
            await time_in(client, zone)
            await ready.wait()
            for _ in range(calls_each):
                if await time_in(client, zone) != zone:
                    misrouted += 1

    ready = asyncio.Event()
    tasks = [asyncio.create_task(session(zone)) for zone in ZONES]
    await asyncio.sleep(2)  # every session connected
    started = time.perf_counter()
    ready.set()
    await asyncio.gather(*tasks)
    return len(ZONES) * calls_each / (time.perf_counter() - started), misrouted


def wait_port(port: int, timeout: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def platform_key(stack: Stack) -> str:
    """Create and start the time tool through the REST API; an API key for the proxy."""
    admin = stack.login()
    tool = httpx2.post(f"{stack.base}/tools", headers=admin, json={
        "name": "time", "transport": "stdio", "command": sys.executable, "args": ["-m", "mcp_server_time"]}).json()
    httpx2.post(f"{stack.base}/tools/{tool['id']}/start?wait=true", headers=admin, timeout=60).raise_for_status()
    reply = httpx2.post(f"{stack.base}/auth/api-keys", headers=admin, json={"name": "bench"})
    reply.raise_for_status()
    return reply.json()["key"]


async def run(args) -> list[dict]:
    rows = []
    with Stack(args.redis_url, worker_threads=8, web_workers=1, web_threads=4) as stack:
        key = platform_key(stack)
        native_port, proxy_port = free_port(), free_port()
        children = [
            subprocess.Popen([sys.executable, "-c", NATIVE_SERVER, str(native_port)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            subprocess.Popen([sys.executable, "-m", "api.mcp_proxy", "--port", str(proxy_port)], cwd=ROOT,
                             env=stack.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        try:
            wait_port(native_port)
            wait_port(proxy_port)
            direct = StdioServerParameters(command=sys.executable, args=["-m", "mcp_server_time"])
            paths = [("direct stdio", lambda: Client(direct))]
            for mode in ("auto", "legacy"):
                era = "2026" if mode == "auto" else "handshake"
                paths.append((f"native HTTP ({era})",
                              lambda mode=mode: http_client(f"http://127.0.0.1:{native_port}/mcp", mode)))
                paths.append((f"proxy ({era})",
                              lambda mode=mode: http_client(f"http://127.0.0.1:{proxy_port}/mcp", mode, key)))
            for name, connect in paths:
                if args.only and args.only not in name:
                    continue
                rows.append(await measure(name, connect, args.calls, args.idle))
                print(_format(rows[-1]), flush=True)
        finally:
            for child in children:
                child.terminate()
                child.wait(10)
    return rows


def _format(row: dict) -> str:
    return (f"| {row['path']:<24} | {row['p50']:6.2f} | {row['p99']:6.2f} | {row['idle']:6.2f} | "
            f"{row['rate16']:7.0f} | {row['misrouted']} |")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mcp_proxy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--idle", type=float, default=5.0)
    parser.add_argument("--redis-url")
    parser.add_argument("--only", help="measure only the paths whose name contains this")
    args = parser.parse_args()
    print("| path                     | p50 ms | p99 ms | idle ms | 16×calls/s | misrouted |")
    rows = asyncio.run(run(args))
    native = {r["path"].split("(")[1]: r for r in rows if r["path"].startswith("native")}
    for row in rows:
        if row["path"].startswith("proxy"):
            base = native.get(row["path"].split("(")[1])
            if base:
                print(f"{row['path']}: +{row['p50'] - base['p50']:.2f} ms p50, +{row['p99'] - base['p99']:.2f} ms p99 "
                      f"over native; {row['rate16'] / base['rate16']:.0%} of its 16-session throughput")
    return 0


if __name__ == "__main__":
    sys.exit(main())
