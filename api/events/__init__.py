"""/api/v1/events (SSE) and /api/v1/ws (WebSocket): the platform's live events (jobs.live_events)."""
