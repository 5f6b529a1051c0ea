"""Budget reservations on the in-memory store and on a real redis-server: atomic, idempotent, durable."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cascadeflow_integrations import ModelConfig
from cascadeflow_integrations.budget import (
    NANO,
    Budget,
    BudgetExceededError,
    BudgetUnavailableError,
)
from cascadeflow_integrations.types import Message

ROOT = Path(__file__).resolve().parents[1]


def redis_store(url: str, **kw: Any) -> Any:
    from cascadeflow_integrations.stores import RedisStore

    return RedisStore(url, **kw)


async def _reserve_many(budget: Budget, key: str, n: int, amount: float) -> int:
    async def one() -> bool:
        hold, res = await budget.reserve(key, amount)
        assert res is not None, "the store did not answer"  # e.g. a connection pool that refuses under load
        return res.granted

    return sum(await asyncio.gather(*(one() for _ in range(n))))


# ---- arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kw, needle", [
    ({"limit_usd": -1}, "limit_usd"), ({"limit_usd": 1, "window": "week"}, "window"),
    ({"limit_usd": 1, "on_exceed": "queue"}, "on_exceed"), ({"limit_usd": 1, "on_store_error": "maybe"}, "on_store_error"),
    ({"limit_usd": 1, "per": 3}, "per="), ({"limit_usd": 1, "store": object()}, "RedisStore"),
])
def test_bad_arguments_name_the_problem(kw: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        Budget(**kw)


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("kw, field", [
    ({"limit_usd": NAN}, "limit_usd"), ({"limit_usd": INF}, "limit_usd"), ({"limit_usd": 1e308}, "limit_usd"),
    ({"limit_usd": 10**400}, "limit_usd"), ({"limit_usd": True}, "limit_usd"), ({"limit_usd": "5"}, "limit_usd"),
    ({"limit_usd": 1, "timeout": NAN}, "timeout"), ({"limit_usd": 1, "timeout": INF}, "timeout"),
    ({"limit_usd": 1, "timeout": 0}, "timeout"), ({"limit_usd": 1, "reservation_ttl": NAN}, "reservation_ttl"),
    ({"limit_usd": 1, "reservation_ttl": INF}, "reservation_ttl"), ({"limit_usd": 1, "reservation_ttl": 1e300}, "reservation_ttl"),
    ({"limit_usd": 1, "default_max_tokens": 2.5}, "default_max_tokens"),
    ({"limit_usd": 1, "default_max_tokens": 2.0}, "default_max_tokens"),
    ({"limit_usd": 1, "default_max_tokens": True}, "default_max_tokens"),
    ({"limit_usd": 1, "default_max_tokens": 10**30}, "default_max_tokens"),
])
def test_numbers_that_are_not_numbers_are_refused_naming_the_field(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"Budget {field} must be a (finite|whole) number") as e:
        Budget(**kw)
    assert "got " in str(e.value) and "e.g." in str(e.value) or "leave budget= unset" in str(e.value)


def test_largest_numbers_still_budget() -> None:
    budget = Budget(1e9, reservation_ttl=1e9, default_max_tokens=100_000_000)
    hold, res = asyncio.run(budget.reserve("t", 1e9))
    assert res is not None and res.granted and hold.action == "none"  # budgeted, not "store unavailable"
    assert Budget(0).limit_usd == 0.0 and Budget(5).limit_usd == 5.0


def test_a_non_finite_worst_case_is_not_blamed_on_the_store() -> None:
    budget = Budget(1.0)
    with pytest.raises(ValueError, match="not a finite number of USD .*prices"):
        asyncio.run(budget.reserve("t", float("inf")))


def test_keys_from_budget_key_field_or_function() -> None:
    assert Budget(1).key_for(None) == "default"
    assert Budget(1).key_for("tenant-42") == "tenant-42"
    assert Budget(1, per="tenant").key_for({"tenant": "t-7"}) == "t-7"
    assert Budget(1, per=lambda m: f"user:{m['user']}").key_for({"user": "ann"}) == "user:ann"
    with pytest.raises(ValueError, match="metadata field 'tenant'"):
        Budget(1, per="tenant").key_for({"user": "ann"})


def test_windows_are_utc_calendar_periods() -> None:
    from datetime import datetime, timezone

    t = datetime(2026, 12, 31, 23, 0, tzinfo=timezone.utc)
    assert Budget(1, window="day").bucket("k", t)[0] == "k@2026-12-31"
    bucket, ttl = Budget(1, window="month").bucket("k", t)
    assert bucket == "k@2026-12" and ttl == 3600 + 86_400
    assert Budget(1).bucket("k", t) == ("k", None)


def test_worst_case_bounds_input_by_bytes_and_output_by_max_tokens() -> None:
    cheap = ModelConfig(name="a", input_cost=1.0, output_cost=2.0, max_output_tokens=100)
    strong = ModelConfig(name="b", input_cost=10.0, output_cost=20.0)
    msgs = [Message("user", "x" * 992)]  # 992 bytes + 8 per message = 1000 tokens at most
    b = Budget(1, default_max_tokens=500)
    assert b.worst_case_usd([cheap], msgs, max_tokens=50) == pytest.approx(1.0 + 0.1)
    assert b.worst_case_usd([cheap], msgs) == pytest.approx(1.0 + 0.2)  # the model's max_output_tokens
    assert b.worst_case_usd([strong], msgs) == pytest.approx(10.0 + 10.0)  # the budget's default
    assert b.worst_case_usd([cheap, strong], msgs, max_tokens=50) == pytest.approx(1.1 + 11.0)


# ---- in memory ---------------------------------------------------------------------------------


async def test_memory_gather_never_overshoots() -> None:
    budget = Budget(1.0)
    assert await _reserve_many(budget, "t", 200, 0.03) == 33  # 33 * 0.03 <= 1 < 34 * 0.03


async def test_memory_settle_replaces_reservation_once() -> None:
    budget = Budget(1.0)
    hold, res = await budget.reserve("t", 0.6)
    assert res is not None and res.granted
    assert not (await budget.reserve("t", 0.6))[1].granted  # type: ignore[union-attr]
    await hold.settle(0.1)
    await hold.settle(0.1)  # once only
    await budget.store.budget_settle(hold.bucket, hold.reservation_id, int(0.1 * NANO), None)  # a retry
    assert await budget.spent("t") == pytest.approx(0.1)
    assert (await budget.reserve("t", 0.85))[1].granted  # type: ignore[union-attr]


async def test_memory_reservations_expire() -> None:
    budget = Budget(1.0, reservation_ttl=0.05)
    await budget.reserve("t", 0.9)  # a process that died before settling
    await asyncio.sleep(0.1)
    assert (await budget.reserve("t", 0.9))[1].granted  # type: ignore[union-attr]


# ---- on Redis ----------------------------------------------------------------------------------


@pytest.mark.redis
async def test_redis_gather_never_overshoots(redis_url: str) -> None:
    store = redis_store(redis_url)
    budget = Budget(1.0, store=store)
    try:
        assert await _reserve_many(budget, "t", 500, 0.03) == 33  # more calls at once than pooled connections
        spent, reserved = await store.budget_usage("t")
        assert (spent, reserved) == (0, 33 * int(0.03 * NANO))
    finally:
        await store.aclose()


@pytest.mark.redis
async def test_redis_settle_is_idempotent_and_releases(redis_url: str) -> None:
    store = redis_store(redis_url)
    budget = Budget(1.0, store=store, window="day")
    try:
        hold, res = await budget.reserve("t", 0.6)
        assert res is not None and res.granted
        for _ in range(3):  # a retried settlement after a lost reply counts once
            await store.budget_settle(hold.bucket, hold.reservation_id, int(0.25 * NANO), hold.expire_s)
        assert await budget.spent("t") == pytest.approx(0.25)
        assert await store.budget_usage(hold.bucket) == (int(0.25 * NANO), 0)
        # retrying a reservation by id does not reserve twice
        again = await store.budget_reserve(hold.bucket, "r2", int(0.5 * NANO), NANO, 60, None, False)
        same = await store.budget_reserve(hold.bucket, "r2", int(0.5 * NANO), NANO, 60, None, False)
        assert again.granted and same.granted and same.reserved == int(0.5 * NANO)
    finally:
        await store.aclose()


@pytest.mark.redis
async def test_redis_reservation_of_a_dead_process_expires(redis_url: str) -> None:
    store = redis_store(redis_url)
    try:
        budget = Budget(1.0, store=store, reservation_ttl=0.05)
        await budget.reserve("t", 0.9)
        await asyncio.sleep(0.1)
        assert (await budget.reserve("t", 0.9))[1].granted  # type: ignore[union-attr]
    finally:
        await store.aclose()


WORKER = r"""
import asyncio, sys
from cascadeflow_integrations.budget import Budget
from cascadeflow_integrations.stores import RedisStore

async def main(url, n):
    store = RedisStore(url)
    budget = Budget(1.0, store=store)
    granted = 0
    async def one():
        nonlocal granted
        hold, res = await budget.reserve("fleet", 0.01)
        if res is not None and res.granted:
            granted += 1
            await asyncio.sleep(0)
            await hold.settle(0.01)
    await asyncio.gather(*(one() for _ in range(n)))
    await store.aclose()
    print(granted)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


@pytest.mark.redis
async def test_redis_processes_share_one_budget_without_overshoot(redis_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, redis_url, "60"], stdout=subprocess.PIPE, text=True,
                              env=env) for _ in range(4)]
    granted = [int(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(granted) == 100  # 240 tries of $0.01 against $1.00: exactly 100 fit, whatever the interleaving
    store = redis_store(redis_url)
    try:
        assert await store.budget_usage("fleet") == (NANO, 0)
    finally:
        await store.aclose()


@pytest.mark.redis
async def test_redis_restart_keeps_settled_spend_and_counts_in_flight_once(own_redis_server: Any) -> None:
    store = redis_store(own_redis_server.url)
    budget = Budget(1.0, store=store)
    try:
        done, _ = await budget.reserve("t", 0.3)
        await done.settle(0.2)
        in_flight, _ = await budget.reserve("t", 0.3)
        own_redis_server.restart()  # SIGKILL and start again on the same append-only file
        assert await budget.spent("t") == pytest.approx(0.2)
        assert (await store.budget_usage("t"))[1] == int(0.3 * NANO)  # the in-flight reservation is still held
        await in_flight.settle(0.25)
        await store.budget_settle(in_flight.bucket, in_flight.reservation_id, int(0.25 * NANO), None)  # a retry
        assert await store.budget_usage("t") == (int(0.45 * NANO), 0)
    finally:
        await store.aclose()


@pytest.mark.redis
async def test_redis_outage_fails_open_with_a_log_line_then_settles_later(own_redis_server: Any,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    store = redis_store(own_redis_server.url, timeout=0.3)
    budget = Budget(1.0, store=store, timeout=0.5)
    try:
        hold, _ = await budget.reserve("t", 0.1)
        own_redis_server.stop()
        with caplog.at_level(logging.WARNING, logger="cascadeflow_integrations"):
            await hold.settle(0.1)  # Redis is down: queued
            down, res = await budget.reserve("t", 0.1)
        assert res is None and down.action == "store_unavailable"
        assert "fail open" in caplog.text and "queued" in caplog.text
        assert store.pending_settlements == 1
        own_redis_server.start()
        await down.settle(0.05)
        hold2, res2 = await budget.reserve("t", 0.1)  # sends the queued settlement first
        assert res2 is not None and res2.granted and store.pending_settlements == 0
        assert await budget.spent("t") == pytest.approx(0.15)
    finally:
        await store.aclose()


@pytest.mark.redis
async def test_redis_outage_fails_closed_when_configured(own_redis_server: Any) -> None:
    store = redis_store(own_redis_server.url, timeout=0.3)
    budget = Budget(1.0, store=store, on_store_error="closed", timeout=0.5)
    try:
        own_redis_server.stop()
        with pytest.raises(BudgetUnavailableError, match="fails closed"):
            await budget.reserve("t", 0.1)
    finally:
        await store.aclose()


@pytest.mark.redis
async def test_redis_hung_server_is_bounded_by_the_timeout(own_redis_server: Any) -> None:
    store = redis_store(own_redis_server.url, timeout=0.2)
    budget = Budget(1.0, store=store, timeout=0.4)
    try:
        await budget.reserve("t", 0.1)  # connected
        assert own_redis_server.proc is not None
        os.kill(own_redis_server.proc.pid, signal.SIGSTOP)  # accepts bytes, never answers
        try:
            hold, res = await asyncio.wait_for(budget.reserve("t", 0.1), 5)
            assert res is None and hold.action == "store_unavailable"
        finally:
            os.kill(own_redis_server.proc.pid, signal.SIGCONT)
    finally:
        await store.aclose()


def test_plan_refuses_with_key_limit_and_spend() -> None:
    cfg = ModelConfig(name="m", input_cost=1.0, output_cost=1.0)
    budget = Budget(0.001, on_exceed="refuse")

    async def go() -> None:
        await budget.plan("tenant-9", [cfg], cfg, [Message("user", "hello")], None, 100)

    with pytest.raises(BudgetExceededError) as ei:
        asyncio.run(go())
    e = ei.value
    assert (e.key, e.limit_usd, e.spent_usd) == ("tenant-9", 0.001, 0.0) and e.needed_usd > 0.001
    assert "tenant-9" in str(e) and "limit $0.001000" in str(e) and "spent $0.000000" in str(e)

