"""Cost as the provider bills it: cache reads, cache writes and reasoning tokens, over the loopback replay
server through the real SDKs (streamed and not), in budgets, the decision log and cache-aware routing."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from replay_helpers import accept, collect, reject

from cascadeflow_integrations import CacheControl, CascadeAgent, Member, ModelConfig
from cascadeflow_integrations.budget import Budget, BudgetExceededError
from cascadeflow_integrations.cache_cost import (
    CacheAwareRouting,
    CacheShareTracker,
    ModelCost,
    call_cost,
    compare,
    prefer_direct,
    prefix_fingerprint,
)
from cascadeflow_integrations.learning.log import build_row
from cascadeflow_integrations.members import SDKMember
from cascadeflow_integrations.messages import to_messages
from cascadeflow_integrations.prices import PRICE_TABLE, Price
from cascadeflow_integrations.replay import Reply
from cascadeflow_integrations.replay.cache import PromptCache
from cascadeflow_integrations.replay.wire import (
    anthropic_body,
    anthropic_stream,
    groq_stream,
    openai_body,
    openai_stream,
    words,
)
from cascadeflow_integrations.types import ChatRequest, Message, Usage

KEY = "sk-test-not-a-real-key"
MINI, GPT4O = "gpt-4o-mini", "gpt-4o"
HAIKU, SONNET = "claude-haiku-4-5", "claude-sonnet-4-5"
GROQ = "llama-3.3-70b-versatile"
SYSTEM = "You are a support agent for Acme. " + "Policy text. " * 2600  # ~8,000 tokens (characters / 4)


def cfg(server: Any, name: str, provider: str = "openai", **kw: Any) -> ModelConfig:
    url = server.openai_url if provider == "openai" else server.url
    return ModelConfig(name=name, provider=provider, base_url=url, api_key=KEY, max_retries=0, **kw)


def usd(price: Price, fresh: int = 0, read: int = 0, write: int = 0, out: int = 0) -> float:
    """The bill, computed here independently of Price.cost."""
    return (fresh * price.input + read * price.cached_input + write * price.cache_write + out * price.output) / 1000


# ---- prices ---------------------------------------------------------------------------------------


def test_table_carries_cache_prices_of_listed_models() -> None:
    for name, p in PRICE_TABLE.items():
        assert p.cached_input is not None and p.cache_write is not None, name
        assert p.cached_input <= p.input and p.as_of
    assert PRICE_TABLE[SONNET].cached_input == pytest.approx(0.0003)  # 0.1x input
    assert PRICE_TABLE[SONNET].cache_write == pytest.approx(0.00375)  # 1.25x input (5-minute cache)
    assert PRICE_TABLE[GPT4O].cached_input == pytest.approx(0.00125) and PRICE_TABLE[GPT4O].cache_write == \
        PRICE_TABLE[GPT4O].input  # OpenAI bills writes as input


def test_model_config_and_member_take_cache_prices() -> None:
    c = ModelConfig(name="x", input_cost=1.0, output_cost=2.0, cached_input_cost=0.1, cache_write_cost=1.25)
    assert c.price == Price(1.0, 2.0, 0.1, 1.25)
    assert Member(ModelConfig(name="x"), input_cost=1.0, output_cost=2.0, cached_input_cost=0.5).price == \
        Price(1.0, 2.0, 0.5, None)
    with pytest.raises(ValueError, match="cached_input_cost"):
        ModelConfig(name="x", cached_input_cost=-1)
    with pytest.raises(ValueError, match="need input_cost"):
        Member(ModelConfig(name="x"), cached_input_cost=0.1)
    # an hour-long Anthropic cache writes at 2x input
    hour = ModelConfig(name=SONNET, provider="anthropic", cache_control={"ttl": "1h"})
    assert hour.price is not None and hour.price.cache_write == pytest.approx(2 * PRICE_TABLE[SONNET].input)


def test_cache_tokens_without_a_cache_price_bill_at_the_input_price_and_say_so() -> None:
    p = Price(1.0, 2.0)
    u = Usage(1000, 10, 800, 100)
    assert p.cost(u) == pytest.approx((1000 * 1.0 + 10 * 2.0) / 1000) and p.estimated(u)
    assert not p.estimated(Usage(1000, 10)) and not Price(1.0, 2.0, 0.1, 1.25).estimated(u)
    assert Price(1.0, 2.0, 0.1, 1.25).cost(u) == pytest.approx((100 * 1.0 + 800 * 0.1 + 100 * 1.25 + 20) / 1000)


# ---- usage as billed, per provider, streamed and not ------------------------------------------------


@pytest.mark.parametrize("streamed", [True, False])
async def test_openai_cached_tokens_are_part_of_prompt_tokens_and_reasoning_of_output(
        module_replay_server: Any, streamed: bool) -> None:
    server = module_replay_server
    kw = {"usage": (2000, 300), "cached": 1536, "reasoning": 200}
    if streamed:
        server.add(MINI, Reply(events=openai_stream(MINI, words("Hello there."), **kw)))
    else:
        server.add(MINI, Reply(body=openai_body(MINI, "Hello there.", **kw)))
    member = SDKMember(cfg(server, MINI))
    request = ChatRequest([Message("user", "Hi")])
    if streamed:
        agent = CascadeAgent([member])
        result = await agent.run("Hi")
        u, cost, estimated = result.usage, result.total_cost, result.cost_estimated
    else:
        u = (await member.complete(request)).usage
        cost, estimated = member.price(u), member.cost_is_estimate(u)
    assert (u.input_tokens, u.cached_tokens, u.cache_write_tokens, u.output_tokens, u.reasoning_tokens) == \
        (2000, 1536, 0, 300, 200)
    assert cost == pytest.approx(usd(PRICE_TABLE[MINI], fresh=464, read=1536, out=300)) and not estimated
    await member.aclose()


async def test_groq_cached_tokens_in_x_groq_usage(module_replay_server: Any) -> None:
    server = module_replay_server
    server.add(GROQ, Reply(events=groq_stream(GROQ, words("Sure."), usage=(3000, 20), cached=2048)))
    agent = CascadeAgent([cfg(server, GROQ, "groq")])
    result = await agent.run("Hi")
    assert (result.usage.input_tokens, result.usage.cached_tokens) == (3000, 2048)
    # no caching discount is listed for this model: every prompt token at the input price, and that is exact
    assert result.total_cost == pytest.approx(usd(PRICE_TABLE[GROQ], fresh=3000, out=20)) and not result.cost_estimated


@pytest.mark.parametrize("streamed", [True, False])
async def test_anthropic_input_tokens_exclude_cache_reads_and_writes(module_replay_server: Any, streamed: bool) -> None:
    server = module_replay_server
    kw = {"usage": (50, 20), "cache_read": 6000, "cache_write": 2000}
    if streamed:
        server.add(SONNET, Reply(events=anthropic_stream(SONNET, words("Done."), **kw)))
    else:
        server.add(SONNET, Reply(body=anthropic_body(SONNET, "Done.", **kw)))
    member = SDKMember(cfg(server, SONNET, "anthropic"))
    if streamed:
        result = await CascadeAgent([member]).run("Hi")
        u, cost = result.usage, result.total_cost
    else:
        u = (await member.complete(ChatRequest([Message("user", "Hi")]))).usage
        cost = member.price(u)
    assert (u.input_tokens, u.cached_tokens, u.cache_write_tokens, u.output_tokens) == (8050, 6000, 2000, 20)
    assert cost == pytest.approx(usd(PRICE_TABLE[SONNET], fresh=50, read=6000, write=2000, out=20))
    await member.aclose()


async def test_unknown_cache_price_marks_the_result_once(module_replay_server: Any,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    server = module_replay_server
    for _ in range(2):
        server.add("my-model", Reply(events=openai_stream("my-model", words("Yes."), usage=(1000, 10), cached=768)))
    agent = CascadeAgent([cfg(server, "my-model", input_cost=0.01, output_cost=0.02)])
    with caplog.at_level(logging.WARNING, logger="cascadeflow_integrations"):
        r1 = await agent.run("Hi")
        r2 = await agent.run("Hi")
    for r in (r1, r2):
        assert r.cost_estimated and r.attempts[0].cost_estimated and r.to_dict()["cost_estimated"]
        assert r.total_cost == pytest.approx((1000 * 0.01 + 10 * 0.02) / 1000)  # upper bound, not a discount
    assert sum("no cached-input" in rec.getMessage() for rec in caplog.records) == 1
    server.add("my-model", Reply(events=openai_stream("my-model", words("Yes."), usage=(1000, 10), cached=768)))
    priced = CascadeAgent([cfg(server, "my-model", input_cost=0.01, output_cost=0.02, cached_input_cost=0.001)])
    r3 = await priced.run("Hi")
    assert not r3.cost_estimated and r3.total_cost == pytest.approx((232 * 0.01 + 768 * 0.001 + 10 * 0.02) / 1000)


# ---- Anthropic cache control --------------------------------------------------------------------


TOOLS = [{"name": "lookup", "description": "Look up an order.",
          "parameters": {"type": "object", "properties": {"id": {"type": "string"}}}},
         {"name": "refund", "description": "Refund an order.",
          "parameters": {"type": "object", "properties": {"id": {"type": "string"}}}}]


async def test_cache_control_marks_tools_system_and_last_messages(module_replay_server: Any) -> None:
    server = module_replay_server
    server.add(SONNET, Reply(events=anthropic_stream(SONNET, words("Ok."))))
    parts = [{"type": "text", "text": "and my order is 42"}]
    history = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"},
               {"role": "assistant", "content": "Hi!"}, {"role": "user", "content": parts}]
    agent = CascadeAgent([cfg(server, SONNET, "anthropic", cache_control=CacheControl(last_messages=2))])
    await agent.run(history, tools=TOOLS)
    body = server.stats.requests[-1]
    assert body["system"] == [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    assert "cache_control" not in body["tools"][0] and body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    marked = ["cache_control" in m["content"][-1] for m in body["messages"]]
    assert marked == [False, True, True]
    assert parts == [{"type": "text", "text": "and my order is 42"}]  # the caller's blocks are not changed


def test_cache_control_is_validated() -> None:
    with pytest.raises(ValueError, match="caches prompt prefixes by itself"):
        ModelConfig(name=GPT4O, cache_control=True)
    with pytest.raises(ValueError, match="Anthropic allows 4"):
        ModelConfig(name=SONNET, provider="anthropic", cache_control={"last_messages": 3})
    assert ModelConfig(name=SONNET, provider="anthropic", cache_control=True).cache_control == CacheControl()


async def test_strong_cache_is_warm_for_the_next_request_of_a_conversation(module_replay_server: Any) -> None:
    server = module_replay_server
    cache = PromptCache("anthropic")
    server.respond(SONNET, cache.responder(lambda body: ("Noted.", 5)))
    agent = CascadeAgent([cfg(server, SONNET, "anthropic", cache_control=True)])
    turn1 = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Where is my order?"}]
    r1 = await agent.run(turn1)
    turn2 = turn1 + [{"role": "assistant", "content": r1.content}, {"role": "user", "content": "And the refund?"}]
    r2 = await agent.run(turn2)
    assert r1.usage.cached_tokens == 0 and r1.usage.cache_write_tokens > 7000  # the first call writes the cache
    assert r2.usage.cached_tokens >= r1.usage.cache_write_tokens  # the second reads it
    p = PRICE_TABLE[SONNET]
    u = r2.usage
    assert r2.total_cost == pytest.approx(usd(p, fresh=u.input_tokens - u.cached_tokens - u.cache_write_tokens,
                                              read=u.cached_tokens, write=u.cache_write_tokens, out=u.output_tokens))
    assert r2.total_cost < r1.total_cost / 3


# ---- LangChain members --------------------------------------------------------------------------


async def test_langchain_members_report_cache_and_reasoning_tokens(module_replay_server: Any) -> None:
    from langchain_anthropic import ChatAnthropic
    from langchain_openai import ChatOpenAI

    from cascadeflow_integrations.langchain import ChatCascade

    server = module_replay_server
    server.add(MINI, Reply(events=openai_stream(MINI, words("Unsure."), usage=(5000, 40), cached=4096, reasoning=16)))
    server.add(HAIKU, Reply(events=anthropic_stream(HAIKU, words("Sure."), usage=(30, 8), cache_read=3000,
                                                    cache_write=1000)))
    llm = ChatCascade(models=[ChatOpenAI(model=MINI, base_url=server.openai_url, api_key=KEY, max_retries=0),
                              ChatAnthropic(model=HAIKU, base_url=server.url, api_key=KEY, max_retries=0)],
                      validator=reject)
    msg = await llm.ainvoke("Q?")
    models = msg.response_metadata["cascade"]["models"]
    mini, haiku = models[MINI], models[HAIKU]
    assert (mini["usage"]["input_tokens"], mini["usage"]["cached_tokens"], mini["usage"]["reasoning_tokens"]) == \
        (5000, 4096, 16)
    assert mini["cost"] == pytest.approx(usd(PRICE_TABLE[MINI], fresh=904, read=4096, out=40))
    assert (haiku["usage"]["input_tokens"], haiku["usage"]["cached_tokens"], haiku["usage"]["cache_write_tokens"]) \
        == (4030, 3000, 1000)
    assert haiku["cost"] == pytest.approx(usd(PRICE_TABLE[HAIKU], fresh=30, read=3000, write=1000, out=8))


# ---- budgets ------------------------------------------------------------------------------------


def test_worst_case_counts_cache_writes() -> None:
    msgs = to_messages("x" * 1000, None)
    write_priced = ModelConfig(name=SONNET, provider="anthropic")
    input_only = ModelConfig(name="x", provider="anthropic", input_cost=write_priced.price.input,  # type: ignore[union-attr]
                             output_cost=write_priced.price.output)  # type: ignore[union-attr]
    b = Budget(1.0)
    # 1,000 bytes + 8 per message, every one priced as a cache write (1.25x input)
    assert b.worst_case_usd([write_priced], msgs, None, 10) == pytest.approx(
        (1008 * PRICE_TABLE[SONNET].cache_write + 10 * PRICE_TABLE[SONNET].output) / 1000)
    assert b.worst_case_usd([write_priced], msgs, None, 10) > b.worst_case_usd([input_only], msgs, None, 10)


async def test_budget_settles_the_billed_cost_with_cache_writes(module_replay_server: Any) -> None:
    server = module_replay_server
    cache = PromptCache("anthropic")
    server.respond(SONNET, cache.responder(lambda body: ("Noted.", 5)))
    budget = Budget(1.0)
    agent = CascadeAgent([cfg(server, SONNET, "anthropic", cache_control=True)], budget=budget)
    conv = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Where is my order?"}]
    r1 = await agent.run(conv, budget_key="t")
    r2 = await agent.run(conv, budget_key="t")
    assert r1.usage.cache_write_tokens > 0 and r2.usage.cached_tokens > 0
    assert await budget.spent("t") == pytest.approx(r1.total_cost + r2.total_cost)  # type: ignore[operator]
    # the reservation covered the dearest case: every prompt token written to the cache
    assert r1.budget["reserved_usd"] >= r1.total_cost  # type: ignore[index]


async def test_unpriced_member_in_a_budgeted_chain_is_refused_at_construction(module_replay_server: Any) -> None:
    server = module_replay_server
    models = [cfg(server, MINI), cfg(server, "my-finetune")]
    with pytest.raises(ValueError, match=r"'my-finetune'.*no price.*input_cost=.*unpriced_cost="):
        CascadeAgent(models, budget=Budget(1.0, on_exceed="refuse"))
    agent = CascadeAgent(models)
    with pytest.raises(ValueError, match="unpriced_cost="):  # a per-call budget too, before any request
        await agent.run("Q?", budget=Budget(1.0))
    assert server.stats.requests == []


async def test_unpriced_cost_makes_the_budget_bind(module_replay_server: Any) -> None:
    server = module_replay_server
    models = [cfg(server, MINI), cfg(server, "my-finetune")]
    budget = Budget(0.02, on_exceed="refuse", unpriced_cost=0.1)  # $0.10 per 1K tokens for unpriced members
    agent = CascadeAgent(models, budget=budget, validator=reject)
    done = 0
    with pytest.raises(BudgetExceededError):
        for _ in range(20):
            server.add(MINI, Reply(events=openai_stream(MINI, words("Hmm."), usage=(20, 5))))
            server.add("my-finetune", Reply(events=openai_stream("my-finetune", words("42."), usage=(20, 30))))
            await agent.run("Q?", max_tokens=40)
            done += 1
    assert 0 < done < 20
    per_call = usd(PRICE_TABLE[MINI], fresh=20, out=5) + 50 * 0.1 / 1000
    assert await budget.spent() == pytest.approx(done * per_call)
    server.reset()


# ---- decision log ---------------------------------------------------------------------------------


async def test_decision_rows_carry_cache_tokens_and_none_for_unknown_cost(module_replay_server: Any) -> None:
    server = module_replay_server
    server.add(MINI, Reply(events=openai_stream(MINI, words("Unsure."), usage=(3000, 40), cached=2048, reasoning=8)))
    server.add("my-finetune", Reply(events=openai_stream("my-finetune", words("42."), usage=(3000, 9))))
    agent = CascadeAgent([cfg(server, MINI), cfg(server, "my-finetune")], validator=reject)
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q?"}]
    result = await agent.run(msgs)
    row, _ = build_row(result, to_messages(msgs, None), None, False, time.time())
    assert row.attempts[0]["cached_tokens"] == 2048 and row.attempts[0]["reasoning_tokens"] == 8
    assert row.attempts[0]["cache_write_tokens"] == 0 and row.attempts[1]["cost"] is None
    assert result.total_cost is None and row.total_cost is None  # never logged as $0
    assert row.prefix_hash == prefix_fingerprint(to_messages(msgs, None))


# ---- cost_saved against the strong model's own cache ----------------------------------------------


async def test_cost_saved_prices_the_strong_model_with_its_own_cache(module_replay_server: Any) -> None:
    server = module_replay_server
    server.add(MINI, Reply(events=openai_stream(MINI, words("Fine."), usage=(9000, 30), cached=8960)))
    server.add(MINI, Reply(events=openai_stream(MINI, words("Fine."), usage=(9000, 30), cached=8960)))
    openai_pair = CascadeAgent([cfg(server, MINI), cfg(server, GPT4O)], validator=accept)
    r = await openai_pair.run("Q?")
    assert r.baseline_cost == pytest.approx(usd(PRICE_TABLE[GPT4O], fresh=40, read=8960, out=30))
    assert r.cost_saved == pytest.approx(r.baseline_cost - r.total_cost)  # type: ignore[operator]
    # an Anthropic strong model without cache_control caches nothing: its bill is all fresh input
    unmarked = CascadeAgent([cfg(server, MINI), cfg(server, SONNET, "anthropic")], validator=accept)
    r2 = await unmarked.run("Q?")
    assert r2.baseline_cost == pytest.approx(usd(PRICE_TABLE[SONNET], fresh=9000, out=30))


# ---- the cache rule -------------------------------------------------------------------------------


def test_rule_worked_example() -> None:
    """The worked example in docs/concepts/cost.md: an 8,000-token prompt, 150 output tokens, haiku drafting for sonnet."""
    haiku, sonnet = PRICE_TABLE[HAIKU], PRICE_TABLE[SONNET]
    warm_h, warm_s = ModelCost(haiku, 1.0, 0.0, 150), ModelCost(sonnet, 1.0, 0.0, 150)
    assert call_cost(8000, warm_h) == pytest.approx(0.00155) and call_cost(8000, warm_s) == pytest.approx(0.00465)
    # both caches warm: cascade iff 0.00155 + p * 0.00465 < 0.00465, i.e. p < 2/3
    assert not prefer_direct(8000, [warm_h, warm_s], 0.5) and prefer_direct(8000, [warm_h, warm_s], 0.8)
    c = compare(8000, [warm_h, warm_s], 0.8)
    assert c.cascade_usd == pytest.approx(0.00527) and c.direct_usd == pytest.approx(0.00465)
    # the draft's cache cold (it writes 8,000 tokens at 1.25x) and the strong's warm: direct even at p = 0
    cold_h = ModelCost(haiku, 0.0, 1.0, 150)
    assert prefer_direct(8000, [cold_h, warm_s], 0.0)
    # without caching at all the same traffic cascades up to p = 0.67 too
    assert not prefer_direct(8000, [ModelCost(haiku, output_tokens=150), ModelCost(sonnet, output_tokens=150)], 0.6)
    with pytest.raises(ValueError, match="probabilities"):
        compare(8000, [warm_h, warm_s], 1.5)


def test_tracker_is_bounded_and_forgets_stale_caches() -> None:
    t = CacheShareTracker(max_prefixes=2, window=3, cache_ttl_s=300)
    for p in ("a", "b", "c"):
        t.record(p, [{"model": "m", "input_tokens": 100, "cached_tokens": 90, "output_tokens": 7}], escalated=True)
    assert len(t) == 2 and t.p_escalate("a", min_calls=1) is None  # the oldest prefix was dropped
    assert t.p_escalate("c", min_calls=1) == pytest.approx(2 / 3)  # (1 + 1) / (1 + 2)
    price = Price(1.0, 1.0)
    assert t.model_cost("c", "m", price).cached_share == pytest.approx(0.9)
    assert t.model_cost("c", "m", price, now=time.monotonic() + 301).cached_share == 0.0  # cold after the TTL
    assert t.model_cost("c", "other", price) == ModelCost(price, 0.0, 0.0, 7.0)  # unseen: cold, others' output
    for _ in range(5):
        t.record("c", [], escalated=False)
    assert len(t._prefixes["c"].escalated) == 3


async def test_agent_goes_direct_when_draft_plus_escalation_costs_more(module_replay_server: Any) -> None:
    server = module_replay_server
    cache = PromptCache("anthropic")
    for name in (HAIKU, SONNET):
        server.respond(name, cache.responder(lambda body: ("An answer of a few words here.", 150)))
    conv = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Fix my build."}]

    reasons: list[str] = []

    async def run(agent: CascadeAgent) -> list[Any]:
        out = []
        for _ in range(5):
            events = await collect(agent.stream_events(conv, validator=reject))
            reasons.append(events[0].data["reason"])
            out.append(events[-1].data["result"])
        return out

    models = [cfg(server, HAIKU, "anthropic", cache_control=True), cfg(server, SONNET, "anthropic", cache_control=True)]
    aware = await run(CascadeAgent(models, cache_routing=CacheAwareRouting(explore_every=0)))
    assert [r.strategy for r in aware] == ["cascade", "cascade", "direct", "direct", "direct"]
    assert "cache:" not in reasons[1] and "cache:" in reasons[2] and "-> direct" in reasons[2]
    assert [a.model for a in aware[2].attempts] == [SONNET]
    plain = await run(CascadeAgent(models, cache_routing=False))
    assert [r.strategy for r in plain] == ["cascade"] * 5
    assert sum(r.total_cost for r in aware[2:]) < sum(r.total_cost for r in plain[2:])


async def test_cache_rule_learns_escalation_rates_from_the_decision_log(module_replay_server: Any) -> None:
    from cascadeflow_integrations.stores import DecisionRow, MemoryStore

    server = module_replay_server
    cache = PromptCache("anthropic")
    for name in (HAIKU, SONNET):
        server.respond(name, cache.responder(lambda body: ("An answer.", 150)))
    conv = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Fix my build."}]
    prefix = prefix_fingerprint(to_messages(conv, None))
    store = MemoryStore()
    for i in range(3):  # yesterday's traffic on this prefix: every draft escalated
        store.append(DecisionRow(request_id=f"old{i}", prefix_hash=prefix, strategy="cascade",
                                 decision={"accepted": False},
                                 attempts=[{"model": HAIKU, "input_tokens": 8000, "output_tokens": 150}]))
    await store.flush()
    models = [cfg(server, HAIKU, "anthropic", cache_control=True), cfg(server, SONNET, "anthropic", cache_control=True)]
    agent = CascadeAgent(models, decision_log=store, cache_routing=CacheAwareRouting(explore_every=0))
    r1 = await agent.run(conv, validator=reject)
    assert agent._cache_seed is not None
    await agent._cache_seed  # the background read of the log
    r2 = await agent.run(conv, validator=reject)
    assert r1.strategy == "cascade" and r2.strategy == "direct"  # without the log the 2nd call would still cascade
    await agent.aclose()


async def test_cache_rule_uses_an_escalation_probability_given_in_routing_features(module_replay_server: Any) -> None:
    from cascadeflow_integrations.routing import RoutingDecision

    class Sure:  # stands for a fitted policy that knows this request's escalation probability
        def __init__(self, p: float) -> None:
            self.p = p

        def route(self, messages: Any, tools: Any = None, complexity_hint: Any = None,
                  force_direct: bool = False) -> RoutingDecision:
            return RoutingDecision("cascade", "moderate", "policy", {"p_escalate": self.p})

    server = module_replay_server
    for name in (HAIKU, SONNET):
        server.respond(name, PromptCache("anthropic").responder(lambda body: ("An answer.", 150)))
    conv = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Fix my build."}]
    models = [cfg(server, HAIKU, "anthropic"), cfg(server, SONNET, "anthropic")]
    likely = await CascadeAgent(models, router=Sure(0.99), validator=reject).run(conv)
    unlikely = await CascadeAgent(models, router=Sure(0.05), validator=accept).run(conv)
    assert likely.strategy == "direct" and [a.model for a in likely.attempts] == [SONNET]  # no history needed
    assert unlikely.strategy == "cascade" and unlikely.draft_accepted


def test_reasoning_reported_beside_completion_tokens_is_billed_as_output() -> None:
    from cascadeflow_integrations.providers.openai import _usage

    # OpenAI: reasoning inside completion_tokens (total = prompt + completion)
    inside = _usage({"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150,
                     "completion_tokens_details": {"reasoning_tokens": 30}})
    # a compatible server (Gemini's) counting thoughts apart: total = prompt + completion + reasoning
    beside = _usage({"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 150,
                     "completion_tokens_details": {"reasoning_tokens": 30}})
    assert (inside.output_tokens, inside.reasoning_tokens) == (50, 30)
    assert (beside.output_tokens, beside.reasoning_tokens) == (50, 30)
