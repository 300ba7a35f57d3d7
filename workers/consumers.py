"""The worker's side of the broker: consumers that never sleep-poll, and the direct hand-off of calls.

Dramatiq's Redis consumer polls an empty queue with exponential back-off sleeps (up to the worker
timeout), which costs 45-460 ms on the first message after a short idle. Here:
- a shared queue's consumer blocks on the queue's wake-up list (BLPOP) that every enqueue pushes to;
- a worker queue's consumer BLPOPs whole messages from `<queue>.direct` (at-most-once, no acks), and
  hands a call to a tool served here straight to the MCP loop through `direct_dispatch` (the job
  runner's), saving the hop through Dramatiq's work queue and a worker thread (~0.3 ms of a 2-core
  machine's CPU per call). Anything the runner declines takes the usual way.
The enqueue side (script, routing, wake-up pushes) is jobs/broker.py.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import redis
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import _RedisConsumer
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message

from jobs.broker import RoutingRedisBroker, is_direct

log = logging.getLogger("mcps.broker")

# When all prefetch slots are taken the consumer must not take more; it naps this long instead.
BUSY_NAP_S = 0.0005


class WorkerBroker(RoutingRedisBroker):
    """The broker of a worker process. `direct_dispatch(message)` starts a message taken off a worker
    queue right there (True) or leaves it to Dramatiq's worker threads (False)."""

    def __init__(self, *, direct_dispatch: Callable[[Message], bool], **kwargs):
        super().__init__(**kwargs)
        self.direct_dispatch = direct_dispatch

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):
        consumer = DirectConsumer if is_direct(queue_name) else WakeupConsumer
        return consumer(self, queue_name, prefetch, timeout)


class WakeupConsumer(_RedisConsumer):
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


class DirectConsumer(_RedisConsumer):
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
        try:
            return self.broker.direct_dispatch(message)
        except Exception:
            log.exception("event=broker.direct_dispatch_failed message=%s", message.message_id)
            return False
