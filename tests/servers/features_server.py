"""An MCP server (SDK MCPServer, both protocol eras) for the pass-through tests of the front door:
argument completion, a resource template, a resource whose updates a tool announces, log messages at
every level, and enough tools, resources and prompts to fill more than one page of a list.

Run: python tests/servers/features_server.py
"""
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import Completion, PromptReference, ResourceTemplateReference

server = MCPServer("features-server", version="1.0.0")
COLOURS = ["red", "green", "blue", "black", "white"]
PAGE_FILLERS = 12
counter = {"value": 0}


@server.completion()
async def complete(ref, argument, context):
    if isinstance(ref, PromptReference) and ref.name == "paint" and argument.name == "colour":
        return Completion(values=[c for c in COLOURS if c.startswith(argument.value)])
    if isinstance(ref, ResourceTemplateReference) and argument.name == "topic":
        return Completion(values=[t for t in ("news", "notes", "numbers") if t.startswith(argument.value)])
    return None


@server.prompt()
def paint(colour: str) -> str:
    """Paint something in a colour."""
    return f"Paint it {colour}"


@server.resource("board://{topic}")
def board(topic: str) -> str:
    """A board per topic."""
    return f"board about {topic}"


@server.resource("counter://value")
def value() -> str:
    """A counter that `bump` increments (and announces)."""
    return str(counter["value"])


@server.tool()
async def bump(ctx: Context = None) -> int:
    """Increment the counter and announce that counter://value changed."""
    counter["value"] += 1
    await ctx.notify_resource_updated("counter://value")  # 2026-era: to listen streams
    try:
        await ctx.session.send_resource_updated("counter://value")  # handshake era: to subscribers
    except Exception:
        pass
    return counter["value"]


@server.tool()
async def whisper(text: str, ctx: Context = None) -> str:
    """Log at debug, info and error, then echo."""
    await ctx.debug(f"debug {text}")
    await ctx.info(f"info {text}")
    await ctx.error(f"error {text}")
    return text


def _filler(number: int):
    def text() -> str:
        return f"filler {number}"
    return text


for number in range(PAGE_FILLERS):
    server.add_tool(_filler(number), name=f"filler{number:02d}", description=f"filler tool {number}")
    server.resource(f"filler://{number:02d}", name=f"filler{number:02d}")(_filler(number))
    server.prompt(name=f"filler{number:02d}")(_filler(number))


if __name__ == "__main__":
    print("features-server starting", file=sys.stderr, flush=True)
    server.run()
