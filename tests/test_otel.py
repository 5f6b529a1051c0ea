"""OpenTelemetry spans through the real SDK (in-memory exporter), in the core, LangChain and LlamaIndex paths."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from cascadeflow_integrations import CascadeAgent, ModelConfig
from cascadeflow_integrations.errors import RateLimitError
from cascadeflow_integrations.quality import AgreementCheck, JudgeValidator
from cascadeflow_integrations.replay import Reply, ReplayServer
from cascadeflow_integrations.replay.wire import error_body, openai_choices_stream, openai_stream, words
from replay_helpers import CHEAP, STRONG, ROOT, accept, model, reject, say

PROMPT = "What is the capital of Australia?"
_exporter: InMemorySpanExporter | None = None


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    """One SDK tracer provider for the process (OpenTelemetry allows setting it once)."""
    global _exporter
    if _exporter is None:
        _exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        trace.set_tracer_provider(provider)
    return _exporter


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    exporter.clear()
    return exporter


@pytest.fixture
def server(module_replay_server: ReplayServer) -> ReplayServer:
    return module_replay_server


def chain(server: ReplayServer) -> list[ModelConfig]:
    return [model(server, CHEAP, cost=0.15), model(server, STRONG, cost=2.5)]


def by_name(exporter: InMemorySpanExporter) -> dict[str, Any]:
    return {s.name: s for s in exporter.get_finished_spans()}


def assert_tree(exporter: InMemorySpanExporter, parent_name: str, children: list[str]) -> dict[str, Any]:
    """The cascade span is a child of `parent_name`, and `children` are the cascade span's children."""
    found = by_name(exporter)
    parent, cascade = found[parent_name], found["cascade"]
    assert cascade.parent is not None and cascade.parent.span_id == parent.context.span_id
    assert cascade.context.trace_id == parent.context.trace_id
    kids = sorted(s.name for s in exporter.get_finished_spans()
                  if s.parent is not None and s.parent.span_id == cascade.context.span_id)
    assert kids == sorted(children)
    return found


def no_text(exporter: InMemorySpanExporter, *texts: str) -> None:
    for s in exporter.get_finished_spans():
        for v in s.attributes.values():
            assert not any(t in str(v) for t in texts), (s.name, v)


# ---- core --------------------------------------------------------------------------------------


async def test_accepted_draft_span_and_attributes(server: ReplayServer, spans: InMemorySpanExporter) -> None:
    agent = CascadeAgent(chain(server), validator=accept)
    say(server, CHEAP, "Canberra.", usage=(12, 3))
    tracer = trace.get_tracer("app")
    with tracer.start_as_current_span("request"):
        result = await agent.run(PROMPT, max_tokens=64, temperature=0.2)
    found = assert_tree(spans, "request", [f"chat {CHEAP}"])
    c, a = found["cascade"].attributes, found[f"chat {CHEAP}"].attributes
    assert c["gen_ai.operation.name"] == "chat" and c["gen_ai.response.model"] == CHEAP
    assert c["cascade.strategy"] == "cascade" and c["cascade.decision"] == "accepted"
    assert c["cascade.escalated"] is False and c["cascade.complexity"] == result.complexity
    assert c["cascade.cost_usd"] == pytest.approx(result.total_cost)
    assert c["cascade.cost_saved_usd"] == pytest.approx(result.cost_saved)
    assert c["cascade.reason"] == result.decisions[0]["reason"] and "cascade.score" in c
    assert (c["gen_ai.usage.input_tokens"], c["gen_ai.usage.output_tokens"]) == (12, 3)
    assert a["gen_ai.provider.name"] == "openai" and a["gen_ai.request.model"] == CHEAP
    assert a["gen_ai.response.model"] == CHEAP and tuple(a["gen_ai.response.finish_reasons"]) == ("stop",)
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (12, 3)
    assert a["gen_ai.request.max_tokens"] == 64 and a["gen_ai.request.temperature"] == 0.2
    assert a["cascade.phase"] == "draft" and a["cascade.accepted"] is True
    assert a["server.address"] == "127.0.0.1"
    assert found[f"chat {CHEAP}"].kind is trace.SpanKind.CLIENT
    no_text(spans, "Australia", "Canberra")


async def test_escalation_has_one_span_per_attempt(server: ReplayServer, spans: InMemorySpanExporter) -> None:
    agent = CascadeAgent(chain(server), validator=reject)
    say(server, CHEAP, "Sydney.")
    say(server, STRONG, "Canberra.")
    with trace.get_tracer("app").start_as_current_span("request"):
        result = await agent.run(PROMPT)
    found = assert_tree(spans, "request", [f"chat {CHEAP}", f"chat {STRONG}"])
    c = found["cascade"].attributes
    assert c["cascade.decision"] == "escalated" and c["cascade.escalated"] is True
    assert c["cascade.cost_saved_usd"] == pytest.approx(result.cost_saved) and result.cost_saved < 0
    assert found[f"chat {CHEAP}"].attributes["cascade.accepted"] is False
    assert found[f"chat {STRONG}"].attributes["cascade.phase"] == "verifier"
    assert found[f"chat {CHEAP}"].end_time <= found[f"chat {STRONG}"].start_time


async def test_content_only_when_opted_in(server: ReplayServer, spans: InMemorySpanExporter) -> None:
    say(server, CHEAP, "Canberra.")
    await CascadeAgent(chain(server), validator=accept, trace_content=True).run(PROMPT)
    c = by_name(spans)["cascade"].attributes
    assert PROMPT in json.loads(c["gen_ai.input.messages"])[-1]["parts"][0]["content"]
    assert "Canberra." in c["gen_ai.output.messages"]
    assert "Canberra." in by_name(spans)[f"chat {CHEAP}"].attributes["gen_ai.output.messages"]


async def test_final_model_error_marks_the_spans(server: ReplayServer, spans: InMemorySpanExporter) -> None:
    agent = CascadeAgent(chain(server), validator=reject)
    say(server, CHEAP, "Sydney.")
    server.add(STRONG, Reply(body=error_body("openai", 429, "slow down", "rate_limit_exceeded"), status=429))
    with pytest.raises(RateLimitError):
        await agent.run(PROMPT)
    found = by_name(spans)
    for name in ("cascade", f"chat {STRONG}"):
        assert found[name].status.status_code is StatusCode.ERROR
        assert found[name].attributes["error.type"] == "RateLimitError"
    assert found[f"chat {CHEAP}"].status.status_code is not StatusCode.ERROR


async def test_judge_check_is_a_child_span(server: ReplayServer, spans: InMemorySpanExporter) -> None:
    judge = model(server, "judge-model", cost=1.0)
    agent = CascadeAgent(chain(server), validator=JudgeValidator(model=judge))
    say(server, CHEAP, "Canberra.")
    server.add("judge-model", Reply(body=json.dumps({
        "id": "j", "object": "chat.completion", "created": 0, "model": "judge-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "VERDICT: CORRECT\nGRADE: 9"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 6, "total_tokens": 46}})))
    with trace.get_tracer("app").start_as_current_span("request"):
        result = await agent.run(PROMPT)
    assert result.draft_accepted
    found = assert_tree(spans, "request", [f"chat {CHEAP}", "check judge"])
    j = found["check judge"].attributes
    assert j["gen_ai.evaluation.name"] == "judge" and j["gen_ai.request.model"] == "judge-model"
    assert j["gen_ai.evaluation.score.value"] == pytest.approx(0.9) and j["gen_ai.usage.input_tokens"] == 40


async def test_model_based_check_is_a_child_span(server: ReplayServer, spans: InMemorySpanExporter) -> None:
    agent = CascadeAgent(chain(server), validator=AgreementCheck(k=3), quality_threshold=0.6)
    say(server, CHEAP, "The answer is 18.")
    server.add(CHEAP, Reply(events=openai_choices_stream(CHEAP, ["18", "18", "26"], usage=(30, 3))))
    with trace.get_tracer("app").start_as_current_span("request"):
        result = await agent.run("How many dollars does she make? Answer with the number.")
    assert result.draft_accepted and result.validator_calls == 1
    found = assert_tree(spans, "request", [f"chat {CHEAP}", "check agreement"])
    a = found["check agreement"].attributes
    assert a["gen_ai.evaluation.name"] == "agreement" and a["gen_ai.request.model"] == CHEAP
    assert a["gen_ai.evaluation.score.value"] == pytest.approx(2 / 3) and a["cascade.calls"] == 1
    assert not a["cascade.neutral"] and a["cascade.cost_usd"] == pytest.approx(result.validator_cost)
    await agent.aclose()


async def test_stream_broken_off_still_ends_its_spans(server: ReplayServer, spans: InMemorySpanExporter) -> None:
    agent = CascadeAgent(chain(server), validator=accept)
    server.add(CHEAP, Reply(events=openai_stream(CHEAP, words("one two three four five six"), usage=(5, 6))))
    stream = agent.stream_events(PROMPT)
    async for ev in stream:
        if ev.type.value == "chunk":
            break
    await stream.aclose()  # type: ignore[attr-defined]
    await agent.aclose()
    found = by_name(spans)
    assert {"cascade", f"chat {CHEAP}"} <= set(found)


# ---- adapters ----------------------------------------------------------------------------------


def test_langchain_invoke_nests(server: ReplayServer, spans: InMemorySpanExporter) -> None:
    from cascadeflow_integrations.langchain import ChatCascade

    llm = ChatCascade(models=chain(server), validator=reject)
    say(server, CHEAP, "Sydney.")
    say(server, STRONG, "Canberra.")
    with trace.get_tracer("app").start_as_current_span("sync-request"):
        assert llm.invoke(PROMPT).content == "Canberra."  # the engine runs on the background loop
    assert_tree(spans, "sync-request", [f"chat {CHEAP}", f"chat {STRONG}"])
    no_text(spans, "Australia", "Canberra", "Sydney")


async def test_langchain_ainvoke_and_astream_nest(server: ReplayServer, spans: InMemorySpanExporter) -> None:
    from cascadeflow_integrations.langchain import ChatCascade

    llm = ChatCascade(models=chain(server), validator=reject)
    for _ in range(2):
        say(server, CHEAP, "Sydney.")
        say(server, STRONG, "Canberra.")
    with trace.get_tracer("app").start_as_current_span("async-request"):
        assert (await llm.ainvoke(PROMPT)).content == "Canberra."
    assert_tree(spans, "async-request", [f"chat {CHEAP}", f"chat {STRONG}"])
    spans.clear()
    with trace.get_tracer("app").start_as_current_span("stream-request"):
        assert "".join([str(c.content) async for c in llm.astream(PROMPT)]) == "Canberra."
    assert_tree(spans, "stream-request", [f"chat {CHEAP}", f"chat {STRONG}"])
    await llm.aclose()


def test_llama_index_chat_nests(server: ReplayServer, spans: InMemorySpanExporter) -> None:
    from llama_index.core.llms import ChatMessage

    from cascadeflow_integrations.llama_index import CascadeLLM

    llm = CascadeLLM(models=chain(server), validator=accept)
    say(server, CHEAP, "Canberra.")
    with trace.get_tracer("app").start_as_current_span("sync-request"):
        assert llm.chat([ChatMessage(role="user", content=PROMPT)]).message.content == "Canberra."
    assert_tree(spans, "sync-request", [f"chat {CHEAP}"])
    no_text(spans, "Australia", "Canberra")


async def test_llama_index_achat_and_astream_nest(server: ReplayServer, spans: InMemorySpanExporter) -> None:
    from llama_index.core.llms import ChatMessage

    from cascadeflow_integrations.llama_index import CascadeLLM

    llm = CascadeLLM(models=chain(server), validator=reject)
    for _ in range(2):
        say(server, CHEAP, "Sydney.")
        say(server, STRONG, "Canberra.")
    with trace.get_tracer("app").start_as_current_span("async-request"):
        assert (await llm.achat([ChatMessage(role="user", content=PROMPT)])).message.content == "Canberra."
    assert_tree(spans, "async-request", [f"chat {CHEAP}", f"chat {STRONG}"])
    spans.clear()
    with trace.get_tracer("app").start_as_current_span("stream-request"):
        gen = await llm.astream_chat([ChatMessage(role="user", content=PROMPT)])
        assert "".join([r.delta or "" async for r in gen]) == "Canberra."
    assert_tree(spans, "stream-request", [f"chat {CHEAP}", f"chat {STRONG}"])


# ---- zero cost when off ------------------------------------------------------------------------

OFF = r"""
import sys
if sys.argv[1] == "absent":
    sys.modules["opentelemetry"] = None  # as if the [otel] extra were not installed
from cascadeflow_integrations import CascadeAgent, ModelConfig
from cascadeflow_integrations import otel
agent = CascadeAgent([ModelConfig(name="a", base_url="http://127.0.0.1:9/v1", api_key="sk-x")])
it = agent.stream_events("hi")
print(otel.tracer() is None, type(it).__name__, it.__name__, "opentelemetry.sdk" in sys.modules)
"""


@pytest.mark.parametrize("mode", ["absent", "no-provider"])
def test_off_means_no_tracer_and_no_wrapper(mode: str) -> None:
    out = subprocess.run([sys.executable, "-c", OFF, mode], capture_output=True, text=True, cwd=ROOT, timeout=60,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=True)
    assert out.stdout.split() == ["True", "async_generator", "_run", "False"]


async def test_langchain_members_spans_and_budget(server: ReplayServer, spans: InMemorySpanExporter) -> None:
    """Chat models as members: one span per member call, and the budget reserves and settles their prices."""
    from langchain_openai import ChatOpenAI

    from cascadeflow_integrations import Member
    from cascadeflow_integrations.budget import Budget
    from cascadeflow_integrations.langchain import ChatCascade

    def member(name: str, price: float) -> Member:
        chat = ChatOpenAI(model=name, base_url=server.openai_url, api_key="sk-test-not-a-real-key", max_retries=0)
        return Member(chat, input_cost=price, output_cost=price)

    budget = Budget(100.0)  # above both members' worst case (4,096 output tokens each, no max_tokens given)
    llm = ChatCascade(models=[member(CHEAP, 0.15), member(STRONG, 2.5)], validator=reject, budget=budget)
    say(server, CHEAP, "Sydney.", usage=(10, 2))
    say(server, STRONG, "Canberra.", usage=(10, 3))
    with trace.get_tracer("app").start_as_current_span("request"):
        msg = await llm.ainvoke(PROMPT, budget_key="t-1")
    assert msg.content == "Canberra."
    found = assert_tree(spans, "request", [f"chat {CHEAP}", f"chat {STRONG}"])
    assert found[f"chat {STRONG}"].attributes["gen_ai.usage.output_tokens"] == 3
    cost = msg.response_metadata["cascade"]["total_cost"]
    assert cost == pytest.approx((12 * 0.15 + 13 * 2.5) / 1000)
    assert found["cascade"].attributes["cascade.cost_usd"] == pytest.approx(cost)
    assert msg.response_metadata["cascade"]["budget"]["key"] == "t-1"
    assert await budget.spent("t-1") == pytest.approx(cost)
    await llm.aclose()


async def test_attempt_spans_carry_cache_and_reasoning_tokens(server: ReplayServer, spans: InMemorySpanExporter) -> None:
    server.add(CHEAP, Reply(events=openai_stream(CHEAP, words("Four."), usage=(3000, 40), cached=2048, reasoning=12)))
    agent = CascadeAgent([model(server, CHEAP, input_cost=0.15, output_cost=0.6)], validator=accept)
    await agent.run("What is 2+2?")
    a = by_name(spans)[f"chat {CHEAP}"].attributes
    assert a["cascade.usage.cached_tokens"] == 2048 and a["cascade.usage.reasoning_tokens"] == 12
    assert "cascade.usage.cache_write_tokens" not in a
    assert a["cascade.cost_estimated"] is True  # a cache read with no cached-input price: billed at the input price
