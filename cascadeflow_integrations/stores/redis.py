"""`RedisStore`: budgets, the decision log and the published policy on a Redis server (extra `[redis]`).

Shared by every process of a fleet:

- **Budgets**: each reservation and settlement is one Lua script run on the server, so concurrent
  processes never race on a read-modify-write. Both are idempotent per reservation id (a retried
  command after a lost reply counts once), reservations expire (a crashed process frees its
  share), and amounts are integers of 1e-9 USD. Run Redis with `appendonly yes` so settled spend
  survives a restart (`appendfsync always` loses nothing; `everysec`, at most the last second).
- **Decision log**: rows and labels are appended to capped streams (`XADD ... MAXLEN ~`) by one
  writer thread from a bounded queue, so the request path only pays a `put_nowait`; while Redis is
  down the writer retries, and rows that do not fit in the queue are dropped and counted.
- **Policy**: published with a version that increases atomically; `policy_version()` is one cheap
  read, so every process can pick up a new policy without a restart.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import queue
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ..errors import ConfigError
from .._imports import ready, warm
from .budget import ReserveResult
from ._url import check_redis_url, redacted_url
from ._writer import STOP, QueuedWriter
from .base import (
    DEFAULT_MAX_AGE_S,
    DEFAULT_MAX_ROWS,
    DecisionRow,
    DecisionStore,
    Label,
    PolicyRecord,
    StoreStats,
    check_retention,
)

logger = logging.getLogger("cascadeflow_integrations")

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, rid in ipairs(expired) do
  local a = redis.call('HGET', KEYS[3], rid)
  if a then redis.call('HINCRBY', KEYS[1], 'reserved', -tonumber(a)) end
  redis.call('HDEL', KEYS[3], rid)
  redis.call('ZREM', KEYS[2], rid)
end
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then
  return {1, spent, reserved}
end
if ARGV[6] ~= '1' and spent + reserved + tonumber(ARGV[2]) > tonumber(ARGV[3]) then
  return {0, spent, reserved}
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
if tonumber(ARGV[5]) > 0 then
  for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
end
return {1, spent, reserved + tonumber(ARGV[2])}
"""

_SETTLE = """
if not redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[4]) then
  return 0
end
local a = redis.call('HGET', KEYS[3], ARGV[1])
if a then
  redis.call('HINCRBY', KEYS[1], 'reserved', -tonumber(a))
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
if tonumber(ARGV[3]) > 0 then
  for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
end
return 1
"""

_PUT_POLICY = """
local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'doc', ARGV[1], 'ts', ARGV[2])
redis.call('PUBLISH', KEYS[2], v)
return v
"""

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

#: How long a settled reservation's id is remembered, so a retried settlement counts once.
_SETTLED_TTL_S = 86_400


_EXTRA = "RedisStore needs the redis extra: pip install 'cascadeflow-integrations[redis]'"


def _redis() -> Any:
    try:
        import redis
    except ImportError:
        raise ImportError(_EXTRA) from None
    return redis


class RedisStore(QueuedWriter, DecisionStore):
    """Budgets, decision log and policy on Redis at `url` (`redis://host:6379/0`, `rediss://...`).

    - `prefix`: namespace of every key (several fleets can share a server).
    - `timeout`: seconds for one Redis operation (connect and read); nothing waits longer.
    - `max_rows` / `max_age_s`: the log stream's cap and retention (labels are capped alike).
    - `max_queue`: rows waiting for the writer; past it, rows are dropped and counted.
    - `max_connections`: connections per event loop; more concurrent budget calls wait (bounded by `timeout`).
    - `close_timeout`: how long `aclose()` keeps retrying queued rows while Redis is down before dropping them
      (and counting them in `stats.dropped`); `flush()` waits at most as long. Nothing waits on Redis forever.
    """

    _thread_name = "cascadeflow-redis-log"

    def __init__(self, url: str, *, prefix: str = "cascadeflow", timeout: float = 1.0,
                 max_rows: int | None = DEFAULT_MAX_ROWS, max_age_s: float | None = DEFAULT_MAX_AGE_S,
                 max_queue: int = 10_000, batch_size: int = 256, max_pending_settlements: int = 10_000,
                 max_connections: int = 64, close_timeout: float = 5.0) -> None:
        check_redis_url(url)
        check_retention(max_age_s, max_rows)
        if timeout <= 0 or max_queue < 1 or batch_size < 1:
            raise ConfigError("RedisStore timeout must be > 0 seconds; max_queue and batch_size >= 1")
        if importlib.util.find_spec("redis") is None:
            raise ImportError(_EXTRA)
        warm("redis.asyncio")  # in a thread from now on: never on the event loop (it takes a tenth of a second)
        scheme = url.partition("://")[0]
        self.url = scheme.lower() + url[len(scheme):]  # redis-py < 8 matches the scheme in lower case only
        self.prefix = prefix
        self.timeout = timeout
        self.max_rows = max_rows
        self.max_age_s = max_age_s
        self.batch_size = batch_size
        self.max_connections = max_connections
        self.close_timeout = close_timeout
        self._closed_at = 0.0
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._sync: Any = None
        self._sync_lock = threading.Lock()
        self._init_writer(max_queue)
        self._written = 0
        self._dropped_writer = 0  # counted by the writer (a batch given up on at close)
        self._write_error: str | None = None  # the writer's last failure, None once a write succeeds
        self._wake = threading.Event()  # cuts the writer's retry pause short when the store closes
        self._pending: deque[tuple[str, str, int, int | None]] = deque()
        self._max_pending = max_pending_settlements
        self.settlements_dropped = 0
        self._checked_durability = False
        self._read_flush_s = max(5 * timeout, 1.0)

    def __repr__(self) -> str:
        return f"RedisStore({redacted_url(self.url)!r})"  # no user, password or query

    # ---- keys and clients ------------------------------------------------------------------

    def _k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def _budget_keys(self, bucket: str) -> list[str]:
        tag = "{" + bucket + "}"  # one hash slot per bucket, so the scripts also run on Redis Cluster
        return [self._k("budget", tag), self._k("budget", tag, "res"), self._k("budget", tag, "amt")]

    def _client_kwargs(self) -> dict[str, Any]:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # One immediate retry (a connection the server closed on restart is replaced); every
        # command is idempotent, so a retry after a lost reply is safe.
        return {"socket_timeout": self.timeout, "socket_connect_timeout": self.timeout,
                "retry": Retry(NoBackoff(), 1), "health_check_interval": 0}

    async def ready(self) -> None:
        """Wait, off the event loop, until redis-py is imported (a budget awaits it before its timeout starts)."""
        await ready("redis.asyncio")

    async def _async(self) -> tuple[Any, Any, Any]:
        loop = asyncio.get_running_loop()
        entry = self._aclients.get(loop)
        if entry is None:
            await self.ready()
            import redis.asyncio as aredis
            from redis.asyncio.retry import Retry as ARetry
            from redis.backoff import NoBackoff

            kw = self._client_kwargs()
            kw["retry"] = ARetry(NoBackoff(), 1)
            # Calls beyond `max_connections` wait for a free connection (at most `timeout`), rather
            # than fail at once as the default pool does.
            pool = aredis.BlockingConnectionPool.from_url(self.url, max_connections=self.max_connections,
                                                          timeout=self.timeout, **kw)
            client = aredis.Redis(connection_pool=pool)
            entry = (client, client.register_script(_RESERVE), client.register_script(_SETTLE))
            self._aclients[loop] = entry
        return entry

    def _sync_client(self) -> Any:
        with self._sync_lock:
            if self._sync is None:
                self._sync = _redis().Redis.from_url(self.url, **self._client_kwargs())
            return self._sync

    async def _check_durability(self, client: Any) -> None:
        self._checked_durability = True
        try:
            cfg = await client.config_get("appendonly")
        except Exception:  # CONFIG is often disabled on managed Redis: nothing to check then
            return
        if str(cfg.get("appendonly", "")).lower() != "yes":
            logger.warning("Redis at %r runs without appendonly: budget spend may be lost on a Redis restart "
                           "(set appendonly yes)", self)

    # ---- budgets (BudgetStore) --------------------------------------------------------------

    async def budget_reserve(self, bucket: str, reservation_id: str, amount: int, limit: int, ttl_s: float,
                             expire_s: int | None, force: bool) -> ReserveResult:
        client, reserve, _ = await self._async()
        if not self._checked_durability:
            await self._check_durability(client)
        if self._pending:
            await self._flush_settlements()
        ok, spent, reserved = await reserve(keys=self._budget_keys(bucket), args=[
            reservation_id, amount, limit, int(ttl_s * 1000), expire_s or 0, "1" if force else "0"])
        return ReserveResult(bool(ok), int(spent), int(reserved))

    async def budget_settle(self, bucket: str, reservation_id: str, actual: int, expire_s: int | None) -> None:
        _, _, settle = await self._async()
        keys = [*self._budget_keys(bucket), self._k("budget", "{" + bucket + "}", "done", reservation_id)]
        await settle(keys=keys, args=[reservation_id, actual, expire_s or 0, _SETTLED_TTL_S])

    async def budget_usage(self, bucket: str) -> tuple[int, int]:
        client, _, _ = await self._async()
        spent, reserved = await client.hmget(self._budget_keys(bucket)[0], ["spent", "reserved"])
        return int(spent or 0), int(reserved or 0)

    def defer_settle(self, bucket: str, reservation_id: str, actual: int, expire_s: int | None) -> None:
        """Keep a settlement that could not reach Redis; it is sent before the next budget operation."""
        if len(self._pending) >= self._max_pending:
            self.settlements_dropped += 1
            logger.error("budget settlement queue full (%d): settlement of %s dropped", self._max_pending, bucket)
            return
        self._pending.append((bucket, reservation_id, actual, expire_s))

    async def _flush_settlements(self) -> None:
        while self._pending:
            item = self._pending[0]
            await self.budget_settle(*item)  # raises while Redis is down: the rest stays queued
            self._pending.popleft()

    @property
    def pending_settlements(self) -> int:
        return len(self._pending)

    # ---- decision log (request path: never blocks, never raises) -----------------------------

    def append(self, row: DecisionRow) -> bool:
        return self._put(("log", row.request_id, row.ts, row.to_dict()))

    def add_label(self, label: Label) -> bool:
        return self._put(("labels", label.request_id, label.ts, label.to_dict()))


    @property
    def stats(self) -> StoreStats:
        return StoreStats(self._written, self._dropped_full + self._dropped_writer, self._queue.qsize(), 0,
                          self.guarantee_alarms)


    def _writer(self) -> None:
        batch: list[Any] = []
        waiters: list[threading.Event] = []
        stopping = False
        backoff = 0.05
        while True:
            if not batch and not stopping:
                item = self._queue.get()
                self._collect(item, batch, waiters)
                stopping = item is STOP
            while len(batch) < self.batch_size and not stopping:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                self._collect(item, batch, waiters)
                stopping = item is STOP
            if batch:
                try:
                    self._write(batch)
                except Exception as e:
                    self._write_error = type(e).__name__  # not the exception: it would hold the batch's frames
                    closing = stopping or self._closed
                    if closing and time.monotonic() - self._closed_at >= self.close_timeout:
                        # closing with Redis down for longer than close_timeout: the rest is dropped, and counted
                        dropped = len(batch) + self._drain(waiters)
                        self._dropped_writer += dropped
                        logger.error("decision log: %d row(s) dropped at close, Redis unreachable (%s)", dropped, e)
                        for w in waiters:
                            w.set()
                        return
                    else:
                        logger.warning("decision log: Redis unreachable (%s: %s); retrying", type(e).__name__, e)
                        pause = backoff
                        if closing:  # never retry past close_timeout
                            pause = min(pause, max(0.0, self.close_timeout - (time.monotonic() - self._closed_at)))
                        self._wake.wait(pause)
                        self._wake.clear()
                        backoff = min(backoff * 2, 1.0)
                        continue
                else:
                    self._write_error = None
                    self._written += len(batch)
                    batch = []
                    backoff = 0.05
            for w in waiters:
                w.set()
            waiters = []
            if stopping:
                return

    def _drain(self, waiters: list[threading.Event]) -> int:
        n = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return n
            if isinstance(item, threading.Event):
                waiters.append(item)
            elif item is not STOP:
                n += 1

    @staticmethod
    def _collect(item: Any, batch: list[Any], waiters: list[threading.Event]) -> None:
        if isinstance(item, threading.Event):
            waiters.append(item)
        elif item is not STOP:
            batch.append(item)

    def _write(self, batch: list[Any]) -> None:
        client = self._sync_client()
        pipe = client.pipeline(transaction=False)
        for stream, request_id, ts, data in batch:
            fields = {"id": request_id, "ts": repr(float(ts)), "data": json.dumps(data, default=str)}
            if self.max_rows is not None:
                pipe.xadd(self._k(stream), fields, maxlen=self.max_rows, approximate=True)
            else:
                pipe.xadd(self._k(stream), fields)
        pipe.execute()

    # ---- decision log (reads) ----------------------------------------------------------------

    def _read_stream(self, stream: str) -> list[dict[str, Any]]:
        client = self._sync_client()
        out: list[dict[str, Any]] = []
        start = "-"
        while True:
            entries = client.xrange(self._k(stream), min=start, max="+", count=5000)
            for _, fields in entries:
                try:
                    out.append(json.loads(fields[b"data"]))
                except (KeyError, ValueError):
                    logger.warning("decision log: unreadable entry skipped in %s", stream)
            if len(entries) < 5000:
                return out
            last = entries[-1][0].decode()
            ms, seq = last.split("-")
            start = f"{ms}-{int(seq) + 1}"

    async def _flush_before_read(self) -> None:
        # this process's own queued rows are visible to its reads; while the writer cannot reach Redis the
        # read would fail as well (or miss rows still queued), so it is not delayed
        if self._write_error is None:
            await self.flush(self._read_flush_s)

    async def rows(self, *, since: float | None = None, limit: int | None = None) -> list[DecisionRow]:
        await self._flush_before_read()
        raw = await asyncio.to_thread(self._read_stream, "log")
        latest: dict[str, DecisionRow] = {}
        for d in raw:
            try:
                row = DecisionRow.from_dict(d)
            except (TypeError, ValueError):
                continue
            latest.pop(row.request_id, None)  # a re-logged request replaces its row
            latest[row.request_id] = row
        out = sorted(latest.values(), key=lambda r: r.ts)
        if since is not None:
            out = [r for r in out if r.ts >= since]
        return out[-limit:] if limit else out

    async def labels(self, *, since: float | None = None) -> list[Label]:
        await self._flush_before_read()
        out: list[Label] = []
        for d in await asyncio.to_thread(self._read_stream, "labels"):
            try:
                lb = Label.from_dict(d)
            except (TypeError, ValueError):
                continue
            if since is None or lb.ts >= since:
                out.append(lb)
        return out

    async def prune(self) -> int:
        def trim() -> int:
            client = self._sync_client()
            n = 0
            for stream in ("log", "labels"):
                if self.max_age_s is not None:
                    min_id = int((time.time() - self.max_age_s) * 1000)
                    n += int(client.xtrim(self._k(stream), minid=min_id))
                if self.max_rows is not None:
                    # exact: the approximate trim of XADD leaves whole stream nodes (their size depends on row size)
                    n += int(client.xtrim(self._k(stream), maxlen=self.max_rows, approximate=False))
            return n

        return await asyncio.to_thread(trim)

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until what is queued so far is written, at most `timeout` seconds (default `close_timeout`):
        while Redis is unreachable the rows stay queued (`stats.queued`), retried until `aclose()`."""
        if self._thread is None or self._closed:
            return
        await asyncio.to_thread(self._flush_sync, self.close_timeout if timeout is None else timeout)

    # ---- policy ------------------------------------------------------------------------------

    async def put_policy(self, doc: dict[str, Any]) -> int:
        client, _, _ = await self._async()
        version = await client.eval(_PUT_POLICY, 2, self._k("policy"), self._k("policy", "updates"),
                                    json.dumps(doc), repr(time.time()))
        return int(version)

    async def get_policy(self) -> PolicyRecord | None:
        client, _, _ = await self._async()
        version, doc, ts = await client.hmget(self._k("policy"), ["version", "doc", "ts"])
        if version is None or doc is None:
            return None
        try:
            parsed = json.loads(doc)
        except ValueError as e:
            raise ValueError(f"the policy published in {self!r} is not JSON ({e}): publish it again with fit") from None
        if not isinstance(parsed, dict):
            raise ValueError(f"the policy published in {self!r} is not a JSON object: publish it again with fit")
        return PolicyRecord(int(version), parsed, float(ts or 0.0))

    async def policy_version(self) -> int:
        """The latest published policy version (0 when none): one cheap read, to poll for updates."""
        client, _, _ = await self._async()
        v = await client.hget(self._k("policy"), "version")
        return int(v or 0)

    @asynccontextmanager
    async def lock(self, name: str, ttl_s: float = 300.0) -> AsyncIterator[bool]:
        """A fleet-wide lock (e.g. one fitter at a time); yields False when another process holds it."""
        client, _, _ = await self._async()
        key, token = self._k("lock", name), uuid.uuid4().hex
        got = bool(await client.set(key, token, nx=True, px=int(ttl_s * 1000)))
        try:
            yield got
        finally:
            if got:
                await client.eval(_UNLOCK, 1, key, token)

    # ---- lifecycle ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        if not self._closed:
            self._closed_at = time.monotonic()
            self._closed = True
            self._wake.set()
            # the writer gives up close_timeout from now; one more write attempt may be under way then
            if not await self._stop(self.close_timeout + 2 * self.timeout):
                logger.error("decision log: the writer of %r did not stop within close_timeout; its last attempt "
                             "writes or drops (and counts) the %d row(s) still queued", self, self._queue.qsize())
        if self._pending:
            try:
                await asyncio.wait_for(self._flush_settlements(), self.timeout)
            except Exception as e:
                logger.error("budget: %d settlement(s) not sent at close, Redis unreachable (%s)", len(self._pending), e)
        entry = self._aclients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[0].aclose()
        with self._sync_lock:
            if self._sync is not None:
                self._sync.close()
                self._sync = None
