"""A broken MCP server: writes lines of garbage to stdout and never answers."""
import time

for line in range(100_000):
    print(f"not json {line}\nstill not json {{", flush=True)
    time.sleep(0.0005)
time.sleep(3600)
