"""The MCP front door hears every pub/sub channel (control, its SSE inbox, the workers' tool changes and
resource updates) on one Redis connection, which comes back after Redis drops it."""
import asyncio
import time

import psutil

from jobs.connection import redis_client
from tests.api.proxies import connect
from tests.harness import wait_for


def subscribed_connections(redis, pid: int) -> list[dict]:
    """The Redis clients of process `pid` that are subscribed to something (matched by their local port)."""
    ports = {c.laddr.port for c in psutil.Process(pid).net_connections("tcp") if c.raddr}
    return [c for c in redis.client_list() if int(c["addr"].rsplit(":", 1)[1]) in ports and int(c["sub"]) > 0]


def test_given_a_proxy_when_redis_drops_its_subscriber_then_one_connection_hears_every_channel_again(
        settings, database, start_proxy, serve_tool, make_api_key):
    # Given a front door whose catalog poll is too slow to matter: only a heard notice reloads it in time
    proxy = start_proxy(MCPS_MCP__PROXY__CATALOG_REFRESH_S="120")
    redis = redis_client(settings)
    _, key = make_api_key("operator")

    # Then one of its connections is subscribed, to all four channels
    first = wait_for(lambda: subscribed_connections(redis, proxy.process.pid), timeout=10)
    assert len(first) == 1 and int(first[0]["sub"]) == 4

    # When Redis drops that connection
    redis.client_kill_filter(_id=first[0]["id"])

    # Then it subscribes again, once, to the same four
    again = wait_for(lambda: [c for c in subscribed_connections(redis, proxy.process.pid) if c["id"] != first[0]["id"]],
                     timeout=10)
    assert len(again) == 1 and int(again[0]["sub"]) == 4
    assert len(subscribed_connections(redis, proxy.process.pid)) == 1

    # And a tool started afterwards is announced to it: its tools are served long before the next poll
    serve_tool("echo", "echo_server.py")
    started = time.monotonic()

    async def names():
        async with connect(proxy.url, key) as client:
            while True:
                listed = {tool.name for tool in (await client.list_tools(cache_mode="bypass")).tools}
                if "echo" in listed or time.monotonic() - started > 10:
                    return listed
                await asyncio.sleep(0.1)
    assert "echo" in asyncio.run(names())
    assert time.monotonic() - started < 10
