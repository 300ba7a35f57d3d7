"""One leader among the scheduler processes: a Redis lock taken with SET NX PX and renewed by its holder.

The lock `<ns>:scheduler:leader` holds the leader's id and expires `ttl_ms` after the last renewal, so a
leader that dies (or is cut off from Redis) is replaced by a follower at most `ttl_ms` + one retry later.

The leader trusts its leadership only until `ttl_ms * VALIDITY` after the moment it *sent* its last
successful SET/renewal. The key cannot expire before `ttl_ms` after that moment, so a leader that is
paused or loses Redis stops calling itself leader before any follower can take the lock.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import redis

from config import Section
from jobs.keys import key
from models.log_sink import SYSTEM

log = logging.getLogger("mcps.scheduler")

# Fraction of the TTL the leader trusts its lock: room for clock-rate drift and the Redis round trip.
VALIDITY = 0.8

# Compare-and-set: only the holder may extend or drop the lock (a plain PEXPIRE/DEL could hit a successor's).
_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def leader_key(settings: Section) -> str:
    return key(settings, "scheduler", "leader")


def current_leader(client: redis.Redis, settings: Section) -> str | None:
    """The id of the scheduler holding the lock, if any."""
    value = client.get(leader_key(settings))
    return value.decode() if value else None


class LeaderLock:
    """The lock itself; `refresh()` takes it when free and extends it when held. Not thread-safe alone:
    `LeaderElection` is its only caller."""

    def __init__(self, client: redis.Redis, settings: Section, holder_id: str):
        self.client = client
        self.key = leader_key(settings)
        self.holder_id = holder_id
        self.ttl_ms = settings.scheduler.leader_ttl_ms
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._valid_until = 0.0  # time.monotonic() until which we may act as leader

    def is_held(self) -> bool:
        return time.monotonic() < self._valid_until

    def refresh(self) -> bool:
        """Take or extend the lock; True while this process is the leader. Raises on Redis errors."""
        sent_at = time.monotonic()
        # Renew first: the key may still be ours even after our own validity window ran out.
        held = bool(self._renew(keys=[self.key], args=[self.holder_id, self.ttl_ms])
                    or self.client.set(self.key, self.holder_id, nx=True, px=self.ttl_ms))
        self._valid_until = sent_at + self.ttl_ms / 1000 * VALIDITY if held else 0.0
        return held

    def release(self) -> None:
        """Drop the lock if it is still ours, so that a follower takes over at once."""
        self._valid_until = 0.0
        self._release(keys=[self.key], args=[self.holder_id])


class LeaderElection(threading.Thread):
    """A daemon thread that keeps trying to take the lock, or renew it, every third of its TTL."""

    def __init__(self, lock: LeaderLock, on_elected: Callable[[], None] | None = None):
        super().__init__(name="scheduler-leader", daemon=True)
        self.lock = lock
        self.on_elected = on_elected  # called (on this thread: must not block) each time we become leader
        self.interval_s = lock.ttl_ms / 1000 / 3
        self._stopped = threading.Event()
        self._leading = False

    def is_leader(self) -> bool:
        return self.lock.is_held()

    def run(self) -> None:
        while not self._stopped.is_set():
            try:
                leading = self.lock.refresh()
            except redis.RedisError as error:
                leading = self.lock.is_held()
                log.warning("event=scheduler.redis_error id=%s error=%r", self.lock.holder_id, str(error))
            if leading != self._leading:
                self._leading = leading
                log.info("event=scheduler.%s id=%s", "leader_elected" if leading else "leader_lost",
                         self.lock.holder_id, extra=SYSTEM)
                if leading and self.on_elected is not None:
                    self.on_elected()
            self._stopped.wait(self.interval_s)

    def stop(self) -> None:
        """Stop campaigning and give the lock up (call once the jobs have finished)."""
        self._stopped.set()
        if self.is_alive():
            self.join()
        try:
            self.lock.release()
        except redis.RedisError as error:  # the lock expires by itself
            log.warning("event=scheduler.release_failed id=%s error=%r", self.lock.holder_id, str(error))
        if self._leading:
            self._leading = False
            log.info("event=scheduler.leader_resigned id=%s", self.lock.holder_id, extra=SYSTEM)
