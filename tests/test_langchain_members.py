"""LangChain chat models as cascade members: real ChatOpenAI / ChatAnthropic / ChatGroq over loopback HTTP.

Each member talks to the replay server in its provider's wire format through its own SDK; nothing
is patched. Covers escalation across providers, tools and structured output through members,
child runs (a callback handler and LangChain's run collector tracer), prices, two settings of one model.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from uuid import UUID

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tracers.run_collector import RunCollectorCallbackHandler
from langchain_openai import ChatOpenAI
from pydantic import BaseModel
from replay_helpers import accept, reject

from cascadeflow_integrations import Member, ModelConfig
from cascadeflow_integrations.langchain import ChatCascade, LangChainMember
from cascadeflow_integrations.prices import PRICE_TABLE
from cascadeflow_integrations.replay import Reply
from cascadeflow_integrations.replay.wire import anthropic_stream, groq_stream, openai_stream, words

# LangChain's partner packages share one async HTTP client per base URL across instances, bound to the
# loop that first used it: the async tests here share one loop, as an application's calls would.
module_loop = pytest.mark.asyncio(loop_scope="module")

KEY = "sk-test-not-a-real-key"
CLAUDE = "claude-haiku-4-5"
GROQ = "llama-3.1-8b-instant"


def openai_model(server: Any, name: str = "gpt-4o-mini", **kw: Any) -> ChatOpenAI:
    return ChatOpenAI(model=name, base_url=server.openai_url, api_key=KEY, max_retries=0, **kw)


def claude(server: Any, **kw: Any) -> ChatAnthropic:
    return ChatAnthropic(model=CLAUDE, base_url=server.url, api_key=KEY, max_retries=0, **kw)


def groq(server: Any) -> Any:
    # langchain-groq pins groq<1, so it lives in `make test-compat`'s environment, not make test's
    chat_groq = pytest.importorskip("langchain_groq", reason="langchain-groq (groq<1) is installed by make test-compat").ChatGroq
    return chat_groq(model=GROQ, base_url=server.url, api_key=KEY, max_retries=0)


def say_openai(server: Any, name: str, text: str = "", **kw: Any) -> None:
    server.add(name, Reply(events=openai_stream(name, words(text) if text else [], **kw)))


def say_claude(server: Any, text: str = "", **kw: Any) -> None:
    server.add(CLAUDE, Reply(events=anthropic_stream(CLAUDE, words(text) if text else [], **kw)))


class Recorder(BaseCallbackHandler):
    """Every run start/end with its parent, tags and metadata, and the cascade's custom events."""

    def __init__(self) -> None:
        self.starts: list[dict[str, Any]] = []
        self.ends: dict[UUID, Any] = {}
        self.chat_starts: list[UUID] = []
        self.custom: list[tuple[str, UUID]] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                            **kw: Any) -> None:
        self.chat_starts.append(run_id)

    def on_llm_start(self, serialized: Any, prompts: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                     tags: list[str] | None = None, metadata: dict[str, Any] | None = None, **kw: Any) -> None:
        self.starts.append({"run_id": run_id, "parent": parent_run_id, "tags": tags or [], "metadata": metadata or {},
                            "name": kw.get("name"), "params": kw.get("invocation_params") or {}})

    def on_llm_end(self, response: Any, *, run_id: UUID, **kw: Any) -> None:
        self.ends[run_id] = response

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kw: Any) -> None:
        self.custom.append((name, run_id))


@module_loop
async def test_openai_member_streams_text_usage_and_table_price(module_replay_server: Any) -> None:
    server = module_replay_server
    say_openai(server, "gpt-4o-mini", "Paris is the capital.", usage=(12, 5))
    llm = ChatCascade(models=[openai_model(server), openai_model(server, "gpt-4o")], validator=accept)
    chunks = [c async for c in llm.astream("Capital of France?")]
    msg = sum(chunks[1:], chunks[0])
    assert msg.content == "Paris is the capital." and msg.response_metadata["model_name"] == "gpt-4o-mini"
    assert msg.usage_metadata["input_tokens"] == 12 and msg.usage_metadata["output_tokens"] == 5
    cascade = msg.response_metadata["cascade"]
    price = PRICE_TABLE["gpt-4o-mini"]
    assert cascade["draft_accepted"] and cascade["total_cost"] == pytest.approx((12 * price.input + 5 * price.output)
                                                                                / 1000)
    assert server.stats.requests[0]["stream_options"] == {"include_usage": True}  # asked so usage streams


@module_loop
async def test_escalation_from_openai_member_to_anthropic_member(module_replay_server: Any) -> None:
    server = module_replay_server
    say_openai(server, "gpt-4o-mini", "I am not sure.")
    say_claude(server, "The answer is 42.", usage=(30, 6))
    llm = ChatCascade(models=[openai_model(server), claude(server)], validator=reject)
    rec = Recorder()
    chunks = [c async for c in llm.astream("What is six times seven?", config={"callbacks": [rec]})]
    msg = sum(chunks[1:], chunks[0])
    assert msg.content == "The answer is 42." and "not sure" not in msg.content  # the draft never leaks
    meta = msg.response_metadata["cascade"]
    assert meta["model_used"] == CLAUDE and not meta["draft_accepted"] and meta["provider_used"] == "anthropic"
    assert [d["model"] for d in meta["decisions"]] == ["gpt-4o-mini"]
    assert "/v1/messages" not in server.stats.requests[0] and server.stats.requests[1]["model"] == CLAUDE
    assert server.stats.requests[1]["messages"][0]["content"] in ("What is six times seven?",
                                                                  [{"type": "text", "text": "What is six times seven?"}])
    # custom events still arrive as before: on the cascade's run, in order
    names = [n for n, _ in rec.custom]
    assert names[0] == "cascade_routing" and names[-1] == "cascade_complete"
    assert "cascade_switch" in names and "cascade_draft_chunk" in names
    assert {rid for _, rid in rec.custom} == {rec.chat_starts[0]}


@module_loop
async def test_child_runs_for_members_with_parent_tags_usage_and_decision(module_replay_server: Any) -> None:
    server = module_replay_server
    say_openai(server, "gpt-4o-mini", "Draft answer.", usage=(11, 3))
    say_claude(server, "Verified answer.", usage=(13, 4))
    llm = ChatCascade(models=[openai_model(server), claude(server)], validator=reject)
    rec = Recorder()
    collector = RunCollectorCallbackHandler()
    await llm.ainvoke("Q?", config={"callbacks": [rec, collector]})
    assert len(rec.chat_starts) == 1  # one chat-model run per call: the cascade's
    cascade_run = rec.chat_starts[0]
    draft, verifier = rec.starts
    assert draft["parent"] == verifier["parent"] == cascade_run
    assert "cascade:draft" in draft["tags"] and "cascade:verifier" in verifier["tags"]
    assert draft["metadata"]["cascade_phase"] == "draft" and draft["metadata"]["ls_model_name"] == "gpt-4o-mini"
    assert verifier["metadata"]["cascade_escalated_from"] == "gpt-4o-mini"
    assert verifier["metadata"]["cascade_escalation_reason"] == "quality_failed"
    assert verifier["metadata"]["ls_provider"] == "anthropic" and verifier["name"] == CLAUDE
    d_end, v_end = rec.ends[draft["run_id"]], rec.ends[verifier["run_id"]]
    assert d_end.llm_output["cascade_decision"]["accepted"] is False
    assert d_end.generations[0][0].message.usage_metadata["input_tokens"] == 11
    assert v_end.generations[0][0].message.content == "Verified answer."
    assert v_end.llm_output["token_usage"]["output_tokens"] == 4 and "cascade_decision" not in v_end.llm_output
    # LangChain's tracer sees the same tree: one cascade run with two member runs under it
    (root,) = collector.traced_runs
    assert root.id == cascade_run and [r.name for r in root.child_runs] == ["gpt-4o-mini", CLAUDE]
    assert [r.run_type for r in root.child_runs] == ["llm", "llm"]
    assert root.child_runs[0].outputs["llm_output"]["cascade_decision"]["accepted"] is False


def test_child_runs_for_model_config_members_in_sync_invoke(module_replay_server: Any) -> None:
    server = module_replay_server
    say_openai(server, "gpt-4o-mini", "Fine answer.")
    cfg = [ModelConfig(name=n, base_url=server.openai_url, api_key=KEY, max_retries=0, cost=0.001)
           for n in ("gpt-4o-mini", "gpt-4o")]
    llm = ChatCascade(models=cfg, validator=accept)
    rec = Recorder()
    msg = llm.invoke("Q?", config={"callbacks": [rec], "tags": ["mine"]})
    assert msg.content == "Fine answer."
    (draft,) = rec.starts
    assert draft["parent"] == rec.chat_starts[0] and set(draft["tags"]) >= {"cascade:draft", "mine"}
    end = rec.ends[draft["run_id"]]
    assert end.llm_output["cascade_decision"]["accepted"] is True and end.llm_output["model_name"] == "gpt-4o-mini"


@module_loop
async def test_astream_events_show_no_member_runs(module_replay_server: Any) -> None:
    server = module_replay_server
    say_openai(server, "gpt-4o-mini", "Rejected draft text.")
    say_claude(server, "Kept answer.")
    llm = ChatCascade(models=[openai_model(server), claude(server)], validator=reject)
    events = [e async for e in llm.astream_events("Q?", version="v2")]
    streamed = "".join(e["data"]["chunk"].content for e in events if e["event"] == "on_chat_model_stream")
    assert streamed == "Kept answer." and not [e for e in events if e["event"].startswith("on_llm")]
    assert len({e["run_id"] for e in events if e["event"] == "on_chat_model_start"}) == 1


class Weather(BaseModel):
    """Weather in a city."""

    city: str


@module_loop
async def test_bind_tools_binds_each_member_in_its_own_format(module_replay_server: Any) -> None:
    server = module_replay_server
    say_openai(server, "gpt-4o-mini", tool_calls=[("call_1", "Weather", '{"town": "Paris"}')])  # wrong field
    server.add(CLAUDE, Reply(events=anthropic_stream(CLAUDE, tool_calls=[("toolu_1", "Weather", '{"city": "Paris"}')])))
    llm = ChatCascade(models=[openai_model(server), claude(server)]).bind_tools([Weather], tool_choice="Weather")
    msg = await llm.ainvoke("Weather in Paris?")
    assert msg.tool_calls == [{"name": "Weather", "args": {"city": "Paris"}, "id": "toolu_1", "type": "tool_call"}]
    openai_body, claude_body = server.stats.requests
    assert openai_body["tools"][0]["function"]["name"] == "Weather"
    assert openai_body["tool_choice"] == {"type": "function", "function": {"name": "Weather"}}
    assert claude_body["tools"][0]["name"] == "Weather" and "input_schema" in claude_body["tools"][0]
    assert claude_body["tool_choice"] == {"type": "tool", "name": "Weather"}


@module_loop
@pytest.mark.compat
async def test_groq_member_tool_call_and_tool_result_round_trip(module_replay_server: Any) -> None:
    server = module_replay_server
    server.add(GROQ, Reply(events=groq_stream(GROQ, tool_calls=[("call_g", "Weather", '{"city": "Rome"}')])))
    llm = ChatCascade(models=[groq(server), openai_model(server, "gpt-4o")], validator=accept).bind_tools([Weather])
    msg = await llm.ainvoke("Weather in Rome?")
    assert msg.tool_calls[0]["args"] == {"city": "Rome"} and msg.response_metadata["model_name"] == GROQ
    assert server.stats.requests[0]["tools"][0]["function"]["name"] == "Weather"


@module_loop
async def test_structured_output_through_members_in_four_call_styles(module_replay_server: Any) -> None:
    server = module_replay_server
    llm = ChatCascade(models=[openai_model(server), claude(server)], validator=reject)
    structured = llm.with_structured_output(Weather)
    args = '{"city": "Oslo"}'
    for _ in range(4):
        say_openai(server, "gpt-4o-mini", tool_calls=[("c", "Weather", args)])
        server.add(CLAUDE, Reply(events=anthropic_stream(CLAUDE, tool_calls=[("t", "Weather", args)])))
    assert structured.invoke("Weather?") == Weather(city="Oslo")
    assert await structured.ainvoke("Weather?") == Weather(city="Oslo")
    assert list(structured.stream("Weather?"))[-1] == Weather(city="Oslo")
    assert [x async for x in structured.astream("Weather?")][-1] == Weather(city="Oslo")
    claude_bodies = [b for b in server.stats.requests if b["model"] == CLAUDE]
    assert len(claude_bodies) == 4 and all(b["tool_choice"] == {"type": "any"} or b["tool_choice"]["type"] == "tool"
                                           for b in claude_bodies)


@module_loop
async def test_logprobs_from_a_member_asked_for_them(module_replay_server: Any) -> None:
    server = module_replay_server
    seen: list[Any] = []

    def capture(request: Any, draft: Any) -> bool:
        seen.append(draft.logprobs)
        return True

    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", words("Sure thing."), logprob=-0.05)))
    llm = ChatCascade(models=[openai_model(server, logprobs=True), claude(server)], validator=capture)
    await llm.ainvoke("Q?")
    assert seen[0] and all(lp.logprob == -0.05 for lp in seen[0])
    assert server.stats.requests[0]["logprobs"] is True


@module_loop
async def test_mixed_chain_and_member_wrapper_price(module_replay_server: Any) -> None:
    server = module_replay_server
    say_openai(server, "my-finetune", "Draft.", usage=(1000, 1000))
    say_claude(server, "Final.", usage=(1000, 1000))
    draft = Member(openai_model(server, "my-finetune"), input_cost=0.001, output_cost=0.002, label="tuned")
    llm = ChatCascade(models=[draft, ModelConfig(name="gpt-4o-mini", base_url=server.openai_url, api_key=KEY),
                              claude(server)], validator=reject)
    say_openai(server, "gpt-4o-mini", "Middle.", usage=(1000, 1000))
    msg = await llm.ainvoke("Q?")
    meta = msg.response_metadata["cascade"]
    assert [a for a in meta["models"]] == ["tuned", "gpt-4o-mini", CLAUDE]
    assert meta["models"]["tuned"]["cost"] == pytest.approx(0.003)
    haiku = PRICE_TABLE[CLAUDE]
    assert meta["models"][CLAUDE]["cost"] == pytest.approx(haiku.input + haiku.output)


@module_loop
async def test_member_without_price(module_replay_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    server = module_replay_server
    say_openai(server, "my-finetune", "Answer.")
    llm = ChatCascade(models=[openai_model(server, "my-finetune"), claude(server)], validator=accept)
    with caplog.at_level(logging.WARNING, logger="cascadeflow_integrations"):
        msg = await llm.ainvoke("Q?")
    assert msg.response_metadata["cascade"]["total_cost"] is None
    assert msg.response_metadata["cascade"]["models"]["my-finetune"]["cost"] is None
    assert sum("no price known" in r.getMessage() for r in caplog.records) == 1


@module_loop
async def test_one_langchain_model_at_two_settings(module_replay_server: Any) -> None:
    server = module_replay_server
    server.add("gpt-5", Reply(events=openai_stream("gpt-5", words("quick"))), match='"low"')
    server.add("gpt-5", Reply(events=openai_stream("gpt-5", words("careful"))), match='"high"')
    low, high = (openai_model(server, "gpt-5", reasoning_effort=e) for e in ("low", "high"))
    llm = ChatCascade(models=[low, high], validator=reject)
    msg = await llm.ainvoke("Think.")
    assert msg.content == "careful"
    labels = list(msg.response_metadata["cascade"]["models"])
    assert len(labels) == 2 and labels[0] != labels[1] and all(lbl.startswith("gpt-5[") for lbl in labels)
    assert [b["reasoning_effort"] for b in server.stats.requests] == ["low", "high"]
    with pytest.raises(ValueError, match="same member"):
        ChatCascade(models=[low, low])


@module_loop
async def test_member_error_escalates_and_is_redacted(module_replay_server: Any) -> None:
    server = module_replay_server
    server.add("gpt-4o-mini", Reply(status=500, body=json.dumps({"error": {"message": "boom", "type": "server_error"}})))
    say_claude(server, "Recovered.")
    llm = ChatCascade(models=[openai_model(server), claude(server)])
    rec = Recorder()
    msg = await llm.ainvoke("Q?", config={"callbacks": [rec]})
    assert msg.content == "Recovered."
    decision = msg.response_metadata["cascade"]["decisions"][0]
    assert decision["reason"].startswith("draft_error") and KEY not in json.dumps(decision)


@module_loop
async def test_final_member_error_is_ours_unchained_and_keyless(module_replay_server: Any) -> None:
    import traceback

    from cascadeflow_integrations.errors import AuthenticationError

    server = module_replay_server
    echoed = {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error",
                        "code": "invalid_api_key"}}
    server.add("gpt-4o", Reply(status=401, body=json.dumps(echoed)))
    llm = ChatCascade(models=[openai_model(server, "gpt-4o")])
    with pytest.raises(AuthenticationError) as info:
        await llm.ainvoke("Q?")
    err = info.value
    assert err.__cause__ is None and err.__context__ is None and err.status_code == 401
    assert KEY not in "".join(traceback.format_exception(err))


def test_member_protocol_and_conversion() -> None:
    m = LangChainMember(ChatOpenAI(model="gpt-4o", api_key=KEY, base_url="http://127.0.0.1:9/v1"))
    assert (m.name, m.provider, m.label) == ("gpt-4o", "openai", "gpt-4o") and KEY not in repr(m)
    from cascadeflow_integrations.langchain.members import to_langchain_messages
    from cascadeflow_integrations.tools.call import ToolCall
    from cascadeflow_integrations.types import Message

    out = to_langchain_messages([Message("user", "hi"), Message("assistant", "", [ToolCall("c1", "f", {"a": 1})]),
                                 Message("tool", "r", tool_call_id="c1", is_error=True)])
    assert isinstance(out[0], HumanMessage) and isinstance(out[1], AIMessage)
    assert out[1].tool_calls[0]["args"] == {"a": 1} and out[2].status == "error"


@module_loop
async def test_core_agent_takes_a_chat_model_and_model_override_picks_a_member(module_replay_server: Any) -> None:
    from cascadeflow_integrations import CascadeAgent

    server = module_replay_server
    say_openai(server, "gpt-4o-mini", "Core path.")
    agent = CascadeAgent([openai_model(server), claude(server)], validator=accept)  # resolver from the adapter
    r = await agent.run("Q?")
    assert r.content == "Core path." and isinstance(agent.members[0], LangChainMember)
    say_claude(server, "Asked directly.")
    llm = ChatCascade(models=[openai_model(server), claude(server)])
    msg = await llm.ainvoke("Q?", model=CLAUDE)
    assert msg.content == "Asked directly." and msg.response_metadata["cascade"]["strategy"] == "direct"
    assert [b["model"] for b in server.stats.requests] == ["gpt-4o-mini", CLAUDE]
