"""Who may do what to which tool: the one place every path asks (REST, aggregated calls, workflows,
history, scheduled runs and the MCP front door). See `policy.access`."""
