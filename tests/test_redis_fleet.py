"""A fleet on one Redis: the shared log is fitted by `cascadeflow-integrations fit redis://...` in another
process, the policy is published with a version, and a running agent picks it up without a restart."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cascadeflow_integrations import CascadeAgent
from cascadeflow_integrations.learning.fit import example_from_record
from cascadeflow_integrations.replay import ReplayServer
from cascadeflow_integrations.stores import DecisionRow, Label
from learning_fixtures import records
from replay_helpers import CHEAP, STRONG, collect, model, say

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[1]


def log_records(store: Any, n: int) -> None:
    """Log labelled requests as the agents of a fleet would (features, costs, a label per request)."""
    for i, rec in enumerate(records(n)):
        ex = example_from_record(rec)
        assert ex is not None and ex.feats is not None
        rid = f"req-{i}"
        store.append(DecisionRow(
            request_id=rid, ts=1_000_000 + i, answer_kind=ex.kind, strategy="cascade", features=ex.feats,
            decision={"accepted": True}, attempts=[{"model": CHEAP, "phase": "draft", "cost": ex.draft_cost}],
            baseline_cost=ex.strong_cost, total_cost=ex.draft_cost))
        store.add_label(Label(rid, ex.draft_quality, source="feedback", target="draft"))


def fit_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "cascadeflow_integrations.cli", "fit", *args], capture_output=True,
                          text=True, env=env, timeout=300, check=False)


async def test_fit_from_redis_publishes_and_a_running_agent_picks_it_up(redis_url: str) -> None:
    from cascadeflow_integrations.learning.policy import PolicyValidator
    from cascadeflow_integrations.stores import RedisStore

    server = ReplayServer().start()
    store = RedisStore(redis_url)
    try:
        agent = CascadeAgent([model(server, CHEAP), model(server, STRONG)], store=store)
        assert not isinstance(agent.validator, PolicyValidator)
        log_records(store, 240)
        await store.flush()

        out = await asyncio.to_thread(fit_cli, redis_url, "--target", "0.9")
        assert out.returncode == 0, out.stderr
        assert "published as version 1" in out.stdout and "curve of" in out.stdout

        assert agent._follower is not None
        agent._follower.refresh_s = 0.01  # the default checks every 5 s
        for _ in range(500):
            say(server, CHEAP, "Tom has 5 + 6 = 11 apples.\n#### 11")
            events = await collect(agent.stream_events("Tom has 5 apples and buys 6 more. How many now?"))
            decision = next((e.data for e in events if e.type.value == "draft_decision"), None)
            if isinstance(agent.validator, PolicyValidator):
                break
            await asyncio.sleep(0.01)
        assert isinstance(agent.validator, PolicyValidator) and agent._follower.version == 1
        say(server, CHEAP, "Tom has 5 + 6 = 11 apples.\n#### 11")
        say(server, STRONG, "11")
        events = await collect(agent.stream_events("Tom has 5 apples and buys 6 more. How many now?"))
        decision = next(e.data for e in events if e.type.value == "draft_decision")
        assert decision["reason"].startswith("policy ")

        # a second fit publishes version 2; the agent follows without a restart
        out = await asyncio.to_thread(fit_cli, redis_url, "--target", "0.95")
        assert out.returncode == 0 and "published as version 2" in out.stdout, out.stderr
        await agent._follower.refresh()
        assert agent._follower.version == 2 and agent.validator.policy.target_quality == 0.95  # type: ignore[attr-defined]
        await agent.aclose()
    finally:
        await store.aclose()
        server.stop()


async def test_fit_from_redis_refuses_while_another_process_fits(redis_url: str) -> None:
    from cascadeflow_integrations.stores import RedisStore

    store = RedisStore(redis_url)
    try:
        async with store.lock("fit") as mine:
            assert mine
            out = await asyncio.to_thread(fit_cli, redis_url)
        assert out.returncode == 2 and "another process is fitting" in out.stderr
        out = await asyncio.to_thread(fit_cli, redis_url)  # lock free, but the log is empty
        assert out.returncode == 2 and "more" in out.stderr
    finally:
        await store.aclose()


def test_fit_from_an_unreachable_redis_is_one_clear_line() -> None:
    from redis_helpers import free_port

    out = fit_cli(f"redis://127.0.0.1:{free_port()}/0")
    assert out.returncode == 2 and out.stderr.startswith("error: cannot reach redis://127.0.0.1:")


async def test_agents_in_two_processes_log_to_one_redis_stream(redis_url: str) -> None:
    """Each process's agent (store=RedisStore) appends its calls' rows to the same capped stream."""
    from cascadeflow_integrations.stores import RedisStore

    server = ReplayServer().start()
    store = RedisStore(redis_url)
    try:
        say(server, CHEAP, "Paris.")
        agent = CascadeAgent([model(server, CHEAP), model(server, STRONG)], store=store,
                             validator=lambda r, d: True)
        here = await agent.run("What is the capital of France?")
        await agent.aclose()  # drains the decision log into the store
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
        say(server, CHEAP, "Rome.")
        other = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", OTHER, redis_url, server.openai_url],
                                        capture_output=True, text=True, env=env, timeout=120, check=False)
        assert other.returncode == 0, other.stderr
        ids = {r.request_id for r in await store.rows()}
        assert {here.request_id, other.stdout.strip()} <= ids
    finally:
        await store.aclose()
        server.stop()


OTHER = r"""
import asyncio, sys
from cascadeflow_integrations import CascadeAgent, ModelConfig
from cascadeflow_integrations.stores import RedisStore

async def main(url, base):
    store = RedisStore(url)
    models = [ModelConfig(name=n, base_url=base, api_key="sk-test-not-a-real-key", max_retries=0, cost=0.001)
              for n in ("gpt-4o-mini", "gpt-4o")]
    agent = CascadeAgent(models, store=store, validator=lambda r, d: True)
    result = await agent.run("What is the capital of Italy?")
    await agent.aclose()
    await store.aclose()
    print(result.request_id)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""
