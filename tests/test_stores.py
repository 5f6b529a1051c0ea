"""Decision-log stores on a real SQLite file: rows, labels, drops under a full queue, retention,
several writer processes, policy versions; the in-memory store behind the same interface."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import time
from pathlib import Path

import pytest

from cascadeflow_integrations.stores import (
    DecisionRow,
    DecisionStore,
    Label,
    MemoryStore,
    SQLiteStore,
    open_store,
    prompt_fingerprint,
)


def _row(i: int, ts: float | None = None) -> DecisionRow:
    return DecisionRow(
        request_id=f"r{i}",
        ts=time.time() if ts is None else ts,
        prompt_hash=prompt_fingerprint(f"q{i}"),
        complexity="simple",
        answer_kind="number",
        attempts=[{"model": "small", "input_tokens": 10, "output_tokens": 5, "cost": 0.001}],
        checks=[{"name": "completeness", "passed": True, "score": 1.0}],
        decision={"accepted": i % 2 == 0, "score": 0.9, "threshold": 0.8},
        features={"len_words": 3.0},
        total_cost=0.001,
    )


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> DecisionStore:
    return SQLiteStore(tmp_path / "log.db") if request.param == "sqlite" else MemoryStore()


async def test_rows_and_labels_round_trip(store: DecisionStore) -> None:
    t0 = time.time() - 100
    for i in range(5):
        assert store.append(_row(i, ts=t0 + i))
    assert store.add_label(Label("r1", 0.0, source="escalation"))
    assert store.add_label(Label("r2", 1.0, source="feedback", target="final", detail="thumbs up"))
    rows = await store.rows(since=0)
    assert [r.request_id for r in rows] == ["r0", "r1", "r2", "r3", "r4"]
    assert rows[1].decision == {"accepted": False, "score": 0.9, "threshold": 0.8}
    assert rows[1].attempts[0]["model"] == "small" and rows[1].features == {"len_words": 3.0}
    assert [r.request_id for r in await store.rows(since=0, limit=2)] == ["r3", "r4"]
    assert [r.request_id for r in await store.rows(since=t0 + 3)] == ["r3", "r4"]
    labels = await store.labels()
    assert [(lb.request_id, lb.score, lb.source, lb.target) for lb in labels] == [
        ("r1", 0.0, "escalation", "draft"),
        ("r2", 1.0, "feedback", "final"),
    ]
    r3 = await store.row("r3")
    assert r3 is not None and r3.request_id == "r3"
    assert await store.row("nope") is None
    await store.aclose()


async def test_policy_versions_increase(store: DecisionStore) -> None:
    assert await store.get_policy() is None
    v1 = await store.put_policy({"kind": "p", "n": 1})
    v2 = await store.put_policy({"kind": "p", "n": 2})
    assert v2 > v1
    rec = await store.get_policy()
    assert rec is not None and rec.version == v2 and rec.doc == {"kind": "p", "n": 2}
    await store.aclose()


async def test_retention_by_row_count(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "log.db", max_rows=3, max_age_s=None)
    for i in range(6):
        store.append(_row(i, ts=1000.0 + i))
    store.add_label(Label("r0", 1.0, source="feedback", ts=1.0))  # old, and its row will go
    store.add_label(Label("r5", 1.0, source="feedback"))
    assert await store.prune() == 3
    assert [r.request_id for r in await store.rows()] == ["r3", "r4", "r5"]
    assert [lb.request_id for lb in await store.labels()] == ["r5"]
    await store.aclose()


async def test_retention_by_age(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "log.db", max_age_s=3600, max_rows=None)
    now = time.time()
    store.append(_row(0, ts=now - 7200))
    store.append(_row(1, ts=now - 10))
    store.add_label(Label("r0", 0.5, source="feedback", ts=now - 7200))
    assert await store.prune() == 1
    assert [r.request_id for r in await store.rows()] == ["r1"]
    assert await store.labels() == []
    await store.aclose()


async def test_memory_store_retention() -> None:
    store = MemoryStore(max_rows=2)
    for i in range(4):
        store.append(_row(i, ts=1000.0 + i))
    assert [r.request_id for r in await store.rows()] == ["r2", "r3"]
    aged = MemoryStore(max_age_s=60)
    aged.append(_row(0, ts=time.time() - 120))
    aged.append(_row(1))
    assert await aged.prune() == 1
    assert [r.request_id for r in await aged.rows()] == ["r1"]


async def test_full_queue_drops_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    store = SQLiteStore(path, max_queue=5, batch_size=1)
    # Another connection holds the write lock, so the writer thread blocks on its first row and
    # the queue fills: further appends must return at once and count as dropped.
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    results = [store.append(_row(i)) for i in range(50)]
    dropped = results.count(False)
    assert dropped >= 50 - 5 - 1  # the queue holds 5, the writer holds at most 1 more
    assert store.stats.dropped == dropped
    blocker.execute("ROLLBACK")
    blocker.close()
    rows = await store.rows()
    assert len(rows) == 50 - dropped
    assert store.stats.written == 50 - dropped
    await store.aclose()


async def test_append_after_close_is_dropped(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "log.db")
    store.append(_row(0))
    await store.aclose()
    assert store.append(_row(1)) is False
    assert store.stats.dropped == 1
    reopened = SQLiteStore(tmp_path / "log.db")
    assert [r.request_id for r in await reopened.rows()] == ["r0"]  # aclose drained the queue
    await reopened.aclose()


def _writer_process(path: str, worker: int, n: int) -> None:
    store = SQLiteStore(path, batch_size=7)
    for i in range(n):
        store.append(DecisionRow(request_id=f"w{worker}-{i}", complexity="simple"))
        if i % 10 == 0:
            store.add_label(Label(f"w{worker}-{i}", 1.0, source="feedback"))
    store.close()


def test_concurrent_writer_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    SQLiteStore(path).close()  # create the file first, as the agent would
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer_process, args=(path, w, 200)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 800
    assert conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 4 * 20
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


async def test_concurrent_threads_and_tasks(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "log.db")

    async def task(k: int) -> None:
        for i in range(50):
            store.append(_row(k * 1000 + i))
            await asyncio.sleep(0)

    def thread() -> None:
        for i in range(50):
            store.append(_row(9000 + i))

    await asyncio.gather(*(task(k) for k in range(4)), asyncio.to_thread(thread))
    assert len(await store.rows()) == 250
    await store.aclose()


async def test_unreadable_rows_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    store = SQLiteStore(path)
    store.append(_row(1))
    await store.flush()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO decisions VALUES ('bad', 1.0, 'not json')")
    conn.execute("INSERT INTO decisions VALUES ('bad2', 2.0, '[1, 2]')")
    conn.commit()
    conn.close()
    assert [r.request_id for r in await store.rows()] == ["r1"]
    await store.aclose()


def test_bad_arguments_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_rows"):
        SQLiteStore(tmp_path / "a.db", max_rows=0)
    with pytest.raises(ValueError, match="max_age_s"):
        MemoryStore(max_age_s=-1)
    with pytest.raises(ValueError, match="max_queue"):
        SQLiteStore(tmp_path / "a.db", max_queue=0)
    with pytest.raises(ValueError, match="cannot be opened as SQLite"):
        SQLiteStore(tmp_path / "no-such-dir" / "x.db")
    with pytest.raises(ValueError, match="decision_log"):
        open_store(42)
    with pytest.raises(ValueError, match="score"):
        Label("r", 1.5)
    with pytest.raises(ValueError, match="source"):
        Label("r", 1.0, source="guess")
    assert isinstance(open_store(":memory:"), MemoryStore)
    s = open_store(tmp_path / "b.db")
    assert isinstance(s, SQLiteStore) and open_store(s) is s


def test_fingerprint_is_stable_and_not_the_text() -> None:
    a = prompt_fingerprint("What is 17 * 23?")
    assert a == prompt_fingerprint("What is 17 * 23?") and a != prompt_fingerprint("What is 17 * 24?")
    assert "17" not in a and len(a) == 24
