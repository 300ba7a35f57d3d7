"""A handshake-era MCP server in the standard library only, so that it starts in tens of milliseconds even on
a loaded machine (an SDK server takes seconds there): what a tool's takeover costs is then the platform's.

Tools: `echo` {text} and `slow` {seconds}, each call answered on a thread of its own (calls overlap), each
one appended to the file named by ECHO_CALLS_FILE (proves at-most-once).
"""
import json
import os
import sys
import threading
import time

TOOLS = [{"name": "echo", "description": "Echo the text.",
          "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}},
         {"name": "slow", "description": "Answer after some seconds.",
          "inputSchema": {"type": "object", "properties": {"seconds": {"type": "number"}}}}]
CALLS_FILE = os.environ.get("ECHO_CALLS_FILE")
write_lock = threading.Lock()


def reply(message_id, result=None, error=None):
    body = {"jsonrpc": "2.0", "id": message_id}
    body.update({"error": error} if error else {"result": result})
    with write_lock:
        sys.stdout.write(json.dumps(body) + "\n")
        sys.stdout.flush()


def call(message_id, name: str, arguments: dict) -> None:
    if CALLS_FILE:
        with write_lock, open(CALLS_FILE, "a") as handle:
            handle.write(name + "\n")
    if name == "slow":
        time.sleep(float(arguments.get("seconds", 30)))
        text = "slept"
    else:
        text = arguments["text"]
    reply(message_id, {"content": [{"type": "text", "text": text}], "isError": False})


def main():
    for line in sys.stdin:
        message = json.loads(line)
        method, message_id = message.get("method"), message.get("id")
        if message_id is None:
            continue  # notifications
        if method == "initialize":
            reply(message_id, {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                               "serverInfo": {"name": "quick-server", "version": "0.1"}})
        elif method == "tools/list":
            reply(message_id, {"tools": TOOLS})
        elif method == "tools/call":
            params = message["params"]
            threading.Thread(target=call, args=(message_id, params["name"], params.get("arguments") or {}),
                             daemon=True).start()
        elif method == "ping":
            reply(message_id, {})
        else:
            reply(message_id, error={"code": -32601, "message": f"Method not found: {method}"})


if __name__ == "__main__":
    main()
