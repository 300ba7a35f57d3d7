"""A small MCP server (SDK MCPServer, both protocol eras) for the tests: echo, add with structured
output, a slow tool with progress, a tool error, log messages, a hang, a resource and a prompt.

Run: python tests/servers/echo_server.py [stdio|http PORT]
"""
import asyncio
import os
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

server = MCPServer("echo-server", version="1.0.0", instructions="Echoes things back.")
CALLS_FILE = os.environ.get("ECHO_CALLS_FILE")  # each call appends a line: proves at-most-once


def _count(name: str) -> None:
    if CALLS_FILE:
        with open(CALLS_FILE, "a") as handle:
            handle.write(name + "\n")


class Sum(BaseModel):
    total: int


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    _count("echo")
    return text


@server.tool()
def add(a: int, b: int) -> Sum:
    """Add two integers (structured output)."""
    return Sum(total=a + b)


@server.tool()
def fail(reason: str = "boom") -> str:
    """Always fails: the result has isError=true."""
    raise ToolError(reason)


@server.tool()
async def slow(steps: int = 3, delay: float = 0.1, ctx: Context = None) -> str:
    """Sleep `steps` times, reporting progress after each."""
    _count("slow")
    for step in range(1, steps + 1):
        await asyncio.sleep(delay)
        await ctx.report_progress(step, steps, f"step {step}")
    return f"done after {steps} steps"


@server.tool()
async def chatty(text: str, ctx: Context = None) -> str:
    """Log two messages to the client (when it asked for logs), then echo."""
    await ctx.info(f"about to echo {text}", logger_name="chatty")
    await ctx.warning({"echoing": text}, logger_name="chatty")
    return text


@server.tool()
async def hang() -> str:
    """Never answers (until cancelled: notifications/cancelled is recorded as `cancel-received`)."""
    _count("hang")
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        _count("cancel-received")
        raise
    return "unreachable"


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
async def grow(name: str, ctx: Context = None) -> str:
    """Add a tool named `name` (it echoes) and announce that the tool list changed."""
    server.add_tool(lambda text: text, name=name, description=f"grown tool {name}")
    await ctx.notify_tools_changed()
    return f"added {name}"


@server.tool()
def burn(seconds: float = 10.0) -> str:
    """Keep a core busy for `seconds`."""
    import time
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "burnt"


@server.resource("memo://greeting")
def greeting() -> str:
    """A fixed greeting."""
    return "hello from a resource"


@server.prompt()
def review(code: str) -> str:
    """Ask for a code review."""
    return f"Please review:\n{code}"


if __name__ == "__main__":
    print("echo-server starting", file=sys.stderr, flush=True)
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        import uvicorn
        uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
    else:
        server.run()
