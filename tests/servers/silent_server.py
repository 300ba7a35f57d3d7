"""A server that reads its stdin and never answers anything, `initialize` included."""
import sys

print("silent-server: reading, never answering", file=sys.stderr, flush=True)
for _line in sys.stdin:
    pass
