"""A handshake-era-only MCP server written by hand (JSON-RPC over stdio, protocol 2025-11-25).

It knows `initialize`, `tools/list` and `tools/call` (tool `echo`); `server/discover` gets
"method not found", as from any server that predates the 2026-07-28 era.
"""
import json
import sys

TOOLS = [{"name": "echo", "description": "Echo the text.",
          "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}]


def reply(message_id, result=None, error=None):
    body = {"jsonrpc": "2.0", "id": message_id}
    body.update({"error": error} if error else {"result": result})
    sys.stdout.write(json.dumps(body) + "\n")
    sys.stdout.flush()


def main():
    for line in sys.stdin:
        message = json.loads(line)
        method, message_id = message.get("method"), message.get("id")
        if message_id is None:
            continue  # notifications
        if method == "initialize":
            reply(message_id, {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                               "serverInfo": {"name": "legacy-server", "version": "0.1"}})
        elif method == "tools/list":
            reply(message_id, {"tools": TOOLS})
        elif method == "tools/call":
            text = message["params"]["arguments"]["text"]
            reply(message_id, {"content": [{"type": "text", "text": f"legacy:{text}"}], "isError": False})
        elif method == "ping":
            reply(message_id, {})
        else:
            reply(message_id, error={"code": -32601, "message": f"Method not found: {method}"})


if __name__ == "__main__":
    main()
