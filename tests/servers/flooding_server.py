"""The echo server, flooding its stderr (and stdout with lines that are not JSON-RPC) while it serves.

Lines written to stdout go through os.write, one short line per call: a pipe write under PIPE_BUF is
atomic, so the server's own messages are never torn by them.
"""
import os
import sys
import threading

from echo_server import server


def flood_stderr() -> None:
    line = 0
    while True:
        line += 1
        print(f"flood line {line} " + "x" * 80, file=sys.stderr, flush=True)


def flood_stdout() -> None:
    line = 0
    while True:
        line += 1
        os.write(1, f"not json-rpc {line}\n".encode())
        if line % 100 == 0:
            threading.Event().wait(0.001)


threading.Thread(target=flood_stderr, daemon=True).start()
threading.Thread(target=flood_stdout, daemon=True).start()
server.run()
