"""`python -m api.mcp_proxy`: the MCP front door (streamable HTTP, uvicorn), or with --stdio a bridge from
a client that launches a command (Cursor, Claude Desktop) to a front door somewhere over HTTP."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from config import load_settings
from models.log_sink import setup_process_logging


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m api.mcp_proxy",
        description="The mcps MCP front door: every running tool served to MCP clients over streamable HTTP "
                    "at /mcp (one tool at /mcp/tools/<tool>, a virtual server at /mcp/servers/<name>; the legacy HTTP+SSE transport at "
                    "/sse), both protocol eras (2026-07-28 and the "
                    "initialize handshake). Host and port default to settings mcp.proxy.host/port.",
        epilog="stdio bridge: python -m api.mcp_proxy --stdio --url http://host:8001/mcp (the API key is read "
               "from MCPS_API_KEY)")
    parser.add_argument("--host", help="address to listen on (default: mcp.proxy.host)")
    parser.add_argument("--port", type=int, help="port to listen on (default: mcp.proxy.port, 8001)")
    parser.add_argument("--stdio", action="store_true", help="bridge stdio to the front door at --url")
    parser.add_argument("--url", help="the front door's MCP endpoint for --stdio, e.g. http://host:8001/mcp")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    protocols = load_settings().mcp.proxy.protocols  # which front doors this deployment serves
    if ("stdio" if args.stdio else "http") not in protocols:
        print(f"the {'stdio' if args.stdio else 'http'} front door is switched off (mcp.proxy.protocols: "
              f"{', '.join(protocols) or 'none'})", file=sys.stderr)
        return 2
    if args.stdio:
        from api.mcp_proxy.stdio_bridge import run_bridge

        if not args.url:
            print("--stdio needs --url http://host:port/mcp", file=sys.stderr)
            return 2
        return run_bridge(args.url, os.environ.get("MCPS_API_KEY"))
    import uvicorn

    from api.mcp_proxy.app import create_app
    from api.security_headers import SecurityHeadersASGI

    settings = load_settings()
    setup_process_logging(settings, "proxy")
    host = args.host or settings.mcp.proxy.host
    port = args.port or settings.mcp.proxy.port
    logging.getLogger("mcps.proxy").info("event=proxy.listening host=%s port=%s", host, port)
    uvicorn.run(SecurityHeadersASGI(create_app(settings, address=f"{host}:{port}"), settings), host=host, port=port, log_level="warning", access_log=False,
                lifespan="on", timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
