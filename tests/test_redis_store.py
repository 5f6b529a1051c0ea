"""`RedisStore` on a real redis-server: the decision log's streams, outages, and policy publication."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cascadeflow_integrations.stores import DecisionRow, Label, PolicyFollower, open_store

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[1]


def _row(i: int, ts: float | None = None) -> DecisionRow:
    return DecisionRow(request_id=f"r{i}", ts=time.time() if ts is None else ts, complexity="simple",
                       answer_kind="number", decision={"accepted": i % 2 == 0, "score": 0.9},
                       features={"len_words": float(i)}, total_cost=0.001)


def _store(url: str, **kw: Any) -> Any:
    from cascadeflow_integrations.stores import RedisStore

    return RedisStore(url, **kw)


def test_bad_url_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="redis://localhost:6379/0"):
        _store("localhost:6379")


async def test_rows_and_labels_round_trip(redis_url: str) -> None:
    store = open_store(redis_url)
    t0 = time.time() - 100
    for i in range(5):
        assert store.append(_row(i, ts=t0 + i))
    store.append(_row(1, ts=t0 + 1.5))  # a re-logged request replaces its row
    assert store.add_label(Label("r1", 0.0, source="escalation"))
    await store.flush()
    rows = await store.rows()
    assert [r.request_id for r in rows] == ["r0", "r1", "r2", "r3", "r4"]
    assert rows[1].ts == t0 + 1.5 and rows[2].features == {"len_words": 2.0}
    assert [r.request_id for r in await store.rows(limit=2)] == ["r3", "r4"]
    assert [(lb.request_id, lb.score) for lb in await store.labels()] == [("r1", 0.0)]
    assert store.stats.written == 7 and store.stats.dropped == 0
    await store.aclose()


async def test_stream_is_capped(redis_url: str) -> None:
    store = _store(redis_url, max_rows=10, max_age_s=None)
    for i in range(50):
        store.append(_row(i))
    await store.flush()
    await store.prune()
    assert [r.request_id for r in await store.rows()] == [f"r{i}" for i in range(40, 50)]
    await store.aclose()


async def test_rows_written_across_a_restart_are_not_lost(own_redis_server: Any) -> None:
    store = _store(own_redis_server.url, timeout=0.3)
    store.append(_row(0))
    await store.flush()
    own_redis_server.stop()
    for i in range(1, 20):
        assert store.append(_row(i))  # queued while Redis is down
    await asyncio.sleep(0.3)
    own_redis_server.start()
    await asyncio.wait_for(store.flush(), 30)
    assert len(await store.rows()) == 20 and store.stats.dropped == 0
    await store.aclose()


async def test_drops_while_down_are_counted(own_redis_server: Any) -> None:
    store = _store(own_redis_server.url, timeout=0.2, max_queue=5, batch_size=2, close_timeout=0.2)
    own_redis_server.stop()
    accepted = sum(store.append(_row(i)) for i in range(40))
    assert accepted < 40 and store.stats.dropped == 40 - accepted
    await store.aclose()  # Redis still down: what was queued is dropped, and counted
    assert store.stats.dropped == 40
    assert not store.append(_row(99)) and store.stats.dropped == 41


async def test_policy_versions_and_lock(redis_url: str) -> None:
    store = _store(redis_url)
    assert await store.get_policy() is None and await store.policy_version() == 0
    assert await store.put_policy({"n": 1}) == 1
    assert await store.put_policy({"n": 2}) == 2
    rec = await store.get_policy()
    assert rec is not None and (rec.version, rec.doc) == (2, {"n": 2})
    async with store.lock("fit") as first:
        async with store.lock("fit") as second:
            assert first and not second
    async with store.lock("fit") as again:
        assert again
    await store.aclose()


PUBLISHER = r"""
import asyncio, sys
from cascadeflow_integrations.stores import RedisStore

async def main(url, n):
    store = RedisStore(url)
    print(await store.put_policy({"kind": "test", "n": n}))
    await store.aclose()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def _publish(url: str, n: int) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", PUBLISHER, url, str(n)], capture_output=True, text=True, env=env,
                         timeout=60, check=True)
    return int(out.stdout)


async def test_policy_published_by_another_process_is_picked_up(redis_url: str) -> None:
    store = _store(redis_url)
    seen: list[int] = []
    follower = PolicyFollower(store, refresh_s=0.01, on_update=lambda rec: seen.append(rec.doc["n"]))
    assert follower.latest() is None
    await asyncio.to_thread(_publish, redis_url, 1)
    for _ in range(500):
        await asyncio.sleep(0.01)
        rec = follower.latest()
        if rec is not None:
            break
    assert rec is not None and rec.doc == {"kind": "test", "n": 1}
    await asyncio.to_thread(_publish, redis_url, 2)
    rec = await follower.refresh()
    assert rec is not None and rec.version == 2 and seen == [1, 2]
    await follower.aclose()
    await store.aclose()


async def test_follower_keeps_the_policy_in_use_while_redis_is_down(own_redis_server: Any) -> None:
    store = _store(own_redis_server.url, timeout=0.2)
    await store.put_policy({"n": 1})
    follower = PolicyFollower(store)
    assert (await follower.refresh()).doc == {"n": 1}  # type: ignore[union-attr]
    own_redis_server.stop()
    rec = await follower.refresh()
    assert rec is not None and rec.doc == {"n": 1}
    await follower.aclose()
    await store.aclose()
