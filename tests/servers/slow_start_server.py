"""The echo server, after sleeping SECONDS before it reads anything (a start still in progress).

Run: python tests/servers/slow_start_server.py SECONDS
"""
import sys
import time

time.sleep(float(sys.argv[1]))
from echo_server import server  # noqa: E402  (this directory is on sys.path: run as a script)

server.run()
