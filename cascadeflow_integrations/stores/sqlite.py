"""`SQLiteStore`: the decision log in a local SQLite file (stdlib `sqlite3`).

Appends go into a bounded queue and are written by one writer thread in batches, so the event
loop only pays for a `put_nowait`. A full queue drops the row and counts it. The file is in WAL
mode with a busy timeout, so several processes (workers of one service) can write the same file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Union

from ..errors import ConfigError
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

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (request_id TEXT PRIMARY KEY, ts REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS decisions_ts ON decisions(ts);
CREATE TABLE IF NOT EXISTS labels (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL,
                                   ts REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS labels_request ON labels(request_id);
CREATE TABLE IF NOT EXISTS policies (version INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, doc TEXT NOT NULL);
"""
#: A label whose row is gone is kept this long before retention deletes it: another process may
#: still be about to write the row.
ORPHAN_GRACE_S = 3600.0
_Item = Union[DecisionRow, Label, threading.Event, object]


class SQLiteStore(QueuedWriter, DecisionStore):
    """The store interface on a SQLite file. `path` is created (with its tables) if missing.

    `max_queue` bounds the rows waiting for the writer; retention (`max_age_s`, `max_rows`) runs in
    the writer every `prune_every_s` seconds and on `prune()`.
    """

    _thread_name = "cascadeflow-decision-log"

    def __init__(
        self,
        path: str | Path,
        *,
        max_queue: int = 10_000,
        max_age_s: float | None = DEFAULT_MAX_AGE_S,
        max_rows: int | None = DEFAULT_MAX_ROWS,
        busy_timeout_s: float = 10.0,
        batch_size: int = 256,
        prune_every_s: float = 60.0,
        read_only: bool = False,
    ) -> None:
        check_retention(max_age_s, max_rows)
        if not isinstance(max_queue, int) or isinstance(max_queue, bool) or max_queue < 1:
            raise ConfigError(f"max_queue must be a positive integer, got {max_queue!r}")
        if busy_timeout_s <= 0 or batch_size < 1 or prune_every_s <= 0:
            raise ConfigError("busy_timeout_s and prune_every_s must be > 0 and batch_size >= 1")
        self.path = Path(path)
        self.max_age_s = max_age_s
        self.max_rows = max_rows
        self.busy_timeout_s = busy_timeout_s
        self.batch_size = batch_size
        self.prune_every_s = prune_every_s
        #: read the log without writing anything (a fit from a copy, a read-only mount): appends are dropped
        self.read_only = bool(read_only)
        self._init_writer(max_queue)
        self._stats = StoreStats()
        if self.read_only:
            if not self.path.is_file():
                raise ConfigError(f"decision log {str(self.path)!r} does not exist: pass the path of an existing log")
            return
        try:
            conn = self._connect()
            try:
                conn.executescript(_SCHEMA)
            finally:
                conn.close()
        except sqlite3.Error as e:
            raise ConfigError(f"decision log {str(self.path)!r} cannot be opened as SQLite ({e}): pass a writable "
                             "file path, e.g. decision_log='cascade.db'") from None

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return self._connect_read_only()
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across crashes of the process
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        uri = self.path.resolve().as_uri()
        try:
            conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=self.busy_timeout_s, check_same_thread=False)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            # WAL needs a writable -shm beside the file; on a read-only location read it as a fixed snapshot
            return sqlite3.connect(f"{uri}?immutable=1", uri=True, check_same_thread=False)

    # ---- request path -----------------------------------------------------------------------

    def append(self, row: DecisionRow) -> bool:
        return self._put(row) if not self.read_only else self._refuse()

    def add_label(self, label: Label) -> bool:
        return self._put(label) if not self.read_only else self._refuse()

    def _refuse(self) -> bool:
        self._stats.dropped += 1
        return False


    @property
    def stats(self) -> StoreStats:
        s = self._stats
        return StoreStats(s.written, s.dropped + self._dropped_full, self._queue.qsize(), s.pruned, self.guarantee_alarms)

    # ---- writer thread ----------------------------------------------------------------------


    def _writer(self) -> None:
        conn = self._connect()
        last_prune = time.monotonic()
        try:
            while True:
                batch = [self._queue.get()]
                while len(batch) < self.batch_size:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                data = [b for b in batch if isinstance(b, (DecisionRow, Label))]
                try:
                    if data:
                        self._write(conn, data)
                        self._stats.written += len(data)
                    now = time.monotonic()
                    if now - last_prune >= self.prune_every_s:
                        last_prune = now
                        self._stats.pruned += self._prune(conn)
                except Exception as e:  # never let the log thread die: count the loss and go on
                    self._stats.dropped += len(data)
                    logger.warning("decision log %s: %d row(s) not written (%s)", self.path, len(data), e)
                for b in batch:
                    if isinstance(b, threading.Event):
                        b.set()
                    self._queue.task_done()
                if any(b is STOP for b in batch):
                    return
        finally:
            conn.close()

    def _write(self, conn: sqlite3.Connection, items: list[Any]) -> None:
        rows = [(r.request_id, r.ts, json.dumps(r.to_dict())) for r in items if isinstance(r, DecisionRow)]
        labels = [(lb.request_id, lb.ts, json.dumps(lb.to_dict())) for lb in items if isinstance(lb, Label)]
        for attempt in range(3):
            try:
                conn.execute("BEGIN IMMEDIATE")  # take the write lock up front: no upgrade deadlocks
                try:
                    if rows:
                        conn.executemany("INSERT OR REPLACE INTO decisions VALUES (?, ?, ?)", rows)
                    if labels:
                        conn.executemany("INSERT INTO labels (request_id, ts, data) VALUES (?, ?, ?)", labels)
                    conn.execute("COMMIT")
                    return
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as e:
                # The busy timeout already waited; another process holds the lock for long. Retry a little.
                if "locked" not in str(e) or attempt == 2:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _prune(self, conn: sqlite3.Connection) -> int:
        now = time.time()
        deleted = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            if self.max_age_s is not None:
                cut = now - self.max_age_s
                deleted += conn.execute("DELETE FROM decisions WHERE ts < ?", (cut,)).rowcount
                conn.execute("DELETE FROM labels WHERE ts < ?", (cut,))
            if self.max_rows is not None:
                deleted += conn.execute(
                    "DELETE FROM decisions WHERE request_id IN "
                    "(SELECT request_id FROM decisions ORDER BY ts DESC LIMIT -1 OFFSET ?)",
                    (self.max_rows,),
                ).rowcount
            conn.execute(
                "DELETE FROM labels WHERE ts < ? AND request_id NOT IN (SELECT request_id FROM decisions)",
                (now - ORPHAN_GRACE_S,),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return deleted

    # ---- async API --------------------------------------------------------------------------

    async def flush(self) -> None:
        await asyncio.to_thread(self._flush_sync)

    def _read(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        conn = self._connect()
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def _decode(self, cls: Any, raw: str) -> Any:
        try:
            return cls.from_dict(json.loads(raw))
        except (ValueError, TypeError) as e:
            logger.warning("decision log %s: skipping an unreadable %s (%s)", self.path, cls.__name__, e)
            return None

    async def rows(self, *, since: float | None = None, limit: int | None = None) -> list[DecisionRow]:
        await self.flush()
        sql = "SELECT data FROM decisions WHERE ts >= ? ORDER BY ts DESC"
        args: tuple[Any, ...] = (since or float("-inf"),)
        if limit:
            sql, args = sql + " LIMIT ?", (*args, int(limit))
        raw = await asyncio.to_thread(self._read, sql, args)
        out = [self._decode(DecisionRow, r[0]) for r in reversed(raw)]
        return [r for r in out if r is not None]

    async def row(self, request_id: str) -> DecisionRow | None:
        await self.flush()
        raw = await asyncio.to_thread(self._read, "SELECT data FROM decisions WHERE request_id = ?", (request_id,))
        return self._decode(DecisionRow, raw[0][0]) if raw else None

    async def labels(self, *, since: float | None = None) -> list[Label]:
        await self.flush()
        raw = await asyncio.to_thread(
            self._read, "SELECT data FROM labels WHERE ts >= ? ORDER BY id", (since or float("-inf"),)
        )
        out = [self._decode(Label, r[0]) for r in raw]
        return [lb for lb in out if lb is not None]

    async def count(self) -> int:
        """Rows currently stored."""
        await self.flush()
        return int((await asyncio.to_thread(self._read, "SELECT COUNT(*) FROM decisions", ()))[0][0])

    async def prune(self) -> int:
        await self.flush()

        def run() -> int:
            conn = self._connect()
            try:
                return self._prune(conn)
            finally:
                conn.close()

        n = await asyncio.to_thread(run)
        self._stats.pruned += n
        return n

    async def put_policy(self, doc: dict[str, Any]) -> int:
        text = json.dumps(doc)

        def run() -> int:
            conn = self._connect()
            try:
                cur = conn.execute("INSERT INTO policies (ts, doc) VALUES (?, ?)", (time.time(), text))
                return int(cur.lastrowid or 0)
            finally:
                conn.close()

        return await asyncio.to_thread(run)

    async def get_policy(self) -> PolicyRecord | None:
        raw = await asyncio.to_thread(
            self._read, "SELECT version, ts, doc FROM policies ORDER BY version DESC LIMIT 1", ()
        )
        if not raw:
            return None
        version, ts, doc = raw[0]
        try:
            parsed = json.loads(doc)
        except ValueError as e:
            raise ValueError(f"policy version {version} in {self.path} is not valid JSON: {e}") from None
        if not isinstance(parsed, dict):
            raise ValueError(f"policy version {version} in {self.path} is not a JSON object")
        return PolicyRecord(int(version), parsed, float(ts))

    async def aclose(self) -> None:
        await self._stop()

    def close(self) -> None:
        """`aclose` from sync code."""
        self._stop_sync()
