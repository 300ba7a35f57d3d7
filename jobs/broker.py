"""The enqueue side of our Dramatiq Redis broker: one script, one round trip, routed by tool owner.

Two kinds of queues:
- Shared queues (`lifecycle`): Dramatiq's reliable queue (message hash, id list, ack sets, redelivery
  of a dead worker's messages), plus a wake-up list: every enqueue pushes a token onto
  `<namespace>:<queue>.wake`, on which an idle consumer blocks instead of sleeping.
- Worker queues (`worker.<id>`, calls to the tools a worker owns): the encoded message itself is pushed
  onto `<namespace>:<queue>.direct` for the consumer to BLPOP: nothing to acknowledge, as calls are
  at-most-once (a worker that dies with a call in hand is detected by the caller and the reaper).

Enqueueing is one EVALSHA of our own script. It can also route: given a tool's owner-lease key it picks
the owner's queue inside Redis, so "who owns this tool" costs no extra round trip; and it checks the
caller's call budget in the same script. The message is encoded with a placeholder queue name that the
script fills in. A caller about to wait for the result pipelines its first blocking XREAD behind the
script, so a call costs it a single round trip. Every enqueue, sync or async, runs Dramatiq's
before/after enqueue hooks. The consumers are in workers/consumers.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis, dq_name
from dramatiq.message import Message
from dramatiq.middleware import Retries

from config import Section
from jobs import stream
from jobs.keys import broker_namespace

# Enough tokens to wake every idle consumer of a queue; the list never grows past it.
WAKE_TOKENS_KEPT = 64
QUEUE_PLACEHOLDER = "__mcps_queue__"
DIRECT_QUEUE_PREFIX = "worker."

ENQUEUE_SCRIPT = """
-- KEYS: owner lease ('' = no routing), rate counter ('' = no limit), the job's result stream
-- ARGV: namespace, queue, message id, message template, placeholder, direct prefix, wake tokens kept,
--       rate limit, rate window ms, rejection event (JSON), stream maxlen, stream ttl s
if KEYS[2] ~= '' then
  local used = redis.call('INCR', KEYS[2])
  if used == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[9]) end
  if used > tonumber(ARGV[8]) then
    local retry_ms = redis.call('PTTL', KEYS[2])
    local event = string.gsub(ARGV[10], '"retry_after_ms":0', '"retry_after_ms":' .. retry_ms, 1)
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[11], '*', 'e', event)
    redis.call('EXPIRE', KEYS[3], ARGV[12])
    return {false, false, retry_ms}
  end
end
local queue = ARGV[2]
local owner = false
if KEYS[1] ~= '' then
  owner = redis.call('GET', KEYS[1])
  if owner then queue = ARGV[6] .. owner end
end
local data = string.gsub(ARGV[4], ARGV[5], (queue:gsub('%%', '%%%%')), 1)
local name = ARGV[1] .. ':' .. queue
if string.sub(queue, 1, #ARGV[6]) == ARGV[6] then
  redis.call('RPUSH', name .. '.direct', data)
else
  redis.call('HSET', name .. '.msgs', ARGV[3], data)
  redis.call('RPUSH', name, ARGV[3])
  redis.call('LPUSH', name .. '.wake', 1)
  redis.call('LTRIM', name .. '.wake', 0, ARGV[7] - 1)
end
return {queue, owner}
"""


@dataclass(frozen=True)
class RateLimit:
    """A fixed-window budget checked by the enqueue script: over it, the job is not enqueued and the
    rejection event (with "retry_after_ms":0 filled in) is written to the job's stream instead."""

    key: str
    amount: int
    window_ms: int
    stream_key: str
    rejection: str
    stream_maxlen: int
    stream_ttl_s: int


@dataclass(frozen=True)
class Enqueued:
    message: Message | None  # as enqueued; None when the rate limit refused it (see `events`)
    owner: str | None  # the worker owning the job's tool, when routed to it
    events: list  # (id, event) already on the job's stream, when the enqueue was asked to read it


def is_direct(queue_name: str) -> bool:
    return queue_name.startswith(DIRECT_QUEUE_PREFIX)


class RoutingRedisBroker(RedisBroker):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.enqueue_script = self.client.register_script(ENQUEUE_SCRIPT)

    def wake_key(self, queue_name: str) -> str:
        return f"{self.namespace}:{queue_name}.wake"

    def direct_key(self, queue_name: str) -> str:
        return f"{self.namespace}:{queue_name}.direct"

    def enqueue(self, message: Message, *, delay: int | None = None) -> Message:
        if delay is not None:
            return self._enqueue_delayed(message, delay)
        return self.enqueue_routed(message).message

    def enqueue_routed(self, message: Message, owner_key: str | None = None, limit: RateLimit | None = None,
                       read_stream: str | None = None, block_ms: int = 0) -> Enqueued:
        """Enqueue on message.queue_name, or on the queue of the worker named by `owner_key` when that
        key exists; with `read_stream`, also wait up to `block_ms` for the first events on it."""
        self.emit_before("enqueue", message, None)
        keys, args = self._script_args(message, owner_key, limit)
        replies = self._execute(self.client, keys, args, read_stream, block_ms)
        if isinstance(replies[0], redis.exceptions.NoScriptError):  # Redis restarted: load it again
            self.client.script_load(ENQUEUE_SCRIPT)
            replies = self._execute(self.client, keys, args, read_stream, block_ms)
        return self._enqueued(message, replies)

    async def enqueue_routed_async(self, client, message: Message, owner_key: str | None = None,
                                   limit: RateLimit | None = None, read_stream: str | None = None,
                                   block_ms: int = 0) -> Enqueued:
        """`enqueue_routed` over a redis.asyncio client (the MCP proxy)."""
        self.emit_before("enqueue", message, None)
        keys, args = self._script_args(message, owner_key, limit)
        replies = await self._execute(client, keys, args, read_stream, block_ms)
        if isinstance(replies[0], redis.exceptions.NoScriptError):
            await client.script_load(ENQUEUE_SCRIPT)
            replies = await self._execute(client, keys, args, read_stream, block_ms)
        return self._enqueued(message, replies)

    def _execute(self, client, keys: list, args: list, read_stream: str | None, block_ms: int):
        """The script, and the first XREAD of the result stream when asked (sync or async client)."""
        pipe = client.pipeline(transaction=False)
        pipe.evalsha(self.enqueue_script.sha, len(keys), *keys, *args)
        if read_stream:  # (a BLOCK of 0 would wait forever)
            pipe.xread({read_stream: "0"}, block=max(block_ms, 1), count=stream.READ_COUNT)
        return pipe.execute(raise_on_error=False)

    def _script_args(self, message: Message, owner_key: str | None, limit: RateLimit | None) -> tuple[list, list]:
        template = message.copy(queue_name=QUEUE_PLACEHOLDER, options={"redis_message_id": message.message_id})
        rate_key, rate_limit, window_ms, stream_name, rejection, maxlen, ttl = "", 0, 0, "", "", 0, 0
        if limit is not None:
            rate_key, rate_limit, window_ms = limit.key, limit.amount, limit.window_ms
            stream_name, rejection, maxlen, ttl = limit.stream_key, limit.rejection, limit.stream_maxlen, limit.stream_ttl_s
        return ([owner_key or "", rate_key, stream_name],
                [self.namespace, message.queue_name, message.message_id, template.encode(), QUEUE_PLACEHOLDER,
                 DIRECT_QUEUE_PREFIX, WAKE_TOKENS_KEPT, rate_limit, window_ms, rejection, maxlen, ttl])

    def _enqueued(self, message: Message, replies: list) -> Enqueued:
        routed = replies[0]
        if isinstance(routed, Exception):
            raise routed
        events = stream.decode_reply(replies[1]) if len(replies) > 1 else []
        queue, owner = routed[:2]
        if queue is None:  # refused: the rejection is on the job's stream
            return Enqueued(None, None, events)
        message = message.copy(queue_name=queue.decode(), options={"redis_message_id": message.message_id})
        self.emit_after("enqueue", message, None)
        return Enqueued(message, owner.decode() if owner else None, events)

    def _enqueue_delayed(self, message: Message, delay: int) -> Message:
        queue_name = dq_name(message.queue_name)
        message = message.copy(queue_name=queue_name, options={"eta": current_millis() + delay,
                                                               "redis_message_id": message.message_id})
        self.emit_before("enqueue", message, delay)
        self.do_enqueue(queue_name, message.message_id, message.encode())
        self.client.lpush(self.wake_key(queue_name), 1)
        self.emit_after("enqueue", message, delay)
        return message


def build_broker(settings: Section, client: redis.Redis) -> RoutingRedisBroker:
    """The broker of a client of the queue (the API, the proxy, the scheduler): it only enqueues.
    No retries: calls are at-most-once, and lifecycle jobs are re-sent by the reaper, not retried."""
    return RoutingRedisBroker(client=client, namespace=broker_namespace(settings), middleware=[Retries(max_retries=0)])
