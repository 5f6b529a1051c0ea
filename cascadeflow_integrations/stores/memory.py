"""`MemoryStore`: the store interface in process memory (tests, offline replays, short-lived agents)."""

from __future__ import annotations

import threading
import time
from typing import Any

from .base import (
    DEFAULT_MAX_ROWS,
    DecisionRow,
    DecisionStore,
    Label,
    PolicyRecord,
    StoreStats,
    check_retention,
)


class MemoryStore(DecisionStore):
    """Rows and labels in memory, under a lock (appends are O(1)); retention as in every store."""

    def __init__(self, *, max_age_s: float | None = None, max_rows: int | None = DEFAULT_MAX_ROWS) -> None:
        check_retention(max_age_s, max_rows)
        self.max_age_s = max_age_s
        self.max_rows = max_rows
        self._rows: dict[str, DecisionRow] = {}
        self._labels: list[Label] = []
        self._policies: list[PolicyRecord] = []
        self._lock = threading.Lock()
        self._stats = StoreStats()

    def append(self, row: DecisionRow) -> bool:
        with self._lock:
            self._rows.pop(row.request_id, None)  # a re-logged request replaces its row, as in SQLite
            self._rows[row.request_id] = row
            self._stats.written += 1
            if self.max_rows is not None and len(self._rows) > self.max_rows:
                self._prune_locked()
        return True

    def add_label(self, label: Label) -> bool:
        with self._lock:
            self._labels.append(label)
            self._stats.written += 1
        return True

    @property
    def stats(self) -> StoreStats:
        self._stats.guarantee_alarms = self.guarantee_alarms
        return self._stats

    async def rows(self, *, since: float | None = None, limit: int | None = None) -> list[DecisionRow]:
        with self._lock:
            out = sorted(self._rows.values(), key=lambda r: r.ts)
        if since is not None:
            out = [r for r in out if r.ts >= since]
        return out[-limit:] if limit else out

    async def labels(self, *, since: float | None = None) -> list[Label]:
        with self._lock:
            out = list(self._labels)
        return [lb for lb in out if since is None or lb.ts >= since]

    async def row(self, request_id: str) -> DecisionRow | None:
        with self._lock:
            return self._rows.get(request_id)

    async def prune(self) -> int:
        with self._lock:
            return self._prune_locked()

    def _prune_locked(self) -> int:
        drop: set[str] = set()
        if self.max_age_s is not None:
            cut = time.time() - self.max_age_s
            drop |= {k for k, r in self._rows.items() if r.ts < cut}
        if self.max_rows is not None:
            keep = sorted((r for k, r in self._rows.items() if k not in drop), key=lambda r: r.ts)
            drop |= {r.request_id for r in keep[: max(0, len(keep) - self.max_rows)]}
        for k in drop:
            del self._rows[k]
        if drop:
            self._labels = [lb for lb in self._labels if lb.request_id not in drop]
        self._stats.pruned += len(drop)
        return len(drop)

    async def put_policy(self, doc: dict[str, Any]) -> int:
        with self._lock:
            version = (self._policies[-1].version if self._policies else 0) + 1
            self._policies.append(PolicyRecord(version, doc, time.time()))
            return version

    async def get_policy(self) -> PolicyRecord | None:
        with self._lock:
            return self._policies[-1] if self._policies else None
