"""A Dramatiq Redis broker built for latency: one round trip to enqueue, no polling sleeps.

Dramatiq's Redis consumer polls an empty queue with exponential back-off sleeps (up to the worker
timeout), which costs 45-460 ms on the first message after a short idle. Two kinds of queues here:

- Shared queues (`lifecycle`): Dramatiq's reliable queue (message hash, id list, ack sets, redelivery
  of a dead worker's messages), plus a wake-up list: every enqueue pushes a token onto
  `<namespace>:<queue>.wake` and an idle consumer waits in BLPOP on it instead of sleeping.
- Worker queues (`worker.<id>`, calls to the tools a worker owns): the encoded message itself is pushed
  onto `<namespace>:<queue>.direct` and the consumer BLPOPs it: one round trip to receive, nothing to
  acknowledge. Calls are at-most-once by design, so there is nothing to redeliver; a worker that dies
  with a call in hand is detected by the caller (heartbeat) and the reaper. A call to a tool the
  worker is serving is handed from the consumer thread straight to the worker's MCP loop (the runtime's
  `dispatch_directly`); everything else goes through Dramatiq's work queue and worker threads.

Enqueueing is one EVALSHA of our own script. It can also route: given a tool's owner-lease key it picks
the owner's queue inside Redis, so "who owns this tool" costs no extra round trip. The message is encoded
with a placeholder queue name that the script fills in.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

import redis
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import current_millis, dq_name
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message

log = logging.getLogger("mcps.broker")

# Enough tokens to wake every idle consumer of a queue; the list never grows past it.
WAKE_TOKENS_KEPT = 64
# When all prefetch slots are taken the consumer must not take more; it naps this long instead.
BUSY_NAP_S = 0.0005
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


def is_direct(queue_name: str) -> bool:
    return queue_name.startswith(DIRECT_QUEUE_PREFIX)


class WakeupRedisBroker(RedisBroker):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.enqueue_script = self.client.register_script(ENQUEUE_SCRIPT)
        # Set by a worker's runtime: given a message taken off a direct queue, start it right there
        # (True) or leave it to Dramatiq's worker threads (False). See _DirectConsumer.
        self.dispatch_directly: Callable[[Message], bool] | None = None

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):
        consumer = _DirectConsumer if is_direct(queue_name) else _WakeupConsumer
        return consumer(self, queue_name, prefetch, timeout)

    def wake_key(self, queue_name: str) -> str:
        return f"{self.namespace}:{queue_name}.wake"

    def direct_key(self, queue_name: str) -> str:
        return f"{self.namespace}:{queue_name}.direct"

    def enqueue(self, message: Message, *, delay: int | None = None) -> Message:
        if delay is not None:
            return self._enqueue_delayed(message, delay)
        message, _ = self.enqueue_routed(message)
        return message

    def enqueue_args(self, message: Message, owner_key: str | None = None,
                     limit: RateLimit | None = None) -> tuple[list, list]:
        """KEYS and ARGV of ENQUEUE_SCRIPT for `message` (for callers that pipeline it)."""
        template = message.copy(queue_name=QUEUE_PLACEHOLDER, options={"redis_message_id": message.message_id})
        rate_key, rate_limit, window_ms, stream, rejection, maxlen, ttl = "", 0, 0, "", "", 0, 0
        if limit is not None:
            rate_key, rate_limit, window_ms = limit.key, limit.amount, limit.window_ms
            stream, rejection, maxlen, ttl = limit.stream_key, limit.rejection, limit.stream_maxlen, limit.stream_ttl_s
        return ([owner_key or "", rate_key, stream],
                [self.namespace, message.queue_name, message.message_id, template.encode(), QUEUE_PLACEHOLDER,
                 DIRECT_QUEUE_PREFIX, WAKE_TOKENS_KEPT, rate_limit, window_ms, rejection, maxlen, ttl])

    def enqueue_routed(self, message: Message, owner_key: str | None = None,
                       limit: RateLimit | None = None) -> tuple[Message | None, str | None]:
        """Enqueue on message.queue_name, or on the queue of the worker named by `owner_key` when that
        key exists. Returns the message as enqueued (None when `limit` refused it) and the owner."""
        self.emit_before("enqueue", message, None)
        keys, args = self.enqueue_args(message, owner_key, limit)
        queue, owner = self.enqueue_script(keys=keys, args=args)[:2]
        if queue is None:
            return None, None
        message = message.copy(queue_name=queue.decode(), options={"redis_message_id": message.message_id})
        self.emit_after("enqueue", message, None)
        return message, owner.decode() if owner else None

    def _enqueue_delayed(self, message: Message, delay: int) -> Message:
        queue_name = dq_name(message.queue_name)
        message = message.copy(queue_name=queue_name, options={"eta": current_millis() + delay,
                                                               "redis_message_id": message.message_id})
        self.emit_before("enqueue", message, delay)
        self.do_enqueue(queue_name, message.message_id, message.encode())
        self.client.lpush(self.wake_key(queue_name), 1)
        self.emit_after("enqueue", message, delay)
        return message


class _WakeupConsumer(_RedisConsumer):
    """Dramatiq's reliable consumer, blocking on the wake-up list instead of sleeping."""

    def __init__(self, broker, queue_name, prefetch, timeout):
        super().__init__(broker, queue_name, prefetch, timeout)
        self.wake_key = broker.wake_key(queue_name)
        self.wait_s = max(timeout / 1000, 0.01)

    def __next__(self):
        try:
            while True:
                if self.message_cache:
                    message = Message.decode(self.message_cache.pop(0))
                    self.queued_message_ids.add(message.message_id)
                    return MessageProxy(message)
                free_slots = self.prefetch - self.outstanding_message_count
                if free_slots <= 0:
                    time.sleep(BUSY_NAP_S)
                    return None
                self.message_cache = [data for data in self.broker.do_fetch(self.queue_name, free_slots) if data]
                if self.message_cache:
                    continue
                if self.broker.client.blpop([self.wake_key], timeout=self.wait_s) is None:
                    return None
        except redis.ConnectionError as e:
            raise ConnectionClosed(e) from None


class _DirectConsumer(_RedisConsumer):
    """Receives whole messages from `<queue>.direct` with BLPOP; at-most-once, so no acks."""

    def __init__(self, broker, queue_name, prefetch, timeout):
        super().__init__(broker, queue_name, prefetch, timeout)
        self.direct_key = broker.direct_key(queue_name)
        self.wait_s = max(timeout / 1000, 0.01)

    def ack(self, message):
        self.queued_message_ids.discard(message.message_id)

    nack = ack

    def requeue(self, messages):
        """Messages taken but not started when the worker stops go back to the front of the list."""
        encoded = [message.encode() for message in messages]
        if encoded:
            self.broker.client.lpush(self.direct_key, *reversed(encoded))

    def __next__(self):
        try:
            if self.outstanding_message_count >= self.prefetch:
                time.sleep(BUSY_NAP_S)
                return None
            popped = self.broker.client.blpop([self.direct_key], timeout=self.wait_s)
            if popped is None:
                return None
            message = Message.decode(popped[1])
            if self._dispatched_directly(message):
                return None
            self.queued_message_ids.add(message.message_id)
            return MessageProxy(message)
        except redis.ConnectionError as e:
            raise ConnectionClosed(e) from None

    def _dispatched_directly(self, message: Message) -> bool:
        """A call to a tool served by this worker only needs handing to its MCP loop: doing that here
        saves the hop through Dramatiq's work queue and a worker thread (~0.3 ms of a 2-core machine's
        CPU per call). The runtime decides; anything it declines takes the usual way."""
        dispatch = self.broker.dispatch_directly
        if dispatch is None:
            return False
        try:
            return dispatch(message)
        except Exception:
            log.exception("event=broker.direct_dispatch_failed message=%s", message.message_id)
            return False
