"""Where budgets keep their amounts: the `BudgetStore` protocol and `MemoryBudgetStore`, the default.

Amounts are integers of nano-USD (`NANO` per USD), so a store shared by a fleet adds exactly.
`stores.redis.RedisStore` is the shared one; `budget.Budget` decides what to reserve.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

#: Amounts are kept as integers of 1e-9 USD, so a shared store adds exactly (no float drift).
NANO = 1_000_000_000


def to_nano(usd: float) -> int:
    if not math.isfinite(usd):  # e.g. an enormous price times many tokens: never blame the store for it
        raise ValueError(f"a budget amount is not a finite number of USD ({usd}): check the models' prices")
    # round up: a reservation must never be smaller than the cost it covers
    return int(-(-usd * NANO // 1))


@dataclass(frozen=True, slots=True)
class ReserveResult:
    granted: bool
    spent: int  # nano-USD settled in the bucket (before this reservation)
    reserved: int  # nano-USD reserved by calls in flight (including this one when granted)


@runtime_checkable
class BudgetStore(Protocol):
    """Where budgets keep their amounts. Both operations are atomic and idempotent per reservation id."""

    async def budget_reserve(self, bucket: str, reservation_id: str, amount: int, limit: int, ttl_s: float,
                             expire_s: int | None, force: bool) -> ReserveResult:
        """Reserve `amount` if spent + reserved + amount <= limit (always when `force`)."""
        ...

    async def budget_settle(self, bucket: str, reservation_id: str, actual: int, expire_s: int | None) -> None:
        """Release the reservation and add the real cost, once per reservation id."""
        ...

    async def budget_usage(self, bucket: str) -> tuple[int, int]:
        """(spent, reserved) in nano-USD."""
        ...


class MemoryBudgetStore:
    """The default store: one process, amounts in memory (thread-safe: sync calls run on another loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spent: dict[str, int] = {}
        self._held: dict[str, dict[str, tuple[int, float]]] = {}  # bucket -> id -> (amount, expiry)
        self._expires: dict[str, float] = {}  # bucket -> when its window is over (then it is forgotten)
        self._settled: set[str] = set()  # ids settled in the last day, so a retried settlement counts once
        self._settled_order: deque[tuple[float, str]] = deque()
        self._swept = 0.0

    def _purge(self, bucket: str, now: float) -> dict[str, tuple[int, float]]:
        if now - self._swept > 60.0:  # forget finished windows and old settlement ids (amortised)
            self._swept = now
            for b in [b for b, exp in self._expires.items() if exp <= now]:
                self._spent.pop(b, None)
                self._held.pop(b, None)
                del self._expires[b]
        while self._settled_order and self._settled_order[0][0] <= now:
            self._settled.discard(self._settled_order.popleft()[1])
        held = self._held.setdefault(bucket, {})
        for rid in [r for r, (_, exp) in held.items() if exp <= now]:
            del held[rid]
        return held

    async def budget_reserve(self, bucket: str, reservation_id: str, amount: int, limit: int, ttl_s: float,
                             expire_s: int | None, force: bool) -> ReserveResult:
        now = time.monotonic()
        with self._lock:
            held = self._purge(bucket, now)
            spent = self._spent.get(bucket, 0)
            reserved = sum(a for a, _ in held.values())
            if not force and spent + reserved + amount > limit:
                return ReserveResult(False, spent, reserved)
            if reservation_id not in held:
                held[reservation_id] = (amount, now + ttl_s)
                reserved += amount
            if expire_s:
                self._expires[bucket] = now + expire_s
            return ReserveResult(True, spent, reserved)

    async def budget_settle(self, bucket: str, reservation_id: str, actual: int, expire_s: int | None) -> None:
        now = time.monotonic()
        with self._lock:
            self._purge(bucket, now)
            if reservation_id in self._settled:
                return
            self._settled.add(reservation_id)
            self._settled_order.append((now + 86_400, reservation_id))
            self._held.get(bucket, {}).pop(reservation_id, None)
            self._spent[bucket] = self._spent.get(bucket, 0) + actual
            if expire_s:
                self._expires[bucket] = now + expire_s

    async def budget_usage(self, bucket: str) -> tuple[int, int]:
        with self._lock:
            held = self._purge(bucket, time.monotonic())
            return self._spent.get(bucket, 0), sum(a for a, _ in held.values())
