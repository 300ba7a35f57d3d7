"""The worker process's runtime: its id and queue, the asyncio loop holding the tools' MCP sessions,
and the heartbeat that renews its leases, publishes live stats, takes over orphaned tools and reaps
dead workers.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path

import psutil
import redis

from config import Section
from jobs import notices, registry, stream
from jobs.client import JobClient
from jobs.connection import aredis_client, redis_client
from jobs.keys import cancel_key, config_generation_key, lease_key, live_key, resource_subscribers_key
from jobs.leases import ToolOwnerLease
from models import LogEntry, Tool, utcnow
from models.runtime_settings import LiveSettings, apply_log_level
from workers import reaper
from workers.asking import Asker
from workers.bookkeeping import Bookkeeper
from workers.history import JobRecord
from workers.limits import TreeMeter, children_map
from workers.telemetry import count_jobs, publish_live
from workers.tool_session import ToolSession

log = logging.getLogger("mcps.worker")
REMEMBERED_CANCELS = 10000
SETTLE_GRACE_S = 5.0
DRAIN_CALLS_S = 15.0  # within the supervisor's --worker-shutdown-timeout (20 s)


def tool_config(tool: Tool) -> dict:
    """What a session needs of a tool row (secrets decrypted), detached from the database."""
    return {name: getattr(tool, name) for name in (
        "id", "name", "transport", "command", "args", "env", "cwd", "url", "headers", "restart_on_failure",
        "max_restart_attempts", "call_timeout_s", "memory_limit_mb", "cpu_limit_percent", "auto_start")}


class WorkerRuntime:
    def __init__(self, settings: Section):
        self.settings = settings  # replaced by the live settings when a runtime change is announced
        self.id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.queue = registry.worker_queue(self.id)
        self.redis = redis_client(settings)
        self.live_settings = LiveSettings(settings, lambda: self.redis.get(config_generation_key(settings)),
                                          on_change=apply_log_level)
        self.leases = ToolOwnerLease(self.redis, settings)
        # For the jobs this worker sends on (forwards, workflow steps, handed-back jobs): a client of the queue.
        self.jobs = JobClient.from_settings(settings, self.redis)
        self.broker = self.jobs.broker
        self.run_dir = Path(settings.app.data_dir) / "run" / self.id
        self.sessions: dict[int, ToolSession] = {}
        self._sessions_lock = threading.Lock()
        # Live events (tool status, log lines, task progress) leave from the bookkeeper's thread, in order.
        self.bookkeeper = Bookkeeper(auto_session=lambda: self.settings.features.auto_session,
                                     on_records=lambda records: count_jobs(self.redis, settings, records),
                                     on_live=lambda items: publish_live(self.redis, settings, items))
        self.loop = asyncio.new_event_loop()
        self.running_jobs: dict[str, asyncio.Task] = {}  # calls in flight on the loop
        self.running_starts: dict[str, int] = {}  # start/restart jobs waiting for their tool -> tool id
        self._aredis = None
        self._publishing: dict[str, asyncio.Future] = {}  # job id -> its latest publish (keeps order)
        self.asker = Asker(settings, self.async_redis, self.publish)  # backends' questions to their clients
        self.cancelled: OrderedDict[str, None] = OrderedDict()
        self.started_at = time.time()
        self._stopping = threading.Event()
        self._meters: dict[int, TreeMeter] = {}
        self._loop_thread = threading.Thread(target=self.loop.run_forever, name="mcp-loop", daemon=True)
        self._heartbeat_thread = threading.Thread(target=self._heartbeat_forever, name="heartbeat", daemon=True)

    # -- process lifetime -------------------------------------------------------------------------

    def start(self) -> None:
        self.bookkeeper.start()
        self._loop_thread.start()
        self._beat()
        self._reap_dead_workers()
        self._auto_start_if_first()
        self._heartbeat_thread.start()
        log.info("event=worker.started worker=%s queue=%s", self.id, self.queue)

    def shutdown(self) -> None:
        """After Dramatiq stopped consuming: stop our tools (their desired state stays, so another worker
        takes them over), hand back what is still queued for us, and leave the registry."""
        self._stopping.set()
        self._heartbeat_thread.join(5)
        self._drain_calls(DRAIN_CALLS_S)
        tools = list(self.sessions)
        moved = 0
        for tool_id in tools:
            session = self.sessions.pop(tool_id)
            self.on_loop(session.stop())  # first: server processes must stop even if Redis is gone
        try:
            for tool_id in tools:
                self.leases.release(tool_id, self.id)
            moved, _ = reaper.hand_back_queued(self.redis, self.broker, self.settings, self.id, self._record_lost_job,
                                               leaving=True)
            self.redis.delete(registry.worker_key(self.settings, self.id))
            registry.forget(self.redis, self.settings, self.id)
            reaper.drop_queue(self.redis, self.broker, self.id)
        except redis.RedisError as error:  # its leases expire and the next worker reaps the rest
            log.warning("event=worker.shutdown_without_redis worker=%s error=%r", self.id, str(error))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.bookkeeper.stop()
        log.info("event=worker.stopped worker=%s tools=%d handed_back=%d", self.id, len(tools), moved)

    def _drain_calls(self, timeout_s: float) -> None:
        """Let the calls in flight on the MCP loop answer before their servers stop (a graceful restart
        loses no call); Dramatiq has stopped handing us new ones."""
        deadline = time.monotonic() + timeout_s
        while self.running_jobs and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.running_jobs:
            log.warning("event=worker.calls_cut worker=%s calls=%d", self.id, len(self.running_jobs))

    def on_loop(self, coro, timeout: float | None = None):
        """Run `coro` on the MCP loop from a worker thread and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    # -- tools owned here -------------------------------------------------------------------------

    def start_tool_local(self, tool: Tool) -> dict:
        """Claim the tool and start (or keep) its session here; returns its state once settled."""
        if not self.leases.claim(tool.id, self.id):
            if self.live_owner(tool.id) is not None or not self.leases.claim(tool.id, self.id):
                raise OwnedElsewhere(self.leases.owner(tool.id))
        with self._sessions_lock:  # a takeover and a start job of the same tool may race here: one session
            session = self.sessions.get(tool.id)
            if session is None or session.done:
                session = ToolSession(tool_config(tool), self.run_dir, self.settings,
                                      report=self._reporter(tool.id), log_line=self._logger(tool.id), asker=self.asker,
                                      on_resource_updated=self._resource_announcer(tool.id),
                                      subscriptions=self._load_subscriptions(tool.id),
                                      save_subscriptions=self._subscription_saver(tool.id))
                session.report.reporting["session"] = session
                self.sessions[tool.id] = session
            self.on_loop(self._ensure_started(session))  # inside: a session not started yet reads as done
        # A little longer than the session's own start timeout, so that its reason is what the caller reads.
        status = self.on_loop(session.wait_settled(self.settings.mcp.tools.start_timeout_s + SETTLE_GRACE_S))
        self.bookkeeper.flush()
        return {**session.snapshot(), "status": status, "owner_worker": self.id}

    def live_owner(self, tool_id: int) -> str | None:
        """The worker that owns the tool, unless it is dead. A dead worker's lease can outlive its heartbeat
        key (the lease is renewed just after it) and so be read after the worker was reaped: a job forwarded
        to that worker's queue would wait there forever. Such a lease is released (only if still the dead
        worker's) and the tool counts as owned by no one."""
        owner = self.leases.owner(tool_id)
        if owner and owner != self.id and not registry.is_alive(self.redis, self.settings, owner):
            self.leases.release(tool_id, owner)
            log.warning("event=tool.stale_lease_released tool=%s dead_owner=%s worker=%s", tool_id, owner, self.id)
            return None
        return owner

    async def _ensure_started(self, session: ToolSession) -> None:
        session.ensure_started()

    def stop_tool_local(self, tool_id: int) -> bool:
        session = self.sessions.pop(tool_id, None)
        if session is not None:
            self.on_loop(session.stop())
        self.leases.release(tool_id, self.id)
        self._meters.pop(tool_id, None)
        self.redis.delete(live_key(self.settings, tool_id))
        self.bookkeeper.write(lambda: Tool.update(owner_worker=None, updated_at=utcnow()).where(
            (Tool.id == tool_id) & (Tool.owner_worker == self.id)).execute())
        self.bookkeeper.flush()
        return session is not None

    def _reporter(self, tool_id: int):
        announced = {"status": None}
        reporting: dict = {}  # {"session": the session these reports come from}, filled in once it exists

        def report(**fields):
            current = self.sessions.get(tool_id)
            if current is not None and reporting.get("session") not in (None, current):
                # A replaced session (a restart whose old server took long to stop) must not write over its
                # successor's row: its late STOPPED read as "the tool stopped" while the new one ran.
                return
            if "started_at" in fields and isinstance(fields["started_at"], float):
                fields["started_at"] = _utc(fields["started_at"])
            fields.setdefault("owner_worker", self.id)
            fields["updated_at"] = utcnow()
            self.bookkeeper.write(lambda: Tool.update(**fields).where(Tool.id == tool_id).execute())
            # What the MCP front doors serve changed: a status (started, stopping, failed) or a list.
            reason = _change_reason(fields, announced["status"])
            if reason is not None:
                announced["status"] = fields.get("status", announced["status"])
                self.bookkeeper.after_commit(lambda: self._announce_tool_change(tool_id, reason))
            if "status" in fields:
                self._publish_live("tool_status", {"status": fields["status"], "error": fields.get("last_error")}, tool_id)
        report.reporting = reporting
        return report

    def _announce_tool_change(self, tool_id: int, reason: str) -> None:
        notices.tool_changed(self.redis, self.settings, tool_id, reason)
        log.debug("event=tool.change_announced tool=%s reason=%s", tool_id, reason)

    def _load_subscriptions(self, tool_id: int) -> dict[str, set[str]]:
        stored = self.redis.hgetall(resource_subscribers_key(self.settings, tool_id))
        return {uri.decode(): set(json.loads(subscribers)) for uri, subscribers in stored.items()}

    def _subscription_saver(self, tool_id: int):
        async def save(uri: str, subscribers: set[str]) -> None:
            if self._aredis is None:
                self._aredis = aredis_client(self.settings)
            name = resource_subscribers_key(self.settings, tool_id)
            if subscribers:
                await self._aredis.hset(name, uri, json.dumps(sorted(subscribers)))
            else:
                await self._aredis.hdel(name, uri)
        return save

    def _resource_announcer(self, tool_id: int):
        async def announce(uri: str) -> None:
            if self._aredis is None:
                self._aredis = aredis_client(self.settings)
            await notices.resource_updated(self._aredis, self.settings, tool_id, uri)
        return announce

    def _logger(self, tool_id: int):
        def log_line(level: str, source: str, message: str):
            self.bookkeeper.write(lambda: LogEntry.create(
                category="mcp", level=level, tool_id=tool_id, source=source, message=message[:10000]))
            self._publish_live("log", {"kind": "mcp", "level": level, "source": source, "message": message[:10000]},
                               tool_id)
        return log_line

    def _publish_live(self, kind: str, data: dict, tool_id: int | None) -> None:
        """A live event (jobs.live_events), sent by the bookkeeper: never slows or fails the work that reported it."""
        self.bookkeeper.tell(kind, data, tool_id)

    # -- cancellation -----------------------------------------------------------------------------

    def cancel_local(self, job_id: str) -> bool:
        """Cancel a call running here (its task is cancelled on the loop, which sends the server
        notifications/cancelled) or a start still waiting for its server (the tool is stopped), or
        remember the id for a job not started yet."""
        self.cancelled[job_id] = None
        task = self.running_jobs.get(job_id)
        if task is not None:
            self.loop.call_soon_threadsafe(task.cancel)
            return True
        tool_id = self.running_starts.get(job_id)
        if tool_id is not None:  # a start still waiting for its server: stop it, the start reports cancelled
            Tool.update(desired_state="stopped", updated_at=utcnow()).where(Tool.id == tool_id).execute()
            self.stop_tool_local(tool_id)
            return True
        while len(self.cancelled) > REMEMBERED_CANCELS:
            self.cancelled.popitem(last=False)
        return False

    def async_redis(self):
        """The MCP loop's redis.asyncio client (made on first use, on the loop)."""
        if self._aredis is None:
            self._aredis = aredis_client(self.settings)
        return self._aredis

    async def publish(self, job_id: str, event: dict) -> None:
        """Append an event to a job's stream from the MCP loop (async client: the loop never blocks).
        A job's events land in the order they were published: each waits for the one before it (the
        pool would otherwise send them on different connections)."""
        self.async_redis()
        previous = self._publishing.get(job_id)
        done = self._publishing[job_id] = asyncio.get_running_loop().create_future()
        try:
            if previous is not None:
                await asyncio.shield(previous)
            async with self._aredis.pipeline(transaction=False) as pipe:
                stream.publish(pipe, self.settings, job_id, event)
                await pipe.execute()
        finally:
            done.set_result(None)
            if self._publishing.get(job_id) is done:
                del self._publishing[job_id]

    def publish_now(self, job_id: str, event: dict) -> None:
        """Append an event to a job's stream from a worker thread."""
        stream.publish_now(self.redis, self.settings, job_id, event)

    def is_cancelled(self, job_id: str, check_redis: bool) -> bool:
        if job_id in self.cancelled:
            return True
        return check_redis and bool(self.redis.exists(cancel_key(self.settings, job_id)))

    # -- heartbeat and supervision ----------------------------------------------------------------

    def _heartbeat_forever(self) -> None:
        interval = self.settings.mcp.worker.heartbeat_ms / 1000
        # After Redis was unreachable, every heartbeat key and lease may have expired meanwhile, the live
        # workers' as well as the dead ones': nobody is judged dead (reaped, its tools taken over) until the
        # live ones have had a lease's lifetime to beat again.
        redis_lost = False
        judge_after = 0.0
        while not self._stopping.wait(interval):
            try:
                self._beat()
                if redis_lost:
                    redis_lost = False
                    judge_after = time.monotonic() + self.settings.mcp.worker.lease_ttl_ms / 1000 + interval
                    log.warning("event=worker.redis_back worker=%s judging_peers_in_s=%.1f", self.id,
                                judge_after - time.monotonic())
                if time.monotonic() >= judge_after:
                    self._reap_dead_workers()
                    self._take_over_orphans()
            except (redis.RedisError, OSError) as error:  # Redis restarting: try again next beat
                redis_lost = True
                log.warning("event=worker.heartbeat_failed worker=%s error=%r", self.id, str(error))
            except Exception:  # the database restarting: try again next beat
                log.exception("event=worker.heartbeat_failed worker=%s", self.id)

    def _beat(self) -> None:
        """Heartbeat and leases first, then the tools' live stats: measuring a hundred process trees takes
        a while, and leases renewed only after it expired under load (their tools stopped, taken over)."""
        self.settings = self.live_settings.current()
        owned = list(self.sessions)
        pipe = self.redis.pipeline(transaction=False)
        registry.beat(pipe, self.settings, {"id": self.id, "pid": os.getpid(), "host": socket.gethostname(),
                                            "queue": self.queue, "started_at": self.started_at, "tools": owned,
                                            "config_generation": self.live_settings.generation})
        pipe.execute()
        if owned and self.leases.renew(owned, self.id) < len(owned):
            for tool_id in owned:
                if self.leases.owner(tool_id) != self.id:
                    log.warning("event=tool.lease_lost tool=%s worker=%s", tool_id, self.id)
                    self.stop_tool_local(tool_id)
        owned = list(self.sessions)
        if owned:
            children_of = children_map()  # one scan of the process table for every tool's tree
            pipe = self.redis.pipeline(transaction=False)
            for tool_id in owned:
                stats = self._live_stats(tool_id, children_of)
                pipe.set(live_key(self.settings, tool_id), json.dumps(stats), px=self.settings.mcp.worker.lease_ttl_ms)
            pipe.execute()

    def _live_stats(self, tool_id: int, children_of: dict[int, list[int]] | None = None) -> dict:
        session = self.sessions.get(tool_id)
        stats = {"worker": self.id, **(session.snapshot() if session else {})}
        pid = session.pid if session else None
        if not pid:
            return stats
        try:
            meter = self._meters.get(tool_id)
            if meter is None or meter.root.pid != pid:
                meter = self._meters[tool_id] = TreeMeter(pid)
            stats.update(meter.sample(children_of))
            reason = meter.violation(stats, session.tool.get("memory_limit_mb"), session.tool.get("cpu_limit_percent"))
            if reason:
                session.killed_because(reason)
                meter.kill()
        except psutil.Error:
            pass
        return stats

    def _reap_dead_workers(self) -> None:
        for worker_id in registry.known_worker_ids(self.redis, self.settings) - {self.id}:
            if not registry.is_alive(self.redis, self.settings, worker_id):
                reaper.reap(self.redis, self.broker, self.settings, worker_id, self._record_lost_job)
        reaper.record_lost_calls(self.redis, self.settings, self.bookkeeper.write)

    def _record_lost_job(self, job: dict, event: dict) -> None:
        self.bookkeeper.record(JobRecord(job, event, self.id, None, time.time()))

    def _take_over_orphans(self) -> None:
        wanted = [t.id for t in Tool.select(Tool.id).where(Tool.desired_state == "running")]
        if not wanted:
            return
        owners = self.redis.mget([lease_key(self.settings, t) for t in wanted])
        for tool_id, owner in zip(wanted, owners):
            if owner is None and tool_id not in self.sessions and self.leases.claim(tool_id, self.id):
                tool = Tool.get_or_none(Tool.id == tool_id)
                if tool is None or tool.desired_state != "running":
                    self.leases.release(tool_id, self.id)
                    continue
                log.warning("event=tool.takeover tool=%s worker=%s", tool.name, self.id)
                self._logger(tool_id)("WARNING", "lifecycle", f"taken over by worker {self.id}")
                threading.Thread(target=self._start_quietly, args=(tool,), daemon=True).start()

    def _start_quietly(self, tool: Tool) -> None:
        try:
            self.start_tool_local(tool)
        except Exception:
            log.exception("event=tool.takeover_failed tool=%s", tool.name)

    def _auto_start_if_first(self) -> None:
        others = [w for w in registry.live_workers(self.redis, self.settings) if w["id"] != self.id]
        if not others:
            Tool.update(desired_state="running").where(Tool.auto_start == True).execute()  # noqa: E712


class OwnedElsewhere(Exception):
    def __init__(self, owner: str | None):
        super().__init__(f"tool is owned by worker {owner}")
        self.owner = owner


LISTS = ("mcp_tools", "mcp_resources", "mcp_prompts")


def _change_reason(fields: dict, announced_status: str | None) -> str | None:
    """Why a status report changes what front doors serve (None: it does not)."""
    status = fields.get("status")
    if status is not None and status != announced_status:
        return f"status:{status}"
    if any(name in fields for name in LISTS):
        return "lists"
    return None


def _utc(epoch: float):
    from datetime import datetime, timezone
    return datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None)
