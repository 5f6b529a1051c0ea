"""`ChatCascade` behaviour through the real openai SDK and engine against the loopback replay server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from langchain_scripts import CHEAP, STRONG, configs, reply
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from cascadeflow_integrations.errors import ProviderError
from cascadeflow_integrations.langchain import ChatCascade
from cascadeflow_integrations.quality.base import Decision, ValidationRequest, Validator
from cascadeflow_integrations.replay import ReplayServer, Reply
from cascadeflow_integrations.replay.wire import error_body


@pytest.fixture
def server():
    s = ReplayServer().start()
    yield s
    s.stop()


def accept(request: Any, draft: Any) -> bool:
    return True


def reject(request: Any, draft: Any) -> bool:
    return False


def not_hedging(request: Any, draft: Any) -> bool:
    return "not sure" not in draft.text


def cascade(server: ReplayServer, **kw: Any) -> ChatCascade:
    return ChatCascade(models=configs(server), **kw)


def escalate(server: ReplayServer) -> None:
    server.add(CHEAP, reply(CHEAP, "I am not sure, maybe ten.", usage=(12, 7)))
    server.add(STRONG, reply(STRONG, "Quicksort averages O(n log n).", usage=(12, 9)))


def total(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    out = chunks[0]
    for c in chunks[1:]:
        out = out + c
    return out


# ---- text ---------------------------------------------------------------------------------


def test_invoke_accepted_draft_metadata(server):
    server.add(CHEAP, reply(CHEAP, "Paris is the capital of France.", usage=(14, 8)))
    msg = cascade(server, validator=accept).invoke("What is the capital of France?")
    assert isinstance(msg, AIMessage) and msg.content == "Paris is the capital of France."
    assert msg.usage_metadata == {"input_tokens": 14, "output_tokens": 8, "total_tokens": 22}
    assert msg.response_metadata["model_name"] == CHEAP
    info = msg.response_metadata["cascade"]
    assert info["model_used"] == CHEAP and info["draft_accepted"] is True and info["cascaded"] is False
    assert info["confidence"] == 1.0 and "passed" in info["reason"]
    assert info["total_cost"] == pytest.approx(22 * 0.0004 / 1000)
    assert info["cost_saved"] == pytest.approx(22 * (0.006 - 0.0004) / 1000)
    assert info["models"][CHEAP]["usage"]["total_tokens"] == 22
    json.dumps(msg.response_metadata)  # JSON-friendly
    assert server.pending() == [] and [r["model"] for r in server.stats.requests] == [CHEAP]


async def test_ainvoke_escalation_sums_usage_over_models(server):
    escalate(server)
    msg = await cascade(server, validator=reject).ainvoke("Complexity of quicksort?")
    assert msg.content == "Quicksort averages O(n log n)."
    assert msg.usage_metadata == {"input_tokens": 24, "output_tokens": 16, "total_tokens": 40}
    info = msg.response_metadata["cascade"]
    assert msg.response_metadata["model_name"] == STRONG and info["draft_accepted"] is False
    assert set(info["models"]) == {CHEAP, STRONG} and info["cascaded"] is True
    assert info["decisions"][0]["accepted"] is False


@pytest.mark.parametrize("mode", ["buffered", "guarded"])
def test_stream_never_carries_rejected_draft(server, mode):
    escalate(server)
    chunks = list(cascade(server, validator=reject, streaming_mode=mode).stream("Complexity of quicksort?"))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(c.content for c in chunks) == "Quicksort averages O(n log n)."
    assert not any("sure" in c.content for c in chunks)
    assert [c.chunk_position for c in chunks][-1] == "last"
    assert sum(1 for c in chunks if c.response_metadata.get("model_name")) == 1
    assert sum(1 for c in chunks if c.usage_metadata) == 1
    full = total(chunks)
    assert full.response_metadata["model_name"] == STRONG
    assert full.usage_metadata["total_tokens"] == 40


async def test_astream_releases_accepted_draft(server):
    server.add(CHEAP, reply(CHEAP, "Paris is the capital of France."))
    chunks = [c async for c in cascade(server, validator=accept).astream("Capital of France?")]
    assert "".join(c.content for c in chunks) == "Paris is the capital of France."
    assert len([c for c in chunks if c.content]) == 6  # word by word, not one blob
    assert chunks[-1].chunk_position == "last" and chunks[-1].response_metadata["model_name"] == CHEAP


async def test_astream_chunks_carry_the_message_id_the_base_would_set(server):
    """Text and tool-call chunks come with `BaseChatModel.astream`'s message id (`lc_run-` + the run id) already
    set, so the base skips a pydantic `__setattr__` per token: the chunks must be what it would have made."""
    from uuid import UUID

    run_id = UUID(int=7)
    server.add(CHEAP, reply(CHEAP, "Paris is the capital of France."))
    chunks = [c async for c in cascade(server, validator=accept).astream("Capital?", config={"run_id": run_id})]
    assert {c.id for c in chunks} == {f"lc_run--{run_id}"}
    text = [c for c in chunks if c.content]
    assert len(text) == 6 and all(c.model_fields_set == {"content", "id", "response_metadata"} for c in text)
    server.add(CHEAP, reply(CHEAP, None, [("get_weather", {"city": "Paris"})]))
    llm = cascade(server, validator=accept).bind_tools([get_weather], tool_choice="any")
    calls = [c async for c in llm.astream("Weather?", config={"run_id": run_id})]
    parts = [c for c in calls if c.tool_call_chunks]
    assert parts and {c.id for c in calls} == {f"lc_run--{run_id}"}
    assert all(c.model_fields_set == {"content", "tool_call_chunks", "tool_calls", "invalid_tool_calls", "id",
                                      "response_metadata"} for c in parts)
    # invoke numbers its generation itself: no streamed id reaches it
    server.add(CHEAP, reply(CHEAP, "Paris."))
    msg = await cascade(server, validator=accept).ainvoke("Capital?", config={"run_id": run_id})
    assert msg.id == f"lc_run--{run_id}-0"


class _AbortOnHedge(Validator):
    """Aborts a draft as soon as it hedges (guarded mode)."""

    async def validate(self, request: ValidationRequest, draft: Any, threshold: float) -> Decision:
        return Decision(True, 1.0, 1.0, "ok", threshold)

    def check_partial(self, request: ValidationRequest, partial: Any) -> str | None:
        return "hedging" if "sure" in partial.text else None


async def test_guarded_mode_aborts_draft_early_and_reports_switch(server):
    server.add(CHEAP, reply(CHEAP, "I am not sure at all about this one, sorry, let me ramble on", delay=0.01))
    server.add(STRONG, reply(STRONG, "Quicksort averages O(n log n)."))
    events: list[tuple[str, Any]] = []
    llm = cascade(server, validator=_AbortOnHedge(), streaming_mode="guarded")
    async for ev in llm.astream_events("Complexity of quicksort?", version="v2"):
        if ev["event"] == "on_custom_event":
            events.append((ev["name"], ev["data"]))
        elif ev["event"] == "on_chat_model_stream":
            events.append(("token", ev["data"]["chunk"].content))
    switch = next(d for n, d in events if n == "cascade_switch")
    assert switch["reason"] == "aborted"
    drafts = [d["text"] for n, d in events if n == "cascade_draft_chunk"]
    assert "".join(drafts).startswith("I am not sure") and len(drafts) < 8  # stopped early
    assert "".join(t for n, t in events if n == "token") == "Quicksort averages O(n log n)."


def test_per_call_options_via_bind_and_kwargs(server):
    server.add(STRONG, reply(STRONG, "Direct."))
    server.add(CHEAP, reply(CHEAP, "Draft."))
    llm = cascade(server, validator=reject)
    assert llm.bind(force_direct=True).invoke("q?").content == "Direct."
    assert llm.invoke("q?", validator=accept, temperature=0.2, max_tokens=50, top_p=0.5).content == "Draft."
    sent = server.stats.requests[-1]
    assert sent["temperature"] == 0.2 and sent["max_completion_tokens"] == 50 and sent["top_p"] == 0.5
    with pytest.raises(ValueError, match="optimistic"):
        llm.invoke("q?", streaming_mode="optimistic")
    with pytest.raises(ValueError, match="temperature"):
        llm.invoke("q?", temperature=7)


def test_model_override_runs_that_model_directly(server):
    server.add(STRONG, reply(STRONG, "Strong only."))
    msg = cascade(server, validator=reject).invoke("q?", model=STRONG)
    assert msg.content == "Strong only." and msg.response_metadata["cascade"]["strategy"] == "direct"
    assert [r["model"] for r in server.stats.requests] == [STRONG]


async def test_sync_calls_work_inside_a_running_loop(server):
    server.add(CHEAP, reply(CHEAP, "Sync in a loop."))
    server.add(CHEAP, reply(CHEAP, "Streamed in a loop."))
    llm = cascade(server, validator=accept)
    assert llm.invoke("q?").content == "Sync in a loop."  # called from inside this test's event loop
    assert "".join(c.content for c in llm.stream("q?")) == "Streamed in a loop."


async def test_error_is_raised_and_reported(server):
    server.add(CHEAP, reply(CHEAP, "Bad draft."))
    server.add(STRONG, Reply(status=400, body=error_body("openai", 400, "context too long", "invalid_request_error")))
    names = []
    with pytest.raises(ProviderError):
        async for ev in cascade(server, validator=reject).astream_events("q?", version="v2"):
            if ev["event"] == "on_custom_event":
                names.append(ev["name"])
    assert names[-1] == "cascade_error"


async def test_abatch_with_max_concurrency(server):
    for i in range(5):
        server.add(CHEAP, reply(CHEAP, f"Answer {i}."), match=f"question {i}")
    llm = cascade(server, validator=accept)
    out = await llm.abatch([f"question {i}" for i in range(5)], config={"max_concurrency": 2})
    assert [m.content for m in out] == [f"Answer {i}." for i in range(5)]
    assert server.pending() == []


def test_lcel_chain(server):
    escalate(server)
    prompt = ChatPromptTemplate.from_messages([("system", "You are terse."), ("human", "{q}")])
    chain = prompt | cascade(server, validator=not_hedging) | StrOutputParser()
    assert chain.invoke({"q": "Complexity of quicksort?"}) == "Quicksort averages O(n log n)."
    sent = server.stats.requests[0]["messages"]
    assert sent[0] == {"role": "system", "content": "You are terse."}


# ---- tools and structured output -----------------------------------------------------------


@tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"Sunny in {city}."


class Joke(BaseModel):
    """A joke."""

    setup: str = Field(description="the setup")
    punchline: str = Field(description="the punchline")


class JokeDict(TypedDict):
    """A joke."""

    setup: str
    punchline: str


JOKE = {"setup": "Why do cats love boxes?", "punchline": "They think outside of them."}


def test_tool_calls_stream_as_chunks_and_end_as_tool_calls(server):
    server.add(CHEAP, reply(CHEAP, None, [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]))
    llm = cascade(server, validator=accept).bind_tools([get_weather], tool_choice="any")
    chunks = list(llm.stream("Weather in Paris and Rome?"))
    parts = [p for c in chunks for p in c.tool_call_chunks]
    assert {p["index"] for p in parts} == {0, 1}
    for idx in (0, 1):
        mine = [p for p in parts if p["index"] == idx]
        assert mine[0]["id"] and mine[0]["name"] == "get_weather"
        assert all(p["id"] is None and p["name"] is None for p in mine[1:])
    full = total(chunks)
    assert [(t["name"], t["args"]) for t in full.tool_calls] == [("get_weather", {"city": "Paris"}),
                                                                  ("get_weather", {"city": "Rome"})]
    sent = server.stats.requests[0]
    assert sent["tool_choice"] == "required" and sent["tools"][0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize(("choice", "wire"), [
    (True, "required"), ("any", "required"), ("auto", "auto"), ("none", "none"),
    ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
])
def test_bind_tools_tool_choice_forms(server, choice, wire):
    server.add(CHEAP, reply(CHEAP, None, [("get_weather", {"city": "Oslo"})]))
    server.add(STRONG, reply(STRONG, None, [("get_weather", {"city": "Oslo"})]))
    cascade(server, validator=accept).bind_tools([get_weather], tool_choice=choice).invoke("Weather in Oslo?")
    assert server.stats.requests[0]["tool_choice"] == wire


def test_bind_tools_accepts_functions_models_and_dicts(server):
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    spec = {"type": "function", "function": {"name": "lookup", "description": "Look up.",
                                             "parameters": {"type": "object", "properties": {}}}}
    server.add(CHEAP, reply(CHEAP, "ok"))
    cascade(server, validator=accept).bind_tools([add, Joke, spec, get_weather]).invoke("hi")
    assert [t["function"]["name"] for t in server.stats.requests[0]["tools"]] == ["add", "Joke", "lookup",
                                                                                   "get_weather"]
    with pytest.raises(ValueError, match="not one of the bound tools"):
        cascade(server).bind_tools([add], tool_choice="missing")


def test_escalated_tool_call_hides_rejected_draft_call(server):
    server.add(CHEAP, reply(CHEAP, None, [("get_weather", {"city": "Pariss"})]))
    server.add(STRONG, reply(STRONG, None, [("get_weather", {"city": "Paris"})]))
    llm = cascade(server, validator=reject).bind_tools([get_weather])
    chunks = list(llm.stream("Weather in Paris?"))
    assert len([p for c in chunks for p in c.tool_call_chunks if p["name"]]) == 1
    assert total(chunks).tool_calls[0]["args"] == {"city": "Paris"}


def _joke_replies(server: ReplayServer, name: str, n: int) -> None:
    for _ in range(n):
        server.add(CHEAP, reply(CHEAP, None, [(name, JOKE)]))


@pytest.mark.parametrize(("schema", "name", "check"), [
    (Joke, "Joke", lambda r: isinstance(r, Joke) and r.punchline == JOKE["punchline"]),
    (JokeDict, "JokeDict", lambda r: r == JOKE),
    (Joke.model_json_schema(), "Joke", lambda r: r == JOKE),
])
async def test_with_structured_output_all_call_styles(server, schema, name, check):
    _joke_replies(server, name, 4)
    structured = cascade(server, validator=accept).with_structured_output(schema)
    assert check(structured.invoke("Tell me a joke about cats"))
    assert check(await structured.ainvoke("Tell me a joke about cats"))
    assert check(list(structured.stream("Tell me a joke about cats"))[-1])
    assert check([c async for c in structured.astream("Tell me a joke about cats")][-1])
    assert server.pending() == []


def test_with_structured_output_include_raw(server):
    _joke_replies(server, "Joke", 1)
    out = cascade(server, validator=accept).with_structured_output(Joke, include_raw=True).invoke("joke")
    assert isinstance(out["parsed"], Joke) and out["parsing_error"] is None
    assert out["raw"].response_metadata["cascade"]["model_used"] == CHEAP


async def test_no_state_kept_on_the_model_between_concurrent_calls(server):
    server.add(CHEAP, reply(CHEAP, "cheap answer", delay=0.01), match="one")
    server.add(CHEAP, reply(CHEAP, "I am not sure"), match="two")
    server.add(STRONG, reply(STRONG, "strong answer", delay=0.01), match="two")
    llm = cascade(server, validator=not_hedging)
    a, b = await asyncio.gather(llm.ainvoke("one"), llm.ainvoke("two"))
    assert (a.content, a.response_metadata["model_name"]) == ("cheap answer", CHEAP)
    assert (b.content, b.response_metadata["model_name"]) == ("strong answer", STRONG)


def test_identity_and_ls_params(server):
    llm = cascade(server, temperature=0.1, max_tokens=20, stop=["END"])
    assert llm._llm_type == "cascadeflow"
    assert llm._identifying_params["models"] == [CHEAP, STRONG]
    ls = llm._get_ls_params()
    assert ls["ls_provider"] == "cascadeflow" and ls["ls_model_name"] == f"{CHEAP}>{STRONG}"
    assert ls["ls_temperature"] == 0.1 and ls["ls_max_tokens"] == 20 and ls["ls_stop"] == ["END"]
    assert llm._get_ls_params(model="x")["ls_model_name"] == "x"
    assert ChatCascade(model="my-cascade", models=configs(server)).chain_name == "my-cascade"
    with pytest.raises(ValueError, match="models="):
        ChatCascade()


def test_message_history_round_trips_to_the_wire(server):
    server.add(CHEAP, reply(CHEAP, "It is sunny."))
    history = [
        HumanMessage(content=[{"type": "text", "text": "Weather?"}], name="ann"),
        AIMessage(content="", tool_calls=[{"id": "c1", "name": "get_weather", "args": {"city": "Oslo"}}]),
    ]
    from langchain_core.messages import ToolMessage

    history.append(ToolMessage("Sunny in Oslo.", tool_call_id="c1"))
    cascade(server, validator=accept).bind_tools([get_weather]).invoke(history)
    sent = server.stats.requests[0]["messages"]
    assert sent[0] == {"role": "user", "content": [{"type": "text", "text": "Weather?"}], "name": "ann"}
    assert sent[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Oslo"}'}
    assert sent[2] == {"role": "tool", "tool_call_id": "c1", "content": "Sunny in Oslo."}


def test_built_from_an_agent_or_with_shared_settings(server):
    from cascadeflow_integrations import CascadeAgent, ModelConfig

    server.add(CHEAP, reply(CHEAP, "From the agent."))
    llm = ChatCascade(agent=CascadeAgent(configs(server)), validator=accept)
    assert llm.invoke("q?").content == "From the agent."
    bare = [ModelConfig(name=n, base_url=server.openai_url) for n in (CHEAP, STRONG)]
    shared = ChatCascade(models=bare, api_key="sk-shared", max_retries=0)
    assert [m.api_key.get_secret_value() for m in shared.cascade_agent.models] == ["sk-shared", "sk-shared"]
    assert [m.max_retries for m in shared.cascade_agent.models] == [0, 0]
    assert "sk-shared" not in repr(shared)


# ---- bad fields fail at construction, with the same rules as per-call options ------------------------


@pytest.mark.parametrize(("field", "value", "fragment"), [
    ("temperature", 5, "temperature must be a number between 0 and 2"),
    ("temperature", "0.5", "temperature must be a number"),
    ("max_tokens", True, "max_tokens must be a positive integer"),
    ("max_tokens", 0, "max_tokens must be a positive integer"),
    ("stop", 5, "stop must be"),
    ("timeout", -1, "timeout must be a number of seconds"),
    ("max_retries", -1, "max_retries must be an integer >= 0"),
    ("quality_threshold", 1.5, "quality_threshold must be a number between 0 and 1"),
    ("complexity_hint", "easy", "complexity_hint"),
    ("force_direct", "yes", "force_direct must be True or False"),
    ("validator", 42, "neither a Validator nor a function"),
])
def test_bad_field_fails_at_construction(server, field, value, fragment):
    with pytest.raises(ValueError, match=fragment):
        ChatCascade(models=configs(server), **{field: value})
    assert server.stats.requests == []


def test_per_call_bad_option_and_bad_history_send_nothing(server):
    llm = cascade(server)
    with pytest.raises(ValueError, match="temperature"):
        llm.invoke("q?", temperature="hot")
    with pytest.raises(ValueError, match="with no result"):
        llm.invoke([HumanMessage("q?"), AIMessage("", tool_calls=[{"id": "c1", "name": "f", "args": {}}])])
    with pytest.raises(ValueError, match="empty or only whitespace"):
        llm.invoke([HumanMessage("  ")])
    assert server.stats.requests == []


def test_text_chunks_are_the_validated_construction_without_its_cost():
    """Each text token's chunk is built from a validated empty one (issue 21 item 6): it must equal
    `ChatGenerationChunk(message=AIMessageChunk(content=...))` field for field, with fresh mutables."""
    from langchain_core.messages import AIMessageChunk
    from langchain_core.outputs import ChatGenerationChunk

    from cascadeflow_integrations.langchain import chat_model as cm

    assert cm._text_chunk is cm._quick_text_chunk  # the installed langchain-core passes the import-time check
    for text in ("", "Paris", " ü\n"):
        quick, validated = cm._text_chunk(text), ChatGenerationChunk(message=AIMessageChunk(content=text))
        assert quick == validated and quick.text == text
        assert quick.model_dump() == validated.model_dump()
        assert quick.message.model_dump() == validated.message.model_dump()
        assert quick.model_fields_set == validated.model_fields_set
        assert quick.message.model_fields_set == validated.message.model_fields_set
    a, b = cm._text_chunk("Par"), cm._text_chunk("is")
    a.message.response_metadata["k"] = 1
    a.message.tool_call_chunks.append({"name": "t", "args": "", "id": "1", "index": 0, "type": "tool_call_chunk"})
    a.message.id = "run-1"
    assert b.message.response_metadata == {} and b.message.tool_call_chunks == [] and b.message.id is None
    assert cm._text_chunk("x").message.model_fields_set == {"content"}
    merged = cm._text_chunk("Par") + cm._text_chunk("is")
    assert merged.message.content == "Paris" and merged.text == "Paris"
    # with the message id `BaseChatModel.astream` sets: as if it had set it on the validated chunk
    validated = ChatGenerationChunk(message=AIMessageChunk(content="Paris"))
    validated.message.id = "lc_run--1"
    quick = cm._text_chunk("Paris", "lc_run--1")
    assert quick == validated and quick.message.__dict__ == validated.message.__dict__
    assert quick.message.model_fields_set == validated.message.model_fields_set == {"content", "id"}
