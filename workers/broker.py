"""A Dramatiq Redis broker whose consumers block on a wake-up list instead of sleeping.

Dramatiq's Redis consumer polls an empty queue with exponential back-off sleeps (up to the worker
timeout), which costs 45-460 ms on the first message after a short idle. Here every enqueue also
pushes a token onto `<namespace>:<queue>.wake` in the same pipeline (one round trip), and an idle
consumer waits in BLPOP on that list: it wakes as soon as a message arrives, and no later than the
worker timeout so that shutdown and delayed messages are still handled.
"""
from __future__ import annotations

import time

import redis
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import current_millis, dq_name
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message

# Enough tokens to wake every idle consumer of a queue; the list never grows past it.
WAKE_TOKENS_KEPT = 64
# When all prefetch slots are taken the consumer must not swallow tokens; it naps this long instead.
BUSY_NAP_S = 0.0005


class WakeupRedisBroker(RedisBroker):
    @property
    def consumer_class(self):
        return _WakeupConsumer

    def wake_key(self, queue_name: str) -> str:
        return f"{self.namespace}:{queue_name}.wake"

    def enqueue(self, message: Message, *, delay: int | None = None) -> Message:
        queue_name = message.queue_name
        message = message.copy(options={"redis_message_id": message.message_id})
        if delay is not None:
            queue_name = dq_name(queue_name)
            message = message.copy(queue_name=queue_name, options={"eta": current_millis() + delay})

        self.emit_before("enqueue", message, delay)
        pipe = self.client.pipeline(transaction=False)
        self.scripts["dispatch"](
            keys=[self.namespace], client=pipe,
            args=["enqueue", current_millis(), queue_name, self.broker_id, self.heartbeat_timeout,
                  self.dead_message_ttl, self._should_do_maintenance("enqueue"), self._max_unpack_size(),
                  message.options["redis_message_id"], message.encode()])
        wake = self.wake_key(queue_name)
        pipe.lpush(wake, 1)
        pipe.ltrim(wake, 0, WAKE_TOKENS_KEPT - 1)
        pipe.execute()
        self.emit_after("enqueue", message, delay)
        return message


class _WakeupConsumer(_RedisConsumer):
    def __init__(self, broker, queue_name, prefetch, timeout):
        super().__init__(broker, queue_name, prefetch, timeout)
        self.wake_key = broker.wake_key(queue_name)
        self.wait_s = max(timeout / 1000, 0.01)

    def __next__(self):
        try:
            while True:
                if self.message_cache:
                    data = self.message_cache.pop(0)
                    message = Message.decode(data)
                    self.queued_message_ids.add(message.message_id)
                    return MessageProxy(message)
                free_slots = self.prefetch - self.outstanding_message_count
                if free_slots <= 0:
                    time.sleep(BUSY_NAP_S)
                    return None
                self.message_cache = self.broker.do_fetch(self.queue_name, free_slots)
                if self.message_cache:
                    continue
                # Empty: sleep until an enqueue pushes a token (or the timeout lets the worker look around).
                if self.broker.client.blpop([self.wake_key], timeout=self.wait_s) is None:
                    return None
        except redis.ConnectionError as e:
            raise ConnectionClosed(e) from None
