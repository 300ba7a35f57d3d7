"""A server that reads the client's first message (its handshake) and exits, explaining why on stderr."""
import sys

first = sys.stdin.readline()
print(f"fatal: the licence check failed during the handshake (read {len(first)} bytes)", file=sys.stderr, flush=True)
sys.exit(4)
