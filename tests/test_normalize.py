"""models/normalize.py: one finish-reason table, one logprob reader, one tool-call accumulator, and each
place that used to keep its own copy (providers, members, `drain`, LangChain child runs, the engine)
still behaving as before. Provider and member calls go through the real SDKs to the loopback replay server.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any
from uuid import uuid4

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.callbacks import AsyncCallbackManager, BaseCallbackHandler
from langchain_openai import ChatOpenAI
from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from replay_helpers import accept, model

from cascadeflow_integrations import CascadeAgent
from cascadeflow_integrations.langchain import LangChainMember
from cascadeflow_integrations.langchain.runs import LangChainRunContext
from cascadeflow_integrations.llama_index import members as llama_members
from cascadeflow_integrations.models.members import BaseMember, SDKMember, drain
from cascadeflow_integrations.models.normalize import (
    FINISH_REASONS,
    PartialCall,
    ToolCallAccumulator,
    chat_logprobs,
    finish_reason,
)
from cascadeflow_integrations.providers import create_provider
from cascadeflow_integrations.replay import Reply, ReplayServer
from cascadeflow_integrations.replay.wire import anthropic_body, anthropic_stream, openai_stream, words
from cascadeflow_integrations.tools.call import ToolCallFormat
from cascadeflow_integrations.types import (
    ChatRequest,
    Delta,
    FinishDelta,
    Message,
    TextDelta,
    TokenLogprob,
    ToolCallDelta,
    Usage,
    UsageDelta,
)

module_loop = pytest.mark.asyncio(loop_scope="module")  # LangChain's shared clients stay on one loop
KEY = "sk-test-not-a-real-key"
GPT = "gpt-4o-mini"
CLAUDE = "claude-haiku-4-5"

# ---- the table: what each of the four former maps handled, still mapped the same ------------------

#: the maps as they were (OpenAI/Groq provider, Anthropic provider, LangChain member, LlamaIndex member)
OLD_MAPS = {
    "openai": {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "function_call": "tool_calls",
               "content_filter": "content_filter", "refusal": "refusal"},
    "anthropic": {"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
                  "model_context_window_exceeded": "length", "tool_use": "tool_calls", "refusal": "refusal"},
    "langchain": {"stop": "stop", "end_turn": "stop", "stop_sequence": "stop", "STOP": "stop", "length": "length",
                  "max_tokens": "length", "MAX_TOKENS": "length", "tool_calls": "tool_calls",
                  "tool_use": "tool_calls", "function_call": "tool_calls", "content_filter": "content_filter",
                  "refusal": "refusal"},
    "llama_index": {"stop": "stop", "end_turn": "stop", "stop_sequence": "stop", "length": "length",
                    "max_tokens": "length", "tool_calls": "tool_calls", "tool_use": "tool_calls",
                    "function_call": "tool_calls", "content_filter": "content_filter", "refusal": "refusal"},
}
SPELLINGS = sorted({(site, raw, ours) for site, m in OLD_MAPS.items() for raw, ours in m.items()})


@pytest.mark.parametrize(("site", "raw", "ours"), SPELLINGS)
def test_every_spelling_a_site_handled_maps_as_before(site: str, raw: str, ours: str) -> None:
    assert finish_reason(raw) == ours


def test_the_table_is_exactly_the_union_of_the_old_maps() -> None:
    union = {raw: ours for m in OLD_MAPS.values() for raw, ours in m.items()}
    assert FINISH_REASONS == union
    assert set(FINISH_REASONS.values()) == {"stop", "length", "tool_calls", "content_filter", "refusal"}


@pytest.mark.parametrize("raw", ["SAFETY", "weird_reason", "eos", "Stop"])
def test_an_unknown_reason_is_stop_as_at_every_site(raw: str) -> None:
    assert finish_reason(raw) == "stop"


@pytest.mark.parametrize("raw", [None, ""])
def test_no_reason_is_none_and_each_caller_picks_its_default(raw: Any) -> None:
    assert finish_reason(raw) is None
    assert finish_reason(raw, refused=True) == "refusal"  # OpenAI: a refusal with no finish_reason


def test_a_refusal_ends_with_stop_on_the_wire_but_other_reasons_win() -> None:
    assert finish_reason("stop", refused=True) == "refusal"
    assert finish_reason("length", refused=True) == "length"
    assert finish_reason("tool_calls", refused=True) == "tool_calls"


def test_a_reason_that_is_not_a_string_is_read_as_its_text() -> None:
    class Reason:
        def __str__(self) -> str:
            return "max_tokens"

    assert finish_reason(Reason()) == "length"
    assert finish_reason(7) == "stop"


# ---- logprobs ------------------------------------------------------------------------------------


def test_chat_completions_logprobs_with_their_alternatives() -> None:
    lp = {"content": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105],
                       "top_logprobs": [{"token": "Hi", "logprob": -0.1}, {"token": "Hey", "logprob": -2.5}]},
                      {"token": "!", "logprob": -0.5, "top_logprobs": None}], "refusal": None}
    assert chat_logprobs(lp) == [TokenLogprob("Hi", -0.1, [("Hi", -0.1), ("Hey", -2.5)]), TokenLogprob("!", -0.5)]


@pytest.mark.parametrize("lp", [None, {}, {"content": []}, {"content": None}, "not a dict", [1]])
def test_no_logprobs_is_none(lp: Any) -> None:
    assert chat_logprobs(lp) is None


# ---- the accumulator -----------------------------------------------------------------------------


def test_accumulator_merges_by_index_and_yields_calls_in_index_order() -> None:
    acc = ToolCallAccumulator(PartialCall)
    for d in [ToolCallDelta(1, "call_b", "lookup", '{"q": '), ToolCallDelta(0, "call_a", "add", ""),
              ToolCallDelta(1, None, None, '"x"}'), ToolCallDelta(0, "", "", '{"a": 1}')]:
        acc.add(d)
    calls = acc.calls()
    assert [(c.id, c.name, c.arguments) for c in calls] == [("call_a", "add", {"a": 1}),
                                                            ("call_b", "lookup", {"q": "x"})]
    assert [c.provider_format for c in calls] == [ToolCallFormat.OPENAI] * 2
    assert [p.index for p in acc.ordered()] == [0, 1]


def test_a_later_non_empty_id_or_name_replaces_the_one_held() -> None:
    acc = ToolCallAccumulator(PartialCall)
    acc.add(ToolCallDelta(0, None, None, "{"))  # arguments before the id and name (some servers)
    acc.add(ToolCallDelta(0, "call_1", "first", ""))
    acc.add(ToolCallDelta(0, "call_2", "second", "}"))
    (call,) = acc.calls(ToolCallFormat.GROQ)
    assert (call.id, call.name, call.raw_arguments, call.provider_format) == ("call_2", "second", "{}",
                                                                             ToolCallFormat.GROQ)


def test_arguments_that_are_not_json_stay_readable() -> None:
    acc = ToolCallAccumulator(PartialCall)
    acc.add(ToolCallDelta(0, "c", "f", '{"a": '))
    (call,) = acc.calls()
    assert call.arguments == {} and call.raw_arguments == '{"a": ' and call.parse_error


def test_the_factory_makes_each_call_once_and_add_returns_it() -> None:
    made: list[int] = []

    class Tagged(PartialCall):
        __slots__ = ("tag",)

        def __init__(self, index: int) -> None:
            super().__init__(index)
            made.append(index)
            self.tag = f"t{index}"

    acc: ToolCallAccumulator[Tagged] = ToolCallAccumulator(Tagged)
    first = acc.add(ToolCallDelta(3, "c", "f", "{"))
    again = acc.add(ToolCallDelta(3, None, None, "}"))
    assert first is again and first.tag == "t3" and made == [3] and acc.calls()[0].arguments == {}
    assert ToolCallAccumulator(PartialCall).calls() == []


# ---- call sites: the SDK providers over real HTTP ------------------------------------------------


def _chunk(model_name: str, delta: dict[str, Any], finish: str | None = None, index: int = 0) -> str:
    return "data: " + json.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                                  "model": model_name, "choices": [{"index": index, "delta": delta, "logprobs": None,
                                                                    "finish_reason": finish}], "usage": None})


def _usage_chunk(model_name: str) -> str:
    return "data: " + json.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                                  "model": model_name, "choices": [],
                                  "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})


def _request(**kw: Any) -> ChatRequest:
    return ChatRequest([Message("user", "Q?")], **kw)


async def _deltas(stream: AsyncGenerator[Delta, None]) -> list[Delta]:
    return [d async for d in stream]


async def test_openai_stream_refusal_and_unknown_reason(module_replay_server: ReplayServer) -> None:
    s = module_replay_server
    s.add(GPT, Reply(events=[_chunk(GPT, {"role": "assistant", "content": None, "refusal": ""}),
                             _chunk(GPT, {"refusal": "I can't help with that."}), _chunk(GPT, {}, "stop"),
                             _usage_chunk(GPT), "data: [DONE]"]))
    s.add(GPT, Reply(events=openai_stream(GPT, words("Cut"), finish="some_new_reason")))
    s.add(GPT, Reply(events=openai_stream(GPT, words("Cut"), finish="length")))
    p = create_provider(model(s, GPT))
    refused = await _deltas(p.stream(_request()))
    assert [d.text for d in refused if isinstance(d, TextDelta)] == ["I can't help with that."]
    assert refused[-1] == FinishDelta("refusal")
    assert (await _deltas(p.stream(_request())))[-1] == FinishDelta("stop")
    assert (await _deltas(p.stream(_request())))[-1] == FinishDelta("length")
    await p.aclose()


async def test_openai_complete_refusal_and_logprobs(module_replay_server: ReplayServer) -> None:
    s = module_replay_server
    lp = {"content": [{"token": "No", "logprob": -0.2, "top_logprobs": [{"token": "No", "logprob": -0.2}]}]}
    body = {"id": "chatcmpl-2", "object": "chat.completion", "created": 1, "model": GPT,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "refusal": "No."},
                         "logprobs": lp, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}
    s.add(GPT, Reply(body=json.dumps(body)))
    p = create_provider(model(s, GPT))
    out = await p.complete(_request(logprobs=True))
    assert (out.text, out.finish_reason) == ("No.", "refusal")
    assert out.logprobs == [TokenLogprob("No", -0.2, [("No", -0.2)])]
    await p.aclose()


async def test_openai_samples_assemble_each_choices_tool_calls(module_replay_server: ReplayServer) -> None:
    s = module_replay_server

    def call(index: int, cid: str | None, name: str | None, args: str) -> dict[str, Any]:
        fn: dict[str, Any] = {"arguments": args}
        if name is not None:
            fn["name"] = name
        return {"tool_calls": [{"index": index, **({"id": cid} if cid is not None else {}), "function": fn}]}

    events = [_chunk(GPT, call(1, "b1", "lookup", '{"q":'), index=0), _chunk(GPT, call(0, "c1", "add", "{"), index=1),
              _chunk(GPT, call(0, "a0", "add", '{"x":1}'), index=0), _chunk(GPT, call(0, "", "", "}"), index=1),
              _chunk(GPT, call(1, None, None, '"z"}'), index=0),
              _chunk(GPT, {}, "tool_calls", index=0), _chunk(GPT, {}, "tool_calls", index=1),
              _usage_chunk(GPT), "data: [DONE]"]
    s.add(GPT, Reply(events=events))
    p = create_provider(model(s, GPT))
    out = await p.sample(_request(), 2)
    assert [[(c.id, c.name, c.arguments) for c in comp.tool_calls] for comp in out.completions] == [
        [("a0", "add", {"x": 1}), ("b1", "lookup", {"q": "z"})], [("c1", "add", {})]]
    assert [comp.finish_reason for comp in out.completions] == ["tool_calls", "tool_calls"]
    await p.aclose()


@pytest.mark.parametrize(("stop", "ours"), [("max_tokens", "length"), ("pause_turn", "stop"), ("refusal", "refusal"),
                                            ("model_context_window_exceeded", "length"), ("end_turn", "stop"),
                                            ("brand_new_reason", "stop")])
async def test_anthropic_stream_and_complete_reasons(module_replay_server: ReplayServer, stop: str, ours: str) -> None:
    s = module_replay_server
    s.add(CLAUDE, Reply(events=anthropic_stream(CLAUDE, words("Some text"), stop=stop)))
    s.add(CLAUDE, Reply(body=anthropic_body(CLAUDE, "Some text", stop=stop)))
    p = create_provider(model(s, CLAUDE, provider="anthropic"))
    assert (await _deltas(p.stream(_request())))[-1] == FinishDelta(ours)
    assert (await p.complete(_request())).finish_reason == ours
    await p.aclose()


async def test_anthropic_complete_without_a_stop_reason_is_stop(module_replay_server: ReplayServer) -> None:
    s = module_replay_server
    body = json.loads(anthropic_body(CLAUDE, "Hi"))
    body["stop_reason"] = None
    s.add(CLAUDE, Reply(body=json.dumps(body)))
    p = create_provider(model(s, CLAUDE, provider="anthropic"))
    assert (await p.complete(_request())).finish_reason == "stop"
    await p.aclose()


# ---- call sites: drain, the engine, LangChain child runs -----------------------------------------

#: two parallel calls, the second's fragments first, a repeated call with an empty id and name
PARALLEL = [ToolCallDelta(1, "call_2", "lookup", ""), ToolCallDelta(1, None, None, '{"q": "x"}'),
            ToolCallDelta(0, "call_1", "add", '{"a": '), ToolCallDelta(0, "", "", "1}")]


class ScriptMember(BaseMember):
    """A member that streams the deltas it is given (a framework model would translate its own chunks)."""

    def __init__(self, deltas: list[Delta], name: str = "script") -> None:
        super().__init__(name=name, provider="script", label=name)
        self.deltas = deltas

    async def stream(self, request: ChatRequest) -> AsyncGenerator[Delta, None]:
        for d in self.deltas:
            yield d


async def test_drain_joins_text_logprobs_and_tool_calls_in_index_order() -> None:
    lp = [TokenLogprob("a", -0.1)]
    out = await ScriptMember([TextDelta("a", lp), TextDelta("b"), *PARALLEL, UsageDelta(Usage(3, 2)),
                              FinishDelta("tool_calls")]).complete(_request())
    assert (out.text, out.logprobs, out.finish_reason, out.usage) == ("ab", lp, "tool_calls", Usage(3, 2))
    assert [(c.id, c.name, c.arguments) for c in out.tool_calls] == [("call_1", "add", {"a": 1}),
                                                                    ("call_2", "lookup", {"q": "x"})]


async def test_drain_of_no_tool_calls() -> None:
    async def stream() -> AsyncGenerator[Delta, None]:
        yield TextDelta("hi")
        yield FinishDelta("stop")

    out = await drain(stream())
    assert out.tool_calls == [] and out.text == "hi"


async def test_the_engine_keeps_each_calls_id_and_name_and_orders_by_index(module_replay_server: ReplayServer) -> None:
    tools = [{"name": n, "description": n, "parameters": {"type": "object"}} for n in ("add", "lookup")]
    member = ScriptMember([*PARALLEL, UsageDelta(Usage(3, 2)), FinishDelta("tool_calls")])
    agent = CascadeAgent([member, model(module_replay_server, "gpt-4o", cost=0.01)], validator=accept)
    r = await agent.run("Q?", tools=tools)
    assert [(c.id, c.name, c.arguments) for c in r.tool_calls] == [("call_1", "add", {"a": 1}),
                                                                  ("call_2", "lookup", {"q": "x"})]
    assert r.attempts[0].finish_reason == "tool_calls"
    await agent.aclose()


class Ends(BaseCallbackHandler):
    def __init__(self) -> None:
        self.results: list[Any] = []

    def on_llm_end(self, response: Any, **kw: Any) -> None:
        self.results.append(response)


async def test_a_child_run_reports_the_members_tool_calls(module_replay_server: ReplayServer) -> None:
    s = module_replay_server
    s.add(GPT, Reply(events=openai_stream(GPT, tool_calls=[("call_1", "add", '{"a": 1}'),
                                                           ("call_2", "lookup", '{"q": ')])))
    member = SDKMember(model(s, GPT))
    ends = Ends()
    ctx = LangChainRunContext(AsyncCallbackManager(handlers=[ends], inheritable_handlers=[ends]), uuid4())
    request = _request(phase="verifier")
    deltas = await _deltas(ctx.wrap(member, request, member.stream(request)))
    assert deltas[-1] == FinishDelta("tool_calls")
    (result,) = ends.results
    msg = result.generations[0][0].message
    assert [(c["id"], c["name"], c["args"]) for c in msg.tool_calls] == [("call_1", "add", {"a": 1})]
    assert [(c["id"], c["name"], c["args"]) for c in msg.invalid_tool_calls] == [("call_2", "lookup", '{"q": ')]
    assert msg.response_metadata["finish_reason"] == "tool_calls"
    await member.aclose()


# ---- call sites: the LangChain and LlamaIndex members ---------------------------------------------


@module_loop
@pytest.mark.parametrize(("stop", "ours"), [("max_tokens", "length"), ("refusal", "refusal"),
                                            ("something_else", "stop")])
async def test_langchain_member_reads_anthropic_stop_reasons(module_replay_server: ReplayServer, stop: str,
                                                             ours: str) -> None:
    s = module_replay_server
    s.add(CLAUDE, Reply(events=anthropic_stream(CLAUDE, words("Some text"), stop=stop)))
    member = LangChainMember(ChatAnthropic(model=CLAUDE, base_url=s.url, api_key=KEY, max_retries=0))
    assert (await _deltas(member.stream(_request())))[-1] == FinishDelta(ours)


@module_loop
async def test_langchain_member_reads_openai_finish_reasons_and_logprobs(module_replay_server: ReplayServer) -> None:
    s = module_replay_server
    s.add(GPT, Reply(events=openai_stream(GPT, words("Cut short"), finish="length", logprob=-0.3)))
    member = LangChainMember(ChatOpenAI(model=GPT, base_url=s.openai_url, api_key=KEY, max_retries=0, logprobs=True))
    deltas = await _deltas(member.stream(_request(logprobs=True)))
    assert deltas[-1] == FinishDelta("length")
    lps = [lp for d in deltas if isinstance(d, TextDelta) and d.logprobs for lp in d.logprobs]
    assert lps and all(lp.logprob == -0.3 for lp in lps) and "".join(lp.token for lp in lps) == "Cut short"


@pytest.mark.parametrize(("kwargs", "raw", "ours"), [
    ({"stop_reason": "max_tokens"}, None, "length"),
    ({"finish_reason": "content_filter"}, None, "content_filter"),
    ({}, {"choices": [{"finish_reason": "tool_calls"}]}, "tool_calls"),
    ({}, {"choices": [{"finish_reason": "odd"}]}, "stop"),
    ({}, {"choices": [{"finish_reason": None}]}, None),
    ({}, None, None),
])
def test_llama_index_member_reads_the_reason_where_each_llm_puts_it(kwargs: dict[str, Any], raw: Any,
                                                                     ours: str | None) -> None:
    r = ChatResponse(message=ChatMessage(role="assistant", content="x", additional_kwargs=kwargs), raw=raw)
    assert llama_members._finish(r) == ours
