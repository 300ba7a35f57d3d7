"""A server that always crashes at start, explaining why on stderr."""
import sys

print("fatal: cannot open the frobnicator (this server always crashes)", file=sys.stderr, flush=True)
sys.exit(3)
