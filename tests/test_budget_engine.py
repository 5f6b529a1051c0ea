"""Budgets in the engine, against the loopback replay server through the real SDKs."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cascadeflow_integrations import CascadeAgent
from cascadeflow_integrations.budget import Budget, BudgetExceededError
from cascadeflow_integrations.messages import to_messages
from cascadeflow_integrations.replay import Reply, ReplayServer
from replay_helpers import CHEAP, STRONG, accept, collect, model, reject, say

ROOT = Path(__file__).resolve().parents[1]
Q = "What is 2+2?"
MAX = 50


@pytest.fixture
def server():
    s = ReplayServer().start()
    yield s
    s.stop()


def chain(server: ReplayServer) -> list[Any]:
    return [model(server, CHEAP, cost=1.0), model(server, STRONG, cost=10.0)]


def worst(models: list[Any]) -> float:
    return Budget(1).worst_case_usd(models, to_messages(Q, None), None, MAX)


async def test_cost_is_reserved_then_settled_at_the_real_cost(server: ReplayServer) -> None:
    models = chain(server)
    budget = Budget(10.0)
    agent = CascadeAgent(models, budget=budget, validator=accept)
    say(server, CHEAP, "4", usage=(20, 10))
    result = await agent.run(Q, max_tokens=MAX, budget_key="tenant-42")
    assert result.total_cost == pytest.approx(0.03)
    assert await budget.spent("tenant-42") == pytest.approx(result.total_cost)
    assert await budget.spent("other") == 0.0
    assert result.budget == {"key": "tenant-42", "limit_usd": 10.0, "spent_usd": 0.0, "reserved_usd": worst(models),
                             "window": None, "action": "none", "changed_decision": False}
    assert await budget.store.budget_usage("tenant-42") == (30_000_000, 0)  # nothing left reserved


async def test_refuse_raises_before_any_request(server: ReplayServer) -> None:
    models = chain(server)
    agent = CascadeAgent(models, budget=Budget(worst(models) / 2, on_exceed="refuse"))
    with pytest.raises(BudgetExceededError) as ei:
        await agent.run(Q, max_tokens=MAX, budget_key="t")
    assert ei.value.key == "t" and ei.value.spent_usd == 0.0 and "limit $" in str(ei.value)
    assert server.stats.requests == []
    events = await collect(agent.stream_events(Q, max_tokens=MAX, budget_key="t"))
    assert [e.type.value for e in events] == ["routing", "error"]
    assert events[0].data["budget"]["key"] == "t" and events[0].data["budget"]["action"] == "refused"
    assert isinstance(events[1].data["error"], BudgetExceededError)


async def test_drafts_only_makes_the_rejected_draft_final(server: ReplayServer) -> None:
    models = chain(server)
    budget = Budget(worst(models[:1]) * 1.01, on_exceed="drafts_only")  # the draft fits, an escalation not
    agent = CascadeAgent(models, budget=budget, validator=reject)
    say(server, CHEAP, "four", usage=(20, 10))
    events = await collect(agent.stream_events(Q, max_tokens=MAX, streaming_mode="buffered"))
    kinds = [e.type.value for e in events]
    assert "switch" not in kinds and kinds[-1] == "complete"
    assert events[0].data["budget"]["action"] == "drafts_only"
    decision = next(e for e in events if e.type.value == "draft_decision").data
    assert decision["accepted"] is True and decision["budget_override"] is True  # what the cascade did
    assert decision["validator_accepted"] is False and "reject" in decision["reason"]  # the validator's verdict stays
    result = events[-1].data["result"]
    assert result.content == "four" and result.model_used == CHEAP
    assert result.budget["action"] == "drafts_only" and result.budget["changed_decision"] is True
    assert [r["model"] for r in server.stats.requests] == [CHEAP]


async def test_drafts_only_refuses_when_even_the_draft_does_not_fit(server: ReplayServer) -> None:
    models = chain(server)
    agent = CascadeAgent(models, budget=Budget(worst(models[:1]) / 2))
    with pytest.raises(BudgetExceededError):
        await agent.run(Q, max_tokens=MAX)
    assert server.stats.requests == []


async def test_allow_runs_and_reports(server: ReplayServer) -> None:
    models = chain(server)
    budget = Budget(0.0, on_exceed="allow")
    agent = CascadeAgent(models, budget=budget, validator=reject)
    say(server, CHEAP, "four")
    say(server, STRONG, "4")
    result = await agent.run(Q, max_tokens=MAX)
    assert result.content == "4" and result.budget["action"] == "allowed_over_limit"
    assert await budget.spent() == pytest.approx(result.total_cost) and result.total_cost > 0


async def test_allow_warns_once_per_key_and_window_with_the_real_figures(server: ReplayServer,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    models = chain(server)
    per_call = worst(models)
    budget = Budget(per_call * 1.5, on_exceed="allow", window="day")
    agent = CascadeAgent(models, budget=budget, validator=accept)
    server.add(CHEAP, Reply(events=_stream(CHEAP), delay=0.002), repeat=True)
    first = await agent.run(Q, max_tokens=MAX, budget_key="t-1")  # within the limit: no warning
    caplog.set_level(logging.INFO, logger="cascadeflow_integrations")
    caplog.clear()
    results = await asyncio.gather(*(agent.run(Q, max_tokens=MAX, budget_key="t-1") for _ in range(60)))
    assert all(r.content for r in results)
    allowed = [r for r in results if r.budget["action"] == "allowed_over_limit"]
    assert len(allowed) >= 50  # most of the burst went over the limit
    over = [r for r in caplog.records if "over its limit" in r.getMessage()]
    assert len(over) == 1, [r.getMessage() for r in over]
    msg = over[0].getMessage()
    assert over[0].levelno == logging.WARNING and "'t-1'" in msg and "window 20" in msg
    # the real figures: the settled spend of the first call, this call's worst case and the limit
    assert f"${first.total_cost:.6f} spent" in msg and first.total_cost > 0
    assert f"up to ${per_call:.6f} for this call" in msg and f"limit ${budget.limit_usd:.6f}" in msg
    # another key (its own bucket) gets its own line, once
    caplog.clear()
    for _ in range(2):
        burst = await asyncio.gather(*(agent.run(Q, max_tokens=MAX, budget_key="t-2") for _ in range(10)))
        assert any(r.budget["action"] == "allowed_over_limit" for r in burst)
    over = [r.getMessage() for r in caplog.records if "over its limit" in r.getMessage()]
    assert len(over) == 1 and "'t-2'" in over[0], over
    assert await budget.spent("t-1") == pytest.approx(first.total_cost + sum(r.total_cost for r in results))


async def test_budget_key_from_metadata_field_and_per_call_budget(server: ReplayServer) -> None:
    models = chain(server)
    agent = CascadeAgent(models, budget=Budget(10.0, per="tenant"), validator=accept)
    with pytest.raises(ValueError, match="metadata field 'tenant'"):
        agent.stream_events(Q, budget_key={"user": "ann"})
    say(server, CHEAP, "4")
    result = await agent.run(Q, max_tokens=MAX, budget_key={"tenant": "t-7"})
    assert result.budget["key"] == "t-7"
    own = Budget(0.0, on_exceed="refuse")
    with pytest.raises(BudgetExceededError):
        await agent.run(Q, max_tokens=MAX, budget=own)
    with pytest.raises(ValueError, match="no budget is set"):
        CascadeAgent(models).stream_events(Q, budget_key="t")


async def test_gather_never_overshoots(server: ReplayServer) -> None:
    models = chain(server)
    per_call = worst(models)
    budget = Budget(per_call * 5.5, on_exceed="refuse")
    agent = CascadeAgent(models, budget=budget, validator=accept)
    server.add(CHEAP, Reply(events=_stream(CHEAP), delay=0.002), repeat=True)
    outcomes = await asyncio.gather(*(agent.run(Q, max_tokens=MAX) for _ in range(40)), return_exceptions=True)
    done = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, BudgetExceededError)]
    assert len(done) + len(refused) == 40 and refused  # no other error
    spent = await budget.spent()
    assert spent == pytest.approx(sum(r.total_cost for r in done)) and spent <= budget.limit_usd
    assert await budget.store.budget_usage("default") == (round(spent * 1e9), 0)


def _stream(name: str) -> list[str]:
    from cascadeflow_integrations.replay.wire import openai_stream, words

    return openai_stream(name, words("The answer is 4."), usage=(20, 10))


# ---- on Redis -----------------------------------------------------------------------------------

WORKER = r"""
import asyncio, json, sys
from cascadeflow_integrations import CascadeAgent, ModelConfig
from cascadeflow_integrations.budget import Budget, BudgetExceededError
from cascadeflow_integrations.stores import RedisStore

async def main(redis_url, base_url, limit, n):
    store = RedisStore(redis_url)
    models = [ModelConfig(name=m, provider="openai", base_url=base_url, api_key="sk-test-not-a-real-key",
                          max_retries=0, cost=c) for m, c in (("gpt-4o-mini", 1.0), ("gpt-4o", 10.0))]
    agent = CascadeAgent(models, budget=Budget(limit, on_exceed="refuse"), store=store, validator=lambda r, d: True)
    costs, refused = [], 0
    async def one():
        nonlocal refused
        try:
            costs.append((await agent.run("What is 2+2?", max_tokens=50, budget_key="fleet")).total_cost)
        except BudgetExceededError:
            refused += 1
    await asyncio.gather(*(one() for _ in range(n)))
    await agent.aclose()
    await store.aclose()
    print(json.dumps({"costs": costs, "refused": refused}))

asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])))
"""


@pytest.mark.redis
async def test_processes_share_a_budget_on_redis_without_overshoot(server: ReplayServer, redis_url: str) -> None:
    from cascadeflow_integrations.stores import RedisStore

    models = chain(server)
    limit = worst(models) * 8.5
    server.add(CHEAP, Reply(events=_stream(CHEAP), delay=0.002), repeat=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run_workers() -> list[dict[str, Any]]:
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, redis_url, server.openai_url, str(limit), "12"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                 for _ in range(3)]
        outs = [p.communicate(timeout=180) for p in procs]
        assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
        return [json.loads(o[0]) for o in outs]

    results = await asyncio.to_thread(run_workers)
    costs = [c for r in results for c in r["costs"]]
    assert len(costs) + sum(r["refused"] for r in results) == 36 and costs
    store = RedisStore(redis_url)
    try:
        budget = Budget(limit, store=store)
        spent = await budget.spent("fleet")
        assert spent == pytest.approx(sum(costs)) and spent <= limit  # no overshoot, nothing lost
        assert (await store.budget_usage("fleet"))[1] == 0
    finally:
        await store.aclose()


@pytest.mark.redis
async def test_redis_outage_and_restart_mid_run(server: ReplayServer, own_redis_server: Any) -> None:
    from cascadeflow_integrations.stores import RedisStore

    store = RedisStore(own_redis_server.url, timeout=0.3)
    budget = Budget(10.0, timeout=0.5)
    agent = CascadeAgent(chain(server), budget=budget, store=store, validator=accept)
    for _ in range(4):
        say(server, CHEAP, "4", usage=(20, 10))
    first = await agent.run(Q, max_tokens=MAX)
    assert first.budget["action"] == "none"
    own_redis_server.restart()
    second = await agent.run(Q, max_tokens=MAX)  # the client reconnects after the restart
    assert second.budget["action"] == "none"
    own_redis_server.stop()
    third = await agent.run(Q, max_tokens=MAX)  # fails open: answered, reported
    assert third.content == "4" and third.budget["action"] == "store_unavailable"
    own_redis_server.start()
    fourth = await agent.run(Q, max_tokens=MAX)
    assert fourth.budget["action"] == "none"
    # settled spend survived the restart, and the outage's settlement was sent once Redis was back
    assert await budget.spent() == pytest.approx(4 * 0.03)
    await store.aclose()
    await agent.aclose()


# ---- adapters ----------------------------------------------------------------------------------


async def test_langchain_budget_from_kwargs_and_config_metadata(server: ReplayServer) -> None:
    from cascadeflow_integrations.langchain import ChatCascade

    models = chain(server)
    budget = Budget(10.0, per="tenant")
    llm = ChatCascade(models=models, budget=budget, validator=accept)
    server.add(CHEAP, Reply(events=_stream(CHEAP)), repeat=True)
    msg = await llm.ainvoke(Q, config={"metadata": {"tenant": "t-1"}})
    assert msg.response_metadata["cascade"]["budget"]["key"] == "t-1"
    msg = llm.invoke(Q, budget_key="t-2")  # sync path, call kwarg
    assert msg.response_metadata["cascade"]["budget"]["key"] == "t-2"
    chunks = [c async for c in llm.astream(Q, config={"metadata": {"tenant": "t-1"}})]
    assert chunks[-1].response_metadata["cascade"]["budget"]["key"] == "t-1"
    assert await budget.spent("t-1") == pytest.approx(2 * 0.03) and await budget.spent("t-2") == pytest.approx(0.03)
    # drafts_only: the rejected draft is what LangChain consumers receive (streamed and not)
    capped = ChatCascade(models=models, budget=Budget(worst(models[:1]) * 3, on_exceed="drafts_only"),
                         validator=reject, max_tokens=MAX)
    msg = await capped.ainvoke(Q)  # the replies above repeat: the draft says "The answer is 4."
    assert msg.content == "The answer is 4." and msg.response_metadata["cascade"]["budget"]["action"] == "drafts_only"
    assert "".join([str(c.content) async for c in capped.astream(Q)]) == "The answer is 4."
    refusing = ChatCascade(models=models, budget=Budget(0.0, on_exceed="refuse"))
    with pytest.raises(BudgetExceededError):
        await refusing.ainvoke(Q)
    with pytest.raises(BudgetExceededError):
        refusing.invoke(Q)
    await llm.aclose()


async def test_llama_index_budget_from_call_kwargs(server: ReplayServer) -> None:
    from llama_index.core.llms import ChatMessage

    from cascadeflow_integrations.llama_index import CascadeLLM

    budget = Budget(10.0)
    llm = CascadeLLM(models=chain(server), budget=budget, validator=accept)
    server.add(CHEAP, Reply(events=_stream(CHEAP)), repeat=True)
    response = await llm.achat([ChatMessage(role="user", content=Q)], budget_key="t-9")
    assert response.raw["cascade"]["budget"]["key"] == "t-9"
    assert llm.complete(Q, budget_key="t-9").raw["cascade"]["budget"]["key"] == "t-9"
    assert await budget.spent("t-9") == pytest.approx(2 * 0.03)
    capped = CascadeLLM(models=chain(server), budget=Budget(worst(chain(server)[:1]) * 3), validator=reject,
                        max_tokens=MAX)
    assert (await capped.achat([ChatMessage(role="user", content=Q)])).message.content == "The answer is 4."
    refusing = CascadeLLM(models=chain(server), budget=Budget(0.0, on_exceed="refuse"))
    with pytest.raises(BudgetExceededError):
        await refusing.achat([ChatMessage(role="user", content=Q)])
