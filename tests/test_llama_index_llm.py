"""`CascadeLLM` end to end: the real engine and openai SDK against the loopback replay server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.base.llms.base import BaseLLM
from llama_index.core.base.llms.types import (
    ChatMessage,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatStartEvent,
    LLMCompletionStartEvent,
)
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool, ToolMetadata
from pydantic import BaseModel, Field

from cascadeflow_integrations import CascadeAgent, ModelConfig
from cascadeflow_integrations.errors import ProviderError
from cascadeflow_integrations.llama_index import (
    CascadeCompleteEvent,
    CascadeDecisionEvent,
    CascadeErrorEvent,
    CascadeEvent,
    CascadeLLM,
    CascadeRoutingEvent,
    CascadeSwitchEvent,
    to_universal_tools,
)
from cascadeflow_integrations.replay import ReplayServer, Reply
from cascadeflow_integrations.replay.wire import error_body, openai_stream, words

CHEAP, STRONG = "gpt-4o-mini", "gpt-4o"
DRAFT, ANSWER = "Wrong draft about Lyon.", "Paris is the capital of France."
Q = [ChatMessage(role=MessageRole.USER, content="What is the capital of France?")]


def accept(request: Any, draft: Any) -> bool:
    return True


def reject(request: Any, draft: Any) -> bool:
    return False


@pytest.fixture
def server(module_replay_server):
    return module_replay_server


def cfg(server: ReplayServer, name: str, **kw: Any) -> ModelConfig:
    return ModelConfig(name=name, provider="openai", base_url=server.openai_url, api_key="sk-test-not-a-real-key",
                       max_retries=0, **kw)


def make_llm(server: ReplayServer, validator: Any = accept, **kw: Any) -> CascadeLLM:
    return CascadeLLM([cfg(server, CHEAP, cost=0.0006), cfg(server, STRONG, cost=0.01)], validator=validator, **kw)


def say(server: ReplayServer, name: str, text: str = "", usage: tuple[int, int] = (20, 10), *,
        tool_calls: list[tuple[str, str, str]] = (), delay: float = 0.0) -> None:
    pieces = words(text) if text else []
    server.add(name, Reply(events=openai_stream(name, pieces, tool_calls=tool_calls, usage=usage), delay=delay))


def escalation(server: ReplayServer) -> None:
    say(server, CHEAP, DRAFT, usage=(12, 5))
    say(server, STRONG, ANSWER, usage=(12, 7))


class Collect(BaseEventHandler):
    events: list[BaseEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "Collect"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)

    def of(self, *types: type) -> list[BaseEvent]:
        return [e for e in self.events if isinstance(e, types)]


@pytest.fixture
def handler():
    root = get_dispatcher()
    h = Collect()
    root.add_event_handler(h)
    yield h
    root.event_handlers.remove(h)


# ---- construction and metadata -------------------------------------------------------------------


def test_is_a_llama_index_llm_with_chain_metadata(server):
    llm = CascadeLLM([cfg(server, CHEAP), cfg(server, STRONG)])
    assert BaseLLM.__name__ in [b.__name__ for b in type(llm).__mro__]
    md = llm.metadata
    assert md.is_chat_model and md.is_function_calling_model
    assert md.model_name == "cascade(gpt-4o-mini→gpt-4o)"
    assert (md.context_window, md.num_output) == (128_000, 16_384)
    assert llm.class_name() == "CascadeLLM" and llm.to_payload()["model_name"] == md.model_name


def test_metadata_is_what_every_model_can_honour(server):
    llm = CascadeLLM([cfg(server, "small", context_window=8_000, max_output_tokens=2_000),
                      cfg(server, STRONG, context_window=32_000, max_output_tokens=1_000)])
    assert (llm.metadata.context_window, llm.metadata.num_output) == (8_000, 1_000)
    unknown = CascadeLLM([cfg(server, "my-local-model"), cfg(server, STRONG)], max_tokens=100)
    assert unknown.metadata.context_window == 3_900  # LlamaIndex's default when nothing is known
    assert unknown.metadata.num_output == 100


def test_construction_errors(server):
    with pytest.raises(ValueError, match="models="):
        CascadeLLM()
    agent = CascadeAgent([cfg(server, CHEAP), cfg(server, STRONG)])
    with pytest.raises(ValueError, match="not both"):
        CascadeLLM([cfg(server, CHEAP)], agent=agent)
    with pytest.raises(ValueError, match="buffered"):
        CascadeLLM([cfg(server, CHEAP)], streaming_mode="optimistic")
    with pytest.raises(ValueError):
        CascadeLLM([cfg(server, CHEAP)], temperature=5)
    assert CascadeLLM(agent=agent).agent is agent


def test_built_from_an_agent(server):
    say(server, STRONG, ANSWER)
    llm = CascadeLLM(agent=CascadeAgent([cfg(server, STRONG)]))
    assert llm.chat(Q).message.content == ANSWER


# ---- chat / complete, sync and async --------------------------------------------------------------


def test_chat_escalates_and_reports_the_cascade(server):
    escalation(server)
    r = make_llm(server, validator=reject).chat(Q)
    assert r.message.role == MessageRole.ASSISTANT and r.message.content == ANSWER
    info = r.additional_kwargs["cascade"]
    assert info is r.raw["cascade"]
    assert info["model_used"] == STRONG and info["draft_accepted"] is False and info["cascaded"] is True
    assert info["reason"] and info["decisions"][0]["accepted"] is False
    assert info["total_cost"] == pytest.approx(17 * 0.0006 / 1000 + 19 * 0.01 / 1000)
    assert info["cost_saved"] == pytest.approx(info["baseline_cost"] - info["total_cost"])
    assert r.raw["usage"] == {"prompt_tokens": 24, "completion_tokens": 12, "total_tokens": 36}
    assert r.additional_kwargs["prompt_tokens"] == 24


async def test_sync_methods_work_inside_a_running_loop(server):
    # Jupyter and LangGraph call sync entry points while an event loop is running in this thread.
    escalation(server)
    llm = make_llm(server, validator=reject)
    assert llm.chat(Q).message.content == ANSWER
    escalation(server)
    deltas = [r.delta for r in llm.stream_chat(Q)]
    assert "".join(d for d in deltas if d) == ANSWER


async def test_achat_accepts_the_draft(server):
    say(server, CHEAP, ANSWER)
    r = await make_llm(server).achat(Q)
    assert r.message.content == ANSWER
    assert r.additional_kwargs["cascade"]["draft_accepted"] is True
    assert server.pending() == []


@pytest.mark.parametrize("mode", ["buffered", "guarded"])
def test_stream_chat_never_streams_a_rejected_draft(server, mode):
    escalation(server)
    chunks = list(make_llm(server, validator=reject, streaming_mode=mode).stream_chat(Q))
    assert all(c.delta is not None for c in chunks)
    assert "".join(c.delta for c in chunks) == ANSWER
    assert all("Lyon" not in c.delta and "Lyon" not in (c.message.content or "") for c in chunks)
    # cumulative message, incremental delta; the last response holds everything
    assert [c.message.content for c in chunks[:2]] == ["Paris", "Paris is"]
    assert chunks[-1].message.content == ANSWER and chunks[-1].raw["usage"]["total_tokens"] == 36


async def test_astream_chat_is_async_and_never_streams_a_rejected_draft(server):
    say(server, CHEAP, DRAFT, delay=0.02)
    say(server, STRONG, ANSWER, delay=0.02)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    gen = await make_llm(server, validator=reject).astream_chat(Q)
    deltas = [c.delta async for c in gen]
    task.cancel()
    assert "".join(deltas) == ANSWER
    assert ticks > 5  # the event loop kept running while the cascade streamed


def test_complete_and_stream_complete(server):
    say(server, CHEAP, ANSWER)
    escalation(server)
    llm = make_llm(server, validator=lambda req, d: d.model == CHEAP and "Lyon" not in d.text)
    r = llm.complete("What is the capital of France?")
    assert r.text == ANSWER and r.raw["cascade"]["draft_accepted"] is True
    chunks = list(llm.stream_complete("What is the capital of France?"))
    assert "".join(c.delta for c in chunks) == ANSWER and chunks[-1].text == ANSWER


async def test_acomplete_and_astream_complete(server):
    say(server, CHEAP, ANSWER)
    say(server, CHEAP, ANSWER)
    llm = make_llm(server)
    assert (await llm.acomplete("capital?")).text == ANSWER
    chunks = [c async for c in await llm.astream_complete("capital?")]
    assert "".join(c.delta for c in chunks) == ANSWER and chunks[-1].text == ANSWER


def test_provider_error_raises_after_an_error_event(server, handler):
    server.add(CHEAP, Reply(status=429, body=error_body("openai", 429, "slow down", "rate_limit_error")))
    server.add(STRONG, Reply(status=400, body=error_body("openai", 400, "bad request", "invalid_request_error")))
    with pytest.raises(ProviderError):
        make_llm(server).chat(Q)
    (err,) = handler.of(CascadeErrorEvent)
    assert err.model == STRONG and err.error_type and err.span_id.startswith("CascadeLLM.chat-")


# ---- usage and events ------------------------------------------------------------------------------


def test_token_counting_handler_sees_the_cascade_usage(server):
    counter = TokenCountingHandler(tokenizer=str.split)  # a local tokenizer: tiktoken would download
    escalation(server)
    escalation(server)
    say(server, CHEAP, ANSWER, usage=(9, 4))
    llm = make_llm(server, validator=lambda req, d: "Lyon" not in d.text, callback_manager=CallbackManager([counter]))
    llm.chat(Q)
    list(llm.stream_chat(Q))
    llm.complete("capital?")
    assert [(e.prompt_token_count, e.completion_token_count) for e in counter.llm_token_counts] == [
        (24, 12), (24, 12), (9, 4)]
    assert counter.total_llm_token_count == 36 + 36 + 13


def _check_events(handler: Collect, span_prefix: str, escalated: bool = True) -> None:
    cascade = handler.of(CascadeEvent)
    kinds = [type(e) for e in cascade]
    expected = [CascadeRoutingEvent, CascadeDecisionEvent]
    expected += [CascadeSwitchEvent, CascadeCompleteEvent] if escalated else [CascadeCompleteEvent]
    assert kinds == expected
    (start,) = handler.of(LLMChatStartEvent, LLMCompletionStartEvent)
    assert start.span_id.startswith(span_prefix)
    assert {e.span_id for e in cascade} == {start.span_id}


def test_events_reach_a_handler_inside_the_chat_span(server, handler):
    escalation(server)
    make_llm(server, validator=reject).chat(Q)
    _check_events(handler, "CascadeLLM.chat-")
    routing, decision, switch, complete = handler.of(CascadeEvent)
    assert routing.strategy == "cascade" and routing.models == [CHEAP, STRONG]
    assert decision.model == CHEAP and decision.accepted is False and decision.details["level"] == 0
    assert (switch.from_model, switch.to_model, switch.reason) == (CHEAP, STRONG, "quality_failed")
    assert complete.model_used == STRONG and complete.result["content"] == ANSWER
    assert complete.class_name() == "CascadeCompleteEvent" and complete.model_dump()["class_name"]


def test_events_in_the_stream_chat_span(server, handler):
    escalation(server)
    list(make_llm(server, validator=reject).stream_chat(Q))
    _check_events(handler, "CascadeLLM.stream_chat-")


async def test_events_in_the_astream_chat_span(server, handler):
    say(server, CHEAP, ANSWER)
    gen = await make_llm(server).astream_chat(Q)
    [c async for c in gen]
    _check_events(handler, "CascadeLLM.astream_chat-", escalated=False)


async def test_events_in_the_acomplete_span(server, handler):
    say(server, CHEAP, ANSWER)
    await make_llm(server).acomplete("capital?")
    _check_events(handler, "CascadeLLM.acomplete-", escalated=False)


# ---- bad input -------------------------------------------------------------------------------------


def test_bad_input_raises_value_error_before_any_request(server):
    llm = make_llm(server)
    with pytest.raises(ValueError, match="no messages"):
        llm.chat([])
    with pytest.raises(ValueError, match="no messages"):
        llm.stream_chat([])
    nameless = FunctionTool(fn=lambda: 1, metadata=ToolMetadata(name="", description="d"))
    with pytest.raises(ValueError, match="no name"):
        llm.chat_with_tools([nameless], user_msg="hi")
    with pytest.raises(ValueError, match="tool_call_id"):
        llm.chat([*Q, ChatMessage(role=MessageRole.TOOL, content="42")])
    with pytest.raises(ValueError, match="streaming_mode"):
        llm.chat(Q, streaming_mode="optimistic")
    assert server.stats.requests == []


async def test_bad_input_raises_in_async_calls_too(server):
    llm = make_llm(server)
    with pytest.raises(ValueError, match="no messages"):
        await llm.achat([])
    with pytest.raises(ValueError, match="no messages"):
        await llm.astream_chat([])
    assert server.stats.requests == []


# ---- tools -----------------------------------------------------------------------------------------


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def test_tools_convert_to_the_universal_format():
    (tool,) = to_universal_tools([FunctionTool.from_defaults(fn=multiply)])
    assert tool["name"] == "multiply" and "Multiply two integers." in tool["description"]
    assert tool["parameters"]["properties"].keys() == {"a", "b"}
    assert tool["parameters"]["required"] == ["a", "b"]


def test_chat_with_tools_round_trip(server):
    say(server, CHEAP, tool_calls=[("call_1", "multiply", '{"a": 6, "b": 7}'), ("call_2", "multiply", '{"a": 1, "b": 2}')])
    say(server, CHEAP, "6 times 7 is 42.")
    llm = make_llm(server)
    tool = FunctionTool.from_defaults(fn=multiply)
    r = llm.chat_with_tools([tool], user_msg="What is 6 x 7?", tool_required=True)
    body = server.stats.requests[0]
    assert body["tools"][0]["function"]["name"] == "multiply"
    assert body["tool_choice"] == "required" and body["parallel_tool_calls"] is False
    # parallel calls not allowed: only the first is kept
    (sel,) = llm.get_tool_calls_from_response(r)
    assert (sel.tool_id, sel.tool_name, sel.tool_kwargs) == ("call_1", "multiply", {"a": 6, "b": 7})

    history = [ChatMessage(role=MessageRole.USER, content="What is 6 x 7?"), r.message,
               ChatMessage(role=MessageRole.TOOL, content="42", additional_kwargs={"tool_call_id": "call_1"})]
    final = llm.chat_with_tools([tool], chat_history=history)
    assert final.message.content == "6 times 7 is 42."
    assert llm.get_tool_calls_from_response(final, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="tool call"):
        llm.get_tool_calls_from_response(final)
    sent = server.stats.requests[1]["messages"]
    assert sent[1]["role"] == "assistant"
    assert [c["id"] for c in sent[1]["tool_calls"]] == ["call_1"]
    assert json.loads(sent[1]["tool_calls"][0]["function"]["arguments"]) == {"a": 6, "b": 7}
    assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": "42"}
    assert server.stats.requests[1]["tool_choice"] == "auto"


def test_tool_choice_by_name_and_parallel_calls(server):
    say(server, CHEAP, tool_calls=[("c1", "multiply", '{"a": 1, "b": 2}'), ("c2", "multiply", '{"a": 3, "b": 4}')])
    llm = make_llm(server)
    r = llm.chat_with_tools([FunctionTool.from_defaults(fn=multiply)], user_msg="two products",
                            allow_parallel_tool_calls=True, tool_choice="multiply")
    assert [s.tool_id for s in llm.get_tool_calls_from_response(r)] == ["c1", "c2"]
    body = server.stats.requests[0]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "multiply"}}
    assert body["parallel_tool_calls"] is True


async def test_streamed_tool_calls_end_with_every_call(server):
    say(server, CHEAP, tool_calls=[("c1", "multiply", '{"a": 12, "b": 34}'), ("c2", "multiply", '{"a": 5, "b": 6}')])
    llm = make_llm(server)
    gen = await llm.astream_chat_with_tools([FunctionTool.from_defaults(fn=multiply)], user_msg="products",
                                            allow_parallel_tool_calls=True)
    chunks = [c async for c in gen]
    assert all(c.delta == "" for c in chunks)
    for c in chunks:  # partial arguments never raise
        llm.get_tool_calls_from_response(c, error_on_no_tool_call=False)
    last = llm.get_tool_calls_from_response(chunks[-1])
    assert [(s.tool_id, s.tool_kwargs) for s in last] == [("c1", {"a": 12, "b": 34}), ("c2", {"a": 5, "b": 6})]


def test_history_with_legacy_tool_calls_and_text_blocks(server):
    say(server, CHEAP, "ok")
    legacy = ChatMessage(role=MessageRole.ASSISTANT, content="", additional_kwargs={"tool_calls": [
        {"id": "c9", "type": "function", "function": {"name": "multiply", "arguments": '{"a": 2, "b": 2}'}}]})
    blocks = ChatMessage(role=MessageRole.USER, blocks=[TextBlock(text="line one"), TextBlock(text="line two")])
    make_llm(server).chat([ChatMessage(role=MessageRole.SYSTEM, content="Be brief."), blocks, legacy,
                           ChatMessage(role=MessageRole.TOOL, content="4", additional_kwargs={"tool_call_id": "c9"})])
    sent = server.stats.requests[0]["messages"]
    assert sent[0] == {"role": "system", "content": "Be brief."}
    assert sent[1] == {"role": "user", "content": "line one\nline two"}
    assert sent[2]["tool_calls"][0]["id"] == "c9" and sent[3]["tool_call_id"] == "c9"


def test_tool_call_block_with_string_kwargs_is_sent_verbatim(server):
    say(server, CHEAP, "ok")
    msg = ChatMessage(role=MessageRole.ASSISTANT, blocks=[
        ToolCallBlock(tool_call_id="c1", tool_name="multiply", tool_kwargs='{"a":1,"b":2}')])
    make_llm(server).chat([*Q, msg, ChatMessage(role="tool", content="2", additional_kwargs={"tool_call_id": "c1"})])
    sent = server.stats.requests[0]["messages"]
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == '{"a":1,"b":2}'


# ---- structured output -----------------------------------------------------------------------------


class Album(BaseModel):
    """An album."""

    title: str
    year: int


ALBUM_ARGS = '{"title": "Kind of Blue", "year": 1959}'


def test_structured_predict_escalates_a_bad_draft(server):
    say(server, CHEAP, tool_calls=[("c1", "Album", '{"title": "Kind of Blue"}')])
    say(server, STRONG, tool_calls=[("c2", "Album", ALBUM_ARGS)])

    def complete_args(request: Any, draft: Any) -> bool:
        return all("year" in c.arguments for c in draft.tool_calls)

    llm = make_llm(server, validator=complete_args)
    album = llm.structured_predict(Album, PromptTemplate("Describe the album {name}."), name="Kind of Blue")
    assert album == Album(title="Kind of Blue", year=1959)
    assert server.stats.requests[0]["tool_choice"] == "required"


async def test_astructured_predict_and_as_structured_llm(server):
    say(server, CHEAP, tool_calls=[("c1", "Album", ALBUM_ARGS)])
    say(server, CHEAP, tool_calls=[("c2", "Album", ALBUM_ARGS)])
    llm = make_llm(server)
    album = await llm.astructured_predict(Album, PromptTemplate("Describe {name}."), name="Kind of Blue")
    assert album.year == 1959
    sllm = llm.as_structured_llm(Album)
    r = await sllm.achat([ChatMessage(role=MessageRole.USER, content="Describe Kind of Blue.")])
    assert r.raw == Album(title="Kind of Blue", year=1959)


# Streamed structured output: llama-index-core's parser reads each partial response's
# additional_kwargs["tool_calls"]; without them every streamed object had every field None.


def _album_stream(server: ReplayServer) -> None:
    say(server, CHEAP, tool_calls=[("c1", "Album", ALBUM_ARGS)])


def _last_album(objs: list[Any]) -> Any:
    assert objs, "no partial objects were streamed"
    last = objs[-1]
    return last.raw if hasattr(last, "raw") else last


def test_stream_structured_predict_yields_the_tool_call_arguments(server):
    _album_stream(server)
    objs = list(make_llm(server).stream_structured_predict(Album, PromptTemplate("Describe {name}."),
                                                           name="Kind of Blue"))
    assert _last_album(objs) == Album(title="Kind of Blue", year=1959)


async def test_astream_structured_predict_yields_the_tool_call_arguments(server):
    _album_stream(server)
    gen = await make_llm(server).astream_structured_predict(Album, PromptTemplate("Describe {name}."),
                                                            name="Kind of Blue")
    objs = [o async for o in gen]
    assert _last_album(objs) == Album(title="Kind of Blue", year=1959)


def test_structured_llm_stream_chat_yields_the_object(server):
    _album_stream(server)
    sllm = make_llm(server).as_structured_llm(Album)
    responses = list(sllm.stream_chat([ChatMessage(role=MessageRole.USER, content="Describe Kind of Blue.")]))
    assert _last_album(responses) == Album(title="Kind of Blue", year=1959)
    assert json.loads(responses[-1].message.content) == {"title": "Kind of Blue", "year": 1959}


async def test_structured_llm_astream_chat_yields_the_object(server):
    _album_stream(server)
    sllm = make_llm(server).as_structured_llm(Album)
    gen = await sllm.astream_chat([ChatMessage(role=MessageRole.USER, content="Describe Kind of Blue.")])
    responses = [r async for r in gen]
    assert _last_album(responses) == Album(title="Kind of Blue", year=1959)


def test_streamed_responses_carry_tool_calls_in_additional_kwargs(server):
    _album_stream(server)
    tool = FunctionTool.from_defaults(fn=multiply)
    last = list(make_llm(server).stream_chat_with_tools([tool], user_msg="hi"))[-1]
    (call,) = last.message.additional_kwargs["tool_calls"]
    assert call["id"] == "c1" and call["function"]["name"] == "Album"
    assert json.loads(call["function"]["arguments"]) == {"title": "Kind of Blue", "year": 1959}


# ---- bad fields fail at construction, with the same rules as per-call options ------------------------


@pytest.mark.parametrize(("field", "value", "fragment"), [
    ("temperature", 5, "temperature must be a number between 0 and 2"),
    ("temperature", "0.5", "temperature must be a number"),
    ("max_tokens", True, "max_tokens must be a positive integer"),
    ("timeout", "5", "timeout must be a number of seconds"),
    ("draft_timeout", 0, "draft_timeout must be a number of seconds"),
    ("quality_threshold", "high", "quality_threshold must be a number"),
    ("complexity_hint", "easy", "complexity_hint"),
    ("validator", 42, "neither a Validator nor a function"),
])
def test_bad_field_fails_at_construction(server, field, value, fragment):
    with pytest.raises(ValueError, match=fragment):
        make_llm(server, **{field: value}) if field != "validator" else make_llm(server, validator=value)
    assert server.stats.requests == []


def test_empty_user_message_and_orphan_tool_result_send_nothing(server):
    llm = make_llm(server)
    with pytest.raises(ValueError, match="empty or only whitespace"):
        llm.chat([ChatMessage(role=MessageRole.USER, content=" ")])
    orphan = ChatMessage(role=MessageRole.TOOL, content="42", additional_kwargs={"tool_call_id": "c9"})
    with pytest.raises(ValueError, match="does not follow an assistant message"):
        llm.chat([*Q, orphan])
    assert server.stats.requests == []
