"""A handshake-era-only MCP server written by hand (JSON-RPC over stdio, protocol 2025-11-25) that honours
`logging/setLevel`, as a server with one log level per connection does.

Tool `speak(text)` sends one `notifications/message` at each of debug, info, warning and error, those at
or above the level last set (none before a setLevel), then answers.
"""
import json
import sys

LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
TOOLS = [{"name": "speak", "description": "Log at four levels, then echo.",
          "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}]


def write(body):
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", **body}) + "\n")
    sys.stdout.flush()


def main():
    level = None
    for line in sys.stdin:
        message = json.loads(line)
        method, message_id = message.get("method"), message.get("id")
        if message_id is None:
            continue  # notifications
        params = message.get("params") or {}
        if method == "initialize":
            result = {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}, "logging": {}},
                      "serverInfo": {"name": "leveled-server", "version": "0.1"}}
        elif method == "logging/setLevel":
            level, result = params["level"], {}
        elif method == "tools/list":
            result = {"tools": TOOLS}
        elif method == "tools/call":
            text = params["arguments"]["text"]
            for said in ("debug", "info", "warning", "error"):
                if level is not None and LEVELS.index(said) >= LEVELS.index(level):
                    write({"method": "notifications/message", "params": {"level": said, "data": f"{said} {text}"}})
            result = {"content": [{"type": "text", "text": text}], "isError": False}
        elif method == "ping":
            result = {}
        else:
            write({"id": message_id, "error": {"code": -32601, "message": f"Method not found: {method}"}})
            continue
        write({"id": message_id, "result": result})


if __name__ == "__main__":
    main()
