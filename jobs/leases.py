"""The tool owner lease: `<ns>:tool:<id>:owner` = worker id, with a TTL renewed by the owner's heartbeat.

An MCP session is stateful and a stdio child lives in one process, so exactly one worker owns each
running tool. Claiming is SET NX; renewing and releasing only act when the lease is still ours.
"""
from __future__ import annotations

import redis

from config import Section
from jobs.keys import lease_key

# A lease that vanished (Redis restarted without its data) is taken back: its session still lives here.
_RENEW = """
local renewed = 0
for i, k in ipairs(KEYS) do
  local owner = redis.call('GET', k)
  if owner == ARGV[1] then
    redis.call('PEXPIRE', k, ARGV[2])
    renewed = renewed + 1
  elseif not owner then
    redis.call('SET', k, ARGV[1], 'PX', ARGV[2])
    renewed = renewed + 1
  end
end
return renewed
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ToolOwnerLease:
    def __init__(self, client: redis.Redis, settings: Section):
        self.client = client
        self.settings = settings
        self.ttl_ms = settings.mcp.worker.lease_ttl_ms
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def owner(self, tool_id: int) -> str | None:
        value = self.client.get(lease_key(self.settings, tool_id))
        return value.decode() if value else None

    def claim(self, tool_id: int, worker_id: str) -> bool:
        """Take the lease if nobody holds it, or keep it if we do."""
        lease = lease_key(self.settings, tool_id)
        if self.client.set(lease, worker_id, nx=True, px=self.ttl_ms):
            return True
        return self.owner(tool_id) == worker_id

    def renew(self, tool_ids: list[int], worker_id: str) -> int:
        if not tool_ids:
            return 0
        return self._renew(keys=[lease_key(self.settings, t) for t in tool_ids], args=[worker_id, self.ttl_ms])

    def release(self, tool_id: int, worker_id: str) -> bool:
        return bool(self._release(keys=[lease_key(self.settings, tool_id)], args=[worker_id]))
