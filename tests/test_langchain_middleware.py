"""`CascadeMiddleware` in a real LangChain 1.x `create_agent` tool loop, over loopback HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from cascadeflow_integrations import ModelConfig
from cascadeflow_integrations.langchain import CascadeMiddleware, get_cascade_callback
from cascadeflow_integrations.replay import Reply
from cascadeflow_integrations.replay.wire import openai_stream, words

module_loop = pytest.mark.asyncio(loop_scope="module")  # LangChain's shared async client, see test_langchain_members

KEY = "sk-test-not-a-real-key"


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny and 24 C in {city}."


def unsure_fails(request: Any, draft: Any) -> bool:
    return "not sure" not in draft.text


class Events(BaseCallbackHandler):
    def __init__(self) -> None:
        self.names: list[str] = []

    def on_custom_event(self, name: str, data: Any, **kw: Any) -> None:
        self.names.append(name)


def script(server: Any) -> None:
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", tool_calls=[
        ("call_1", "get_weather", '{"city": "Paris"}')])))
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", words("I am not sure about that."))))
    server.add("gpt-4o", Reply(events=openai_stream("gpt-4o", words("It is sunny and 24 C in Paris."))))


def models(server: Any) -> tuple[ChatOpenAI, ChatOpenAI]:
    return (ChatOpenAI(model="gpt-4o-mini", base_url=server.openai_url, api_key=KEY, max_retries=0),
            ChatOpenAI(model="gpt-4o", base_url=server.openai_url, api_key=KEY, max_retries=0))


@module_loop
async def test_agent_loop_drafts_each_step_and_escalates_one(module_replay_server: Any) -> None:
    server = module_replay_server
    script(server)
    cheap, strong = models(server)
    agent = create_agent(model=strong, tools=[get_weather],
                         middleware=[CascadeMiddleware(draft=cheap, validator=unsure_fails)])
    events = Events()
    with get_cascade_callback() as cost:
        state = await agent.ainvoke({"messages": [{"role": "user", "content": "Weather in Paris?"}]},
                                    config={"callbacks": [events]})
    ai = [m for m in state["messages"] if isinstance(m, AIMessage)]
    assert ai[0].tool_calls[0]["args"] == {"city": "Paris"} and ai[0].response_metadata["model_name"] == "gpt-4o-mini"
    assert any(isinstance(m, ToolMessage) and "Sunny" in m.content for m in state["messages"])
    assert ai[-1].content == "It is sunny and 24 C in Paris." and ai[-1].response_metadata["model_name"] == "gpt-4o"
    assert not any("not sure" in str(m.content) for m in state["messages"])  # the rejected draft never lands
    assert cost.requests == 2 and cost.drafts_accepted == 1 and cost.escalations == 1
    assert events.names.count("cascade_switch") == 1 and events.names.count("cascade_complete") == 2
    # the agent sent its tools through the draft and the strong model alike
    assert [b["model"] for b in server.stats.requests] == ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o"]
    assert all(b["tools"][0]["function"]["name"] == "get_weather" for b in server.stats.requests)
    assert server.pending() == []


def test_agent_streams_messages_without_the_rejected_draft(module_replay_server: Any) -> None:
    server = module_replay_server
    script(server)
    cheap, strong = models(server)
    agent = create_agent(model=strong, tools=[get_weather],
                         middleware=[CascadeMiddleware(draft=[cheap], validator=unsure_fails)])
    text = ""
    for chunk, _meta in agent.stream({"messages": [{"role": "user", "content": "Weather in Paris?"}]},
                                     stream_mode="messages"):
        if isinstance(chunk, AIMessage):
            text += chunk.text
    assert "not sure" not in text and "It is sunny and 24 C in Paris." in text


def test_middleware_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="needs a draft model"):
        CascadeMiddleware(draft=[])
    with pytest.raises(ValueError, match="not models="):
        CascadeMiddleware(draft=ModelConfig(name="gpt-4o-mini"), models=[])
    with pytest.raises(ValueError, match="quality_threshold"):
        CascadeMiddleware(draft=ModelConfig(name="gpt-4o-mini"), quality_threshold=2)
    mw = CascadeMiddleware(draft=ModelConfig(name="gpt-4o-mini", api_key=KEY))
    strong = ChatOpenAI(model="gpt-4o", api_key=KEY)
    cascade = mw.cascade_for(strong)
    assert mw.cascade_for(strong) is cascade  # built once per agent model
    assert [m.label for m in cascade.cascade_agent.members] == ["gpt-4o-mini", "gpt-4o"]


@module_loop
async def test_agent_structured_response_through_the_draft(module_replay_server: Any) -> None:
    from pydantic import BaseModel

    class Weather(BaseModel):
        city: str

    server = module_replay_server
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", tool_calls=[
        ("call_w", "Weather", '{"city": "Oslo"}')])))
    cheap, strong = models(server)
    agent = create_agent(model=strong, tools=[], response_format=Weather, middleware=[CascadeMiddleware(draft=cheap)])
    state = await agent.ainvoke({"messages": [{"role": "user", "content": "Weather in Oslo?"}]})
    assert state["structured_response"] == Weather(city="Oslo")
    assert [b["model"] for b in server.stats.requests] == ["gpt-4o-mini"]  # the draft was good enough
