"""Placeholder for the MCP proxy process (see api/mcp_proxy/__init__.py)."""
import argparse
import signal
import sys


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m api.mcp_proxy",
                                     description="The MCP front door for clients (not built yet: a placeholder).")
    parser.add_argument("--stdio", action="store_true", help="serve one MCP client on stdin/stdout")
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args(sys.argv[1:])  # --help prints the usage and exits 0 here, before anything waits
    print("event=proxy.not_implemented note='the MCP proxy is the next issue; REST calls work: "
          "POST /api/v1/tools/<tool>/call and /api/v1/mcp/http/call'", flush=True)
    if args.stdio:
        print("the stdio MCP proxy is not built yet", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
