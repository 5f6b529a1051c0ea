"""LlamaIndex LLMs as cascade members: the real OpenAI and Anthropic LLMs over loopback HTTP."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.span_handlers import SimpleSpanHandler
from llama_index.core.tools import FunctionTool
from replay_helpers import accept, reject

from cascadeflow_integrations import Member, ModelConfig
from cascadeflow_integrations.llama_index import CascadeLLM
from cascadeflow_integrations.prices import PRICE_TABLE
from cascadeflow_integrations.replay import Reply
from cascadeflow_integrations.replay.wire import anthropic_stream, openai_stream, words

# llama-index-llms-openai pins openai<3 (and -anthropic does not work on anthropic 2.x), so these run in
# `make test-compat`, whose environment has the older SDK majors those packages need.
_why = "installed by make test-compat (llama-index-llms-openai pins openai<3)"
OpenAI = pytest.importorskip("llama_index.llms.openai", reason=_why).OpenAI
Anthropic = pytest.importorskip("llama_index.llms.anthropic", reason=_why).Anthropic
pytestmark = pytest.mark.compat
module_loop = pytest.mark.asyncio(loop_scope="module")

import anthropic

# llama-index-llms-anthropic (0.12.x) builds `anthropic.types.MessageParam(...)`, a TypedDict in anthropic < 2 and
# a Union in 2.x: it cannot send a message on anthropic 2.x. Those tests run in `make test-compat` (anthropic < 1).
anthropic_lt_2 = pytest.mark.skipif(
    int(anthropic.__version__.split(".")[0]) >= 2,
    reason="llama-index-llms-anthropic cannot build messages on anthropic 2.x (runs in make test-compat)")

KEY = "sk-test-not-a-real-key"
UNPRICED = "gpt-4-0613"  # LlamaIndex's OpenAI LLM knows it; the price table does not
CLAUDE = "claude-haiku-4-5"


def gpt(server: Any, name: str = "gpt-4o-mini") -> OpenAI:
    return OpenAI(model=name, api_base=server.openai_url, api_key=KEY, max_retries=0)


def claude(server: Any) -> Anthropic:
    return Anthropic(model=CLAUDE, base_url=server.url, api_key=KEY, max_retries=0)


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


@module_loop
@pytest.mark.compat
@anthropic_lt_2
async def test_escalation_from_openai_llm_to_anthropic_llm_streams_only_the_answer(module_replay_server: Any) -> None:
    server = module_replay_server
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", words("Not sure."), usage=(10, 2))))
    server.add(CLAUDE, Reply(events=anthropic_stream(CLAUDE, words("It is 42."), usage=(12, 4))))
    llm = CascadeLLM(models=[gpt(server), claude(server)], validator=reject)
    deltas, last = [], None
    async for r in await llm.astream_chat(user("Six times seven?")):
        deltas.append(r.delta)
        last = r
    assert "".join(deltas) == "It is 42." and last is not None and last.message.content == "It is 42."
    info = last.raw["cascade"]
    assert info["model_used"] == CLAUDE and not info["draft_accepted"]
    assert info["models"]["gpt-4o-mini"]["usage"]["input_tokens"] == 10  # usage streamed (include_usage asked)
    haiku = PRICE_TABLE[CLAUDE]
    assert info["models"][CLAUDE]["cost"] == pytest.approx((12 * haiku.input + 4 * haiku.output) / 1000)
    assert server.stats.requests[0]["stream_options"] == {"include_usage": True}


@module_loop
@pytest.mark.compat
@anthropic_lt_2
async def test_member_calls_nest_in_the_cascade_span(module_replay_server: Any) -> None:
    server = module_replay_server
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", words("Draft."))))
    server.add(CLAUDE, Reply(events=anthropic_stream(CLAUDE, words("Answer."))))
    handler = SimpleSpanHandler()
    root = get_dispatcher()
    root.add_span_handler(handler)
    try:
        llm = CascadeLLM(models=[gpt(server), claude(server)], validator=reject)
        response = await llm.achat(user("Q?"))
    finally:
        root.span_handlers.remove(handler)
    assert response.message.content == "Answer."
    spans = {s.id_: s for s in handler.completed_spans}
    cascade = [s for s in spans.values() if s.id_.startswith("CascadeLLM.achat")]
    members = [s for s in spans.values() if s.id_.startswith(("OpenAI.", "Anthropic."))]
    assert len(cascade) == 1 and members
    assert {s.parent_id for s in members if s.parent_id and s.parent_id.startswith("CascadeLLM")} == {cascade[0].id_}
    assert {s.id_.split(".")[0] for s in members if s.parent_id == cascade[0].id_} == {"OpenAI", "Anthropic"}


@module_loop
async def test_function_agent_with_llm_members(module_replay_server: Any) -> None:
    server = module_replay_server
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", tool_calls=[
        ("call_1", "multiply", '{"a": 3, "b": 4}')])))
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", words("3 times 4 is 12."))))
    llm = CascadeLLM(models=[gpt(server), claude(server)], validator=accept)
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(fn=multiply)], llm=llm, system_prompt="Use tools.")
    handler = agent.run("What is 3 times 4?")
    results = [ev async for ev in handler.stream_events() if type(ev).__name__ == "ToolCallResult"]
    response = await handler
    assert "12" in str(response) and results and results[0].tool_output.raw_output == 12
    first = server.stats.requests[0]
    assert first["tools"][0]["function"]["name"] == "multiply"  # bound in the member's own (OpenAI) format


@module_loop
@pytest.mark.compat
@anthropic_lt_2
async def test_tools_reach_an_anthropic_member_in_its_format(module_replay_server: Any) -> None:
    server = module_replay_server
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", tool_calls=[
        ("call_1", "multiply", '{"a": "x"}')])))  # wrong type: escalates
    server.add(CLAUDE, Reply(events=anthropic_stream(CLAUDE, tool_calls=[("toolu_1", "multiply", '{"a": 2, "b": 5}')])))
    llm = CascadeLLM(models=[gpt(server), claude(server)])
    tool = FunctionTool.from_defaults(fn=multiply)
    response = await llm.achat_with_tools([tool], user_msg="2 times 5?", tool_required=True)
    calls = llm.get_tool_calls_from_response(response)
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("multiply", {"a": 2, "b": 5})]
    claude_body = server.stats.requests[1]
    assert claude_body["tools"][0]["name"] == "multiply" and "input_schema" in claude_body["tools"][0]


def test_sync_chat_with_a_mixed_chain(module_replay_server: Any) -> None:
    server = module_replay_server
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", words("Draft."))))
    server.add("gpt-4o", Reply(events=openai_stream("gpt-4o", words("Strong answer."))))
    strong = ModelConfig(name="gpt-4o", base_url=server.openai_url, api_key=KEY, max_retries=0)
    llm = CascadeLLM(models=[gpt(server), strong], validator=reject)
    response = llm.chat(user("Q?"))
    assert response.message.content == "Strong answer." and response.raw["cascade"]["model_used"] == "gpt-4o"
    assert "cascade(gpt-4o-mini→gpt-4o)" == llm.metadata.model_name
    assert KEY not in llm.to_json()


@module_loop
async def test_unpriced_llm_member_and_member_wrapper(module_replay_server: Any,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    server = module_replay_server
    for _ in range(2):
        server.add(UNPRICED, Reply(events=openai_stream(UNPRICED, words("Fine."), usage=(1000, 1000))))
    with caplog.at_level(logging.WARNING, logger="cascadeflow_integrations"):
        r = await CascadeLLM(models=[gpt(server, UNPRICED), claude(server)], validator=accept).achat(user("Q"))
    assert r.raw["cascade"]["total_cost"] is None and sum("no price known" in x.getMessage()
                                                          for x in caplog.records) == 1
    priced = CascadeLLM(models=[Member(gpt(server, UNPRICED), cost=0.001), claude(server)], validator=accept)
    r = await priced.achat(user("Q"))
    assert r.raw["cascade"]["total_cost"] == pytest.approx(0.002)


@module_loop
async def test_model_config_members_get_spans_and_usage_is_counted_once(module_replay_server: Any) -> None:
    from llama_index.core.callbacks import CallbackManager, TokenCountingHandler

    server = module_replay_server
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", words("Draft."), usage=(10, 2))))
    server.add("gpt-4o", Reply(events=openai_stream("gpt-4o", words("Answer."), usage=(10, 3))))
    counter = TokenCountingHandler(tokenizer=str.split)
    shared = CallbackManager([counter])  # as `Settings.callback_manager` would be: every LLM gets it
    member = OpenAI(model="gpt-4o-mini", api_base=server.openai_url, api_key=KEY, max_retries=0,
                    callback_manager=shared)
    strong = ModelConfig(name="gpt-4o", base_url=server.openai_url, api_key=KEY, max_retries=0)
    handler = SimpleSpanHandler()
    root = get_dispatcher()
    root.add_span_handler(handler)
    try:
        llm = CascadeLLM(models=[member, strong], validator=reject, callback_manager=shared)
        response = await llm.achat(user("Q?"))
    finally:
        root.span_handlers.remove(handler)
    assert response.message.content == "Answer."
    # the cascade's call is counted once, with every model's usage; the member's own call is not counted again
    assert [e.prompt_token_count for e in counter.llm_token_counts] == [20]
    assert counter.total_llm_token_count == 25 and member.callback_manager is shared  # the user's LLM untouched
    cascade = next(s for s in handler.completed_spans if s.id_.startswith("CascadeLLM.achat"))
    children = {s.id_.split("-")[0] for s in handler.completed_spans if s.parent_id == cascade.id_}
    assert {"OpenAI.astream_chat", "CascadeMember.stream"} <= children
