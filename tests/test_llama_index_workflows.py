"""`CascadeLLM` inside LlamaIndex query engines, chat engines and agents (offline, loopback replay)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.agent.workflow import (
    AgentStream,
    AgentWorkflow,
    FunctionAgent,
    ReActAgent,
    ToolCallResult,
)
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.llms import MockLLM
from llama_index.core.tools import FunctionTool, QueryEngineTool
from pydantic import Field

from cascadeflow_integrations import ModelConfig
from cascadeflow_integrations.llama_index import (
    CascadeEvent,
    CascadeLLM,
    CascadeSwitchEvent,
    to_universal_tools,
)
from cascadeflow_integrations.replay import ReplayServer, Reply
from cascadeflow_integrations.replay.wire import openai_stream, words

CHEAP, STRONG = "gpt-4o-mini", "gpt-4o"
DOC = "The Eiffel Tower is 330 metres tall and stands in Paris."
DRAFT, ANSWER = "It is maybe 100 metres, not sure.", "The Eiffel Tower is 330 metres tall."


def no_hedging(request: Any, draft: Any) -> bool:
    return "not sure" not in draft.text and "WRONG" not in draft.text and "999" not in str(draft.tool_calls)


@pytest.fixture
def server(module_replay_server):
    return module_replay_server


@pytest.fixture
def llm(server) -> CascadeLLM:
    return CascadeLLM([ModelConfig(name=n, base_url=server.openai_url, api_key="sk-test-not-a-real-key",
                                   max_retries=0) for n in (CHEAP, STRONG)], validator=no_hedging)


def say(server: ReplayServer, name: str, text: str = "", *, tool_calls: list[tuple[str, str, str]] = ()) -> None:
    pieces = words(text) if text else []
    server.add(name, Reply(events=openai_stream(name, pieces, tool_calls=tool_calls)))


class Collect(BaseEventHandler):
    events: list[BaseEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "Collect"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, CascadeEvent):
            self.events.append(event)


@pytest.fixture
def handler():
    h = Collect()
    get_dispatcher().add_event_handler(h)
    yield h
    get_dispatcher().event_handlers.remove(h)


def index() -> VectorStoreIndex:
    return VectorStoreIndex.from_documents([Document(text=DOC)], embed_model=MockEmbedding(embed_dim=8))


def test_streaming_query_engine_sync(server, llm, handler):
    say(server, CHEAP, DRAFT)
    say(server, STRONG, ANSWER)
    qe = index().as_query_engine(llm=llm, streaming=True, similarity_top_k=1)
    resp = qe.query("How tall is the Eiffel Tower?")
    tokens = list(resp.response_gen)
    assert "".join(tokens) == ANSWER and not any("not sure" in t for t in tokens)
    assert "330 metres" in server.stats.requests[0]["messages"][-1]["content"]  # the retrieved context
    assert any(isinstance(e, CascadeSwitchEvent) for e in handler.events)
    assert {e.span_id.split("-")[0] for e in handler.events} == {"CascadeLLM.stream_chat"}


async def test_streaming_query_engine_async(server, llm, handler):
    say(server, CHEAP, ANSWER)
    qe = index().as_query_engine(llm=llm, streaming=True, similarity_top_k=1)
    resp = await qe.aquery("How tall is the Eiffel Tower?")
    tokens = [t async for t in resp.async_response_gen()]
    assert "".join(tokens) == ANSWER
    assert {e.span_id.split("-")[0] for e in handler.events} == {"CascadeLLM.astream_chat"}


async def test_query_engine_non_streaming_async(server, llm):
    say(server, CHEAP, ANSWER)
    resp = await index().as_query_engine(llm=llm, similarity_top_k=1).aquery("How tall is the Eiffel Tower?")
    assert str(resp) == ANSWER


def test_chat_engine(server, llm):
    say(server, CHEAP, ANSWER)
    say(server, CHEAP, DRAFT)
    say(server, STRONG, "It is in Paris.")
    engine = index().as_chat_engine(chat_mode="context", llm=llm)
    assert str(engine.chat("How tall is the Eiffel Tower?")) == ANSWER
    streamed = engine.stream_chat("Where is it?")
    assert "".join(streamed.response_gen) == "It is in Paris."
    history = server.stats.requests[-1]["messages"]
    assert [m["role"] for m in history][-3:] == ["user", "assistant", "user"]


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


async def test_function_agent_calls_a_tool_with_an_escalated_step(server, llm):
    # step 1: the draft picks wrong arguments and is rejected; the strong model calls the tool
    say(server, CHEAP, tool_calls=[("call_bad", "multiply", '{"a": 999, "b": 7}')])
    say(server, STRONG, tool_calls=[("call_1", "multiply", '{"a": 6, "b": 7}')])
    # step 2: the cheap model's answer is accepted
    say(server, CHEAP, "6 times 7 is 42.")
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(fn=multiply)], llm=llm,
                          system_prompt="Use tools for arithmetic.")
    handler = agent.run("What is 6 times 7?")
    deltas, results = [], []
    async for ev in handler.stream_events():
        if isinstance(ev, AgentStream):
            deltas.append(ev.delta)
        elif isinstance(ev, ToolCallResult):
            results.append((ev.tool_id, ev.tool_kwargs, ev.tool_output.content))
    answer = await handler
    assert str(answer) == "6 times 7 is 42."
    assert results == [("call_1", {"a": 6, "b": 7}, "42")]
    assert "".join(deltas) == "6 times 7 is 42."
    models = [r["model"] for r in server.stats.requests]
    assert models == [CHEAP, STRONG, CHEAP]
    step2 = server.stats.requests[2]["messages"]
    assert step2[-2]["tool_calls"][0]["id"] == "call_1"
    assert step2[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "42"}
    assert server.stats.requests[0]["tools"][0]["function"]["name"] == "multiply"


async def test_agent_workflow_picks_the_function_agent(server, llm):
    say(server, CHEAP, tool_calls=[("c1", "multiply", '{"a": 2, "b": 3}')])
    say(server, CHEAP, "2 times 3 is 6.")
    workflow = AgentWorkflow.from_tools_or_functions([multiply], llm=llm)
    assert isinstance(workflow.agents[next(iter(workflow.agents))], FunctionAgent)
    assert str(await workflow.run(user_msg="2 times 3?")) == "2 times 3 is 6."


async def test_react_agent(server, llm):
    say(server, CHEAP, 'Thought: I need to use a tool to help me answer the question.\nAction: multiply\n'
                       'Action Input: {"a": 6, "b": 7}')
    say(server, CHEAP, "Thought: I can answer without using any more tools.\nAnswer: WRONG, it is 41.")
    say(server, STRONG, "Thought: I can answer without using any more tools.\nAnswer: 6 times 7 is 42.")
    agent = ReActAgent(tools=[FunctionTool.from_defaults(fn=multiply)], llm=llm)
    handler = agent.run("What is 6 times 7?")
    deltas = [ev.delta async for ev in handler.stream_events() if isinstance(ev, AgentStream)]
    assert str(await handler) == "6 times 7 is 42."
    assert "WRONG" not in "".join(deltas)
    assert "Observation: 42" in str(server.stats.requests[1]["messages"])


def test_query_engine_tool_converts():
    tool = QueryEngineTool.from_defaults(index().as_query_engine(llm=MockLLM()), name="docs",
                                         description="Facts about Paris.")
    (spec,) = to_universal_tools([tool])
    assert spec["name"] == "docs" and spec["description"] == "Facts about Paris."
    assert "input" in spec["parameters"]["properties"]
