"""The member seam: prices, identity and labels, the provider registry, Gemini, a custom member."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from replay_helpers import accept, model, reject, say

from cascadeflow_integrations import CascadeAgent, Member, ModelConfig
from cascadeflow_integrations.members import BaseMember, CascadeMember, SDKMember, build_chain
from cascadeflow_integrations.prices import PRICE_TABLE, Price, lookup_price
from cascadeflow_integrations.providers import PROVIDERS, create_provider
from cascadeflow_integrations.replay import Reply
from cascadeflow_integrations.replay.wire import openai_stream, words
from cascadeflow_integrations.types import ChatRequest, Delta, FinishDelta, TextDelta, Usage, UsageDelta


def test_price_table_entries_are_dated_and_snapshots_use_their_alias() -> None:
    assert all(p.as_of and p.as_of[:2] == "20" for p in PRICE_TABLE.values())
    assert lookup_price("gpt-4o-mini") == PRICE_TABLE["gpt-4o-mini"]
    assert lookup_price("gpt-4o-mini-2024-07-18") == PRICE_TABLE["gpt-4o-mini"]
    assert lookup_price("claude-haiku-4-5-20251001") == PRICE_TABLE["claude-haiku-4-5"]
    assert lookup_price("my-finetune") is None and lookup_price("gpt-4o-mini-fast") is None


def test_model_config_price_given_table_or_none() -> None:
    assert ModelConfig(name="x", input_cost=0.001, output_cost=0.002).price == Price(0.001, 0.002)
    assert ModelConfig(name="x", cost=0.5).price == Price(0.5, 0.5)
    table = PRICE_TABLE["gpt-4o"]
    assert ModelConfig(name="gpt-4o").price == Price(table.input, table.output, table.cached_input, table.cache_write)
    # one side given: the input side (and its cache prices) stay the table's
    assert ModelConfig(name="gpt-4o", output_cost=0.0).price == Price(table.input, 0.0, table.cached_input,
                                                                      table.cache_write)
    # an input price given here: the table's cache prices no longer apply (unknown, billed at the input price)
    assert ModelConfig(name="gpt-4o", input_cost=0.001).price == Price(0.001, table.output)
    assert ModelConfig(name="local-llama", provider="ollama").price is None
    assert ModelConfig(name="local-llama", provider="ollama", cost=0.0).price == Price(0.0, 0.0)  # explicitly free


def test_member_wrapper_validates_prices_and_label() -> None:
    with pytest.raises(ValueError, match="both input_cost= and output_cost="):
        Member(ModelConfig(name="x"), input_cost=0.1)
    with pytest.raises(ValueError, match="Member cost must be a finite number of USD"):
        Member(ModelConfig(name="x"), cost=-1)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="Member input_cost must be a finite number"):
            Member(ModelConfig(name="x"), input_cost=bad, output_cost=1.0)
    with pytest.raises(ValueError, match="label is empty"):
        Member(ModelConfig(name="x"), label=" ")
    m = build_chain([Member(ModelConfig(name="x"), input_cost=1.0, output_cost=2.0, label="cheap")])[0]
    assert m.label == "cheap" and m.price(Usage(1000, 1000)) == pytest.approx(3.0)


def test_registry_replaces_the_if_chain() -> None:
    assert set(PROVIDERS) >= {"openai", "anthropic", "groq"}
    assert type(create_provider(ModelConfig(name="m", provider="groq", api_key="k"))).__name__ == "GroqProvider"
    assert type(create_provider(ModelConfig(name="m", provider="gemini", api_key="k"))).__name__ == "OpenAIProvider"


def test_identity_same_model_twice_and_labels() -> None:
    low = ModelConfig(name="gpt-5", extra_params={"reasoning_effort": "low"})
    high = ModelConfig(name="gpt-5", extra_params={"reasoning_effort": "high"})
    chain = build_chain([low, high])
    assert [m.label for m in chain] == ["gpt-5[reasoning_effort=low]", "gpt-5[reasoning_effort=high]"]
    assert [m.label for m in build_chain([low.model_copy(update={"label": "fast"}), high])] == ["fast", "gpt-5"]
    with pytest.raises(ValueError, match=r"models\[0\] and models\[1\] are the same member"):
        CascadeAgent([low, low])
    # the same settings under two explicit labels are two members
    assert len(build_chain([Member(low, label="a"), Member(low, label="b")])) == 2
    with pytest.raises(ValueError, match="ModelConfig.*Member"):
        CascadeAgent([ModelConfig(name="a"), object()])


async def test_one_model_at_two_settings_cascades(module_replay_server: Any) -> None:
    server = module_replay_server
    server.add("gpt-5", Reply(events=openai_stream("gpt-5", words("low effort"))), match='"low"')
    server.add("gpt-5", Reply(events=openai_stream("gpt-5", words("high effort"))), match='"high"')
    agent = CascadeAgent([model(server, "gpt-5", extra_params={"reasoning_effort": "low"}, cost=0.001),
                          model(server, "gpt-5", extra_params={"reasoning_effort": "high"}, cost=0.01)],
                         validator=reject)
    r = await agent.run("Explain.")
    assert r.content == "high effort" and r.model_used == "gpt-5[reasoning_effort=high]"
    assert [a.model for a in r.attempts] == ["gpt-5[reasoning_effort=low]", "gpt-5[reasoning_effort=high]"]
    assert set(r.models) == {"gpt-5[reasoning_effort=low]", "gpt-5[reasoning_effort=high]"}
    assert [b["reasoning_effort"] for b in server.stats.requests] == ["low", "high"]
    await agent.aclose()


async def test_member_without_price_has_cost_none_and_warns_once(module_replay_server: Any,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    server = module_replay_server
    unpriced = ModelConfig(name="my-finetune", base_url=server.openai_url, api_key="sk-test-not-a-real-key",
                           max_retries=0)
    agent = CascadeAgent([unpriced, model(server, "gpt-4o", cost=0.01)], validator=accept)
    for _ in range(2):
        say(server, "my-finetune", "an answer")
    with caplog.at_level(logging.WARNING, logger="cascadeflow_integrations"):
        first = await agent.run("Q?")
        second = await agent.run("Q?")
    for r in (first, second):
        assert r.draft_accepted and r.total_cost is None and r.cost_saved is None
        assert r.attempts[0].cost is None and r.models["my-finetune"]["cost"] is None
        assert r.to_dict()["total_cost"] is None
    warnings = [rec for rec in caplog.records if "no price known" in rec.getMessage()]
    assert len(warnings) == 1 and "my-finetune" in warnings[0].getMessage()
    await agent.aclose()


async def test_gemini_preset(module_replay_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = ModelConfig(name="gemini-2.5-flash", provider="gemini")
    assert cfg.resolved_base_url == "https://generativelanguage.googleapis.com/v1beta/openai/"
    t = PRICE_TABLE["gemini-2.5-flash"]
    assert cfg.sdk == "openai" and cfg.price == Price(t.input, t.output, t.cached_input, t.cache_write)
    server = module_replay_server
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-test-key-not-real")
    draft = ModelConfig(name="gemini-2.5-flash", provider="gemini", base_url=server.openai_url, max_retries=0)
    assert cfg.resolved_api_key() == "gemini-test-key-not-real"
    say(server, "gemini-2.5-flash", "Paris.")
    agent = CascadeAgent([draft, model(server, "gpt-4o", cost=0.01)], validator=accept)
    r = await agent.run("Capital of France?", max_tokens=50)
    assert r.content == "Paris." and r.provider_used == "gemini" and r.total_cost is not None
    body = server.stats.requests[0]
    assert "logprobs" not in body and body["max_tokens"] == 50  # Gemini's endpoint: no logprobs, max_tokens
    await agent.aclose()


class EchoMember(BaseMember):
    """A member that is not an SDK: proves the engine only needs the protocol."""

    def __init__(self, text: str, label: str) -> None:
        super().__init__(name="echo", provider="local", price=Price(0.0, 0.0), label=label)
        self.text = text
        self.requests: list[ChatRequest] = []

    async def stream(self, request: ChatRequest) -> AsyncGenerator[Delta, None]:
        self.requests.append(request)
        for w in words(self.text):
            yield TextDelta(w)
        yield UsageDelta(Usage(3, len(words(self.text))))
        yield FinishDelta("stop")


async def test_custom_member_through_the_engine(module_replay_server: Any) -> None:
    server = module_replay_server
    echo = EchoMember("a rejected draft", "echo-draft")
    assert isinstance(echo, CascadeMember)
    say(server, "gpt-4o", "The answer.")
    agent = CascadeAgent([echo, model(server, "gpt-4o", cost=0.01)], validator=reject)
    r = await agent.run("Q?")
    assert r.content == "The answer." and [a.model for a in r.attempts] == ["echo-draft", "gpt-4o"]
    assert r.attempts[0].usage.output_tokens == 3 and r.attempts[0].cost == 0.0
    req = echo.requests[0]
    assert req.phase == "draft" and req.metadata["cascade_member"] == "echo-draft"
    assert isinstance(agent.members[1], SDKMember)
    await agent.aclose()


# ---- one unit: per-1M prices (records, the table, fit) become a Price in one place -------------------

def test_per_million_prices_are_one_price_and_cost_what_they_say() -> None:
    from cascadeflow_integrations.models.prices import Price
    from cascadeflow_integrations.types import Usage

    p = Price.per_million(10.0, 30.0, cached_input=1.0)
    assert p == Price(0.01, 0.03, 0.001)
    assert p.cost(Usage(1_000_000, 1_000_000)) == pytest.approx(40.0)
    assert Price.of((10, 30), Price(0, 0)) == Price.per_million(10.0, 30.0)
    assert Price.of("2.5", Price(0, 0)) == Price.per_million(2.5, 2.5)
    assert Price.of(None, p) is p and Price.of(p, Price(0, 0)) is p
    with pytest.raises(ValueError, match="per 1M tokens"):
        Price.of(object(), p)


def test_fit_prices_a_record_by_the_same_price_as_a_member() -> None:
    from cascadeflow_integrations.learning.fit import read_record
    from cascadeflow_integrations.models.prices import Price, lookup_price
    from cascadeflow_integrations.types import Usage

    rec = {"prompt": "2+2?", "draft": "4", "draft_correct": True, "strong_correct": True,
           "input_tokens": 1000, "draft_tokens": 200, "strong_tokens": 300}
    table = lookup_price("gpt-4o")
    assert table is not None
    by_pair = read_record(rec, (0.15, 0.6), (table.input * 1000, table.output * 1000))
    by_price = read_record(rec, Price.per_million(0.15, 0.6), table)
    assert by_pair.draft_cost == pytest.approx(by_price.draft_cost) == pytest.approx((1000 * 0.15 + 200 * 0.6) / 1e6)
    assert by_price.strong_cost == pytest.approx(table.cost(Usage(1000, 300)))
    assert by_pair.strong_cost == pytest.approx(by_price.strong_cost)
