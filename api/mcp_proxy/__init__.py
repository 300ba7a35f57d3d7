"""The MCP front door for clients (streamable HTTP, and stdio for Cursor/Claude Desktop).

Not built yet: it is the next issue after the core job path. `python -m api.mcp_proxy` is a placeholder
Procfile process that says so and waits, so that `make run` keeps the other processes up.
"""
