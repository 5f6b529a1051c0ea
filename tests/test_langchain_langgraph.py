"""`ChatCascade` driving a LangGraph ReAct agent: tool call, tool result, answer, with an escalation."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage
from langchain_core.tools import tool
from langchain_scripts import CHEAP, STRONG, configs, reply
from langgraph.prebuilt import create_react_agent

from cascadeflow_integrations.langchain import ChatCascade, get_cascade_callback
from cascadeflow_integrations.replay import ReplayServer

# still the brief's API; langchain.agents.create_agent (its successor) needs the `langchain` package
pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"Sunny in {city}, 24C."


def not_hedging(request: Any, draft: Any) -> bool:
    return "not sure" not in draft.text


@pytest.fixture
def server():
    s = ReplayServer().start()
    yield s
    s.stop()


def script(server: ReplayServer) -> None:
    # step 2 (the tool result is in the request): the cheap draft hedges and is rejected
    server.add(CHEAP, reply(CHEAP, "I am not sure what the weather is."), match="Sunny in Paris")
    server.add(STRONG, reply(STRONG, "It is sunny in Paris, 24C."), match="Sunny in Paris")
    # step 1: the cheap model calls the tool, accepted
    server.add(CHEAP, reply(CHEAP, None, [("get_weather", {"city": "Paris"})]), match="weather")


def agent(server: ReplayServer) -> Any:
    return create_react_agent(ChatCascade(models=configs(server), validator=not_hedging), [get_weather])


async def test_react_agent_calls_tool_and_escalates_the_answer(server):
    script(server)
    with get_cascade_callback() as cb:
        out = await agent(server).ainvoke({"messages": [("user", "What's the weather in Paris?")]})
    msgs = out["messages"]
    call, result, answer = msgs[1], msgs[2], msgs[3]
    assert isinstance(call, AIMessage) and call.tool_calls[0]["args"] == {"city": "Paris"}
    assert call.response_metadata["cascade"]["draft_accepted"] is True
    assert isinstance(result, ToolMessage) and result.content == "Sunny in Paris, 24C."
    assert answer.content == "It is sunny in Paris, 24C."
    assert answer.response_metadata["model_name"] == STRONG
    assert cb.requests == 2 and cb.escalations == 1 and cb.drafts_accepted == 1
    assert server.pending() == []
    # the tool round trip reached the provider as real tool messages
    sent = server.stats.requests[-1]["messages"]
    assert sent[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent[2]["role"] == "tool" and sent[2]["tool_call_id"] == call.tool_calls[0]["id"]


def test_react_agent_sync(server):
    script(server)
    out = agent(server).invoke({"messages": [("user", "What's the weather in Paris?")]})
    assert out["messages"][-1].content == "It is sunny in Paris, 24C."


async def test_stream_mode_messages_shows_no_rejected_draft_tokens(server):
    script(server)
    tokens: list[str] = []
    tool_chunks = 0
    async for chunk, meta in agent(server).astream({"messages": [("user", "What's the weather in Paris?")]},
                                                   stream_mode="messages"):
        if isinstance(chunk, AIMessageChunk):
            tokens.append(chunk.content)
            tool_chunks += len(chunk.tool_call_chunks)
    text = "".join(tokens)
    assert text == "It is sunny in Paris, 24C."
    assert "not sure" not in text and tool_chunks >= 1
