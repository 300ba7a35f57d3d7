"""/api/v1/logs: the platform's log entries (system, operations = the audit trail, mcp)."""
