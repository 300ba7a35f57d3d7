"""A small MCP server (SDK MCPServer) whose tools ask their client something in the middle of a call:
`confirm` elicits, `summarize` samples the client's model, `roots` lists the client's roots.

How it asks depends on the era of the connection, as a real dual-era server does: on a 2026-07-28
connection a tool *returns* an InputRequiredResult and reads the answer from the retry
(`ctx.input_responses`); on a handshake-era connection it sends the request back to the client
(`elicitation/create`, `sampling/createMessage`, `roots/list`) and waits for it.

Run: python tests/servers/asking_server.py [--legacy]
  --legacy  answer `server/discover` with "method not found", as a server that predates 2026-07-28
            does: clients fall back to `initialize`, so every question is a back-channel request.
"""
import sys
import warnings

from mcp.server.elicitation import AcceptedElicitation
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import METHOD_NOT_FOUND
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from mcp.types import (CreateMessageRequest, CreateMessageRequestParams, ElicitRequest, ElicitRequestFormParams,
                       ElicitResult, InputRequiredResult, ListRootsRequest, SamplingMessage, TextContent)
from mcp.shared.exceptions import MCPDeprecationWarning
from pydantic import BaseModel

# Sampling and roots are deprecated at 2026-07-28; asking for them is the point of this server.
warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

LEGACY = "--legacy" in sys.argv
server = MCPServer("asking-server-legacy" if LEGACY else "asking-server", version="1.0.0")
CONFIRM_SCHEMA = {"type": "object", "properties": {"confirm": {"type": "boolean", "description": "Go ahead?"}},
                  "required": ["confirm"]}


class Confirmation(BaseModel):
    confirm: bool


def _modern(ctx: Context) -> bool:
    return ctx.request_context.protocol_version in MODERN_PROTOCOL_VERSIONS


@server.tool()
async def confirm(action: str, ctx: Context) -> str | InputRequiredResult:
    """Ask the user to confirm `action` (elicitation), then say what they chose."""
    if _modern(ctx):
        answer = (ctx.input_responses or {}).get("confirm")
        if answer is None:
            ask = ElicitRequest(params=ElicitRequestFormParams(message=f"Proceed with {action}?",
                                                               requested_schema=CONFIRM_SCHEMA))
            return InputRequiredResult(input_requests={"confirm": ask}, request_state=action)
        accepted = isinstance(answer, ElicitResult) and answer.action == "accept" and (answer.content or {}).get("confirm")
        return f"{'confirmed' if accepted else 'declined'} {action}"
    try:
        answer = await ctx.elicit(f"Proceed with {action}?", Confirmation)
    except MCPError as error:
        return f"no answer for {action}: {error}"
    accepted = isinstance(answer, AcceptedElicitation) and answer.data.confirm
    return f"{'confirmed' if accepted else 'declined'} {action}"


@server.tool()
async def summarize(text: str, ctx: Context) -> str | InputRequiredResult:
    """Ask the client's model for a one-line summary of `text` (sampling)."""
    message = SamplingMessage(role="user", content=TextContent(type="text", text=f"Summarize: {text}"))
    if _modern(ctx):
        answer = (ctx.input_responses or {}).get("summary")
        if answer is None:
            ask = CreateMessageRequest(params=CreateMessageRequestParams(messages=[message], max_tokens=50))
            return InputRequiredResult(input_requests={"summary": ask}, request_state="summarizing")
        return f"summary: {answer.content.text}"
    result = await ctx.session.create_message(messages=[message], max_tokens=50)
    return f"summary: {result.content.text}"


@server.tool()
async def roots(ctx: Context) -> str | InputRequiredResult:
    """The client's roots, comma-separated (roots/list)."""
    if _modern(ctx):
        answer = (ctx.input_responses or {}).get("roots")
        if answer is None:
            return InputRequiredResult(input_requests={"roots": ListRootsRequest()}, request_state="rooting")
        listed = answer
    else:
        listed = await ctx.session.list_roots()
    return ",".join(str(root.uri) for root in listed.roots)


async def run_handshake_only() -> None:
    """stdio, with `server/discover` answered "method not found" before the SDK sees it (the SDK would
    otherwise settle the connection on 2026-07-28 at the probe)."""
    import anyio
    from mcp.server.stdio import stdio_server
    from mcp.shared.message import SessionMessage
    from mcp_types import ErrorData
    from mcp_types.jsonrpc import JSONRPCError, JSONRPCRequest

    lowlevel = server._lowlevel_server
    async with stdio_server() as (read_stream, write_stream):
        filtered_send, filtered_read = anyio.create_memory_object_stream(0)

        async def without_discover() -> None:
            async with filtered_send:
                async for item in read_stream:
                    message = getattr(item, "message", None)
                    if isinstance(message, JSONRPCRequest) and message.method == "server/discover":
                        error = ErrorData(code=METHOD_NOT_FOUND, message="Method not found: server/discover")
                        await write_stream.send(SessionMessage(JSONRPCError(jsonrpc="2.0", id=message.id, error=error)))
                        continue
                    await filtered_send.send(item)

        async with anyio.create_task_group() as group:
            group.start_soon(without_discover)
            await lowlevel.run(filtered_read, write_stream, lowlevel.create_initialization_options())
            group.cancel_scope.cancel()


if __name__ == "__main__":
    if LEGACY:
        import anyio
        anyio.run(run_handshake_only)
    else:
        server.run()
