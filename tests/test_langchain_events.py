"""Cascade custom events reach handlers in every call path; the cost context manager totals them."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_scripts import CHEAP, STRONG, configs, reply

from cascadeflow_integrations.langchain import (
    AsyncCascadeCallbackHandler,
    CascadeCallbackHandler,
    ChatCascade,
    get_cascade_callback,
)
from cascadeflow_integrations.replay import ReplayServer

ESCALATED = ["cascade_routing", "cascade_draft_chunk", "cascade_decision", "cascade_switch", "cascade_complete"]
ACCEPTED = ["cascade_routing", "cascade_draft_chunk", "cascade_decision", "cascade_complete"]


def not_hedging(request: Any, draft: Any) -> bool:
    return "not sure" not in draft.text


@pytest.fixture
def server():
    s = ReplayServer().start()
    for name, text in ((CHEAP, "I am not sure."), (STRONG, "Quicksort averages O(n log n).")):
        s.add(name, reply(name, text), match="quicksort", repeat=True)
    s.add(CHEAP, reply(CHEAP, "Paris."), repeat=True)
    yield s
    s.stop()


@pytest.fixture
def llm(server):
    return ChatCascade(models=configs(server), validator=not_hedging)


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any, UUID]] = []
        self.llm_runs: list[UUID] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID, **kw: Any) -> None:
        self.llm_runs.append(run_id)

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kw: Any) -> None:
        self.events.append((name, data, run_id))

    def names(self) -> list[str]:
        out: list[str] = []
        for n, _, _ in self.events:
            if not out or out[-1] != n:
                out.append(n)
        return out


class AsyncRecorder(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.names: list[str] = []

    async def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kw: Any) -> None:
        if not self.names or self.names[-1] != name:
            self.names.append(name)


def check(rec: Recorder, expected: list[str]) -> None:
    assert rec.names() == expected
    # attributed to the chat-model run itself, not to an enclosing chain
    assert {r for _, _, r in rec.events} <= set(rec.llm_runs)
    for _, data, _ in rec.events:
        json.dumps(data)


def test_invoke(llm):
    rec = Recorder()
    llm.invoke("Explain quicksort", config={"callbacks": [rec]})
    check(rec, ESCALATED)


async def test_ainvoke(llm):
    rec = Recorder()
    await llm.ainvoke("Capital of France?", config={"callbacks": [rec]})
    check(rec, ACCEPTED)


def test_stream(llm):
    rec = Recorder()
    list(llm.stream("Explain quicksort", config={"callbacks": [rec]}))
    check(rec, ESCALATED)


async def test_astream(llm):
    rec = Recorder()
    [c async for c in llm.astream("Explain quicksort", config={"callbacks": [rec]})]
    check(rec, ESCALATED)


def test_batch(llm):
    rec = Recorder()
    llm.batch(["Explain quicksort", "Capital of France?"], config={"callbacks": [rec]})
    per_run: dict[UUID, list[str]] = {}
    for name, _, run_id in rec.events:
        seq = per_run.setdefault(run_id, [])
        if not seq or seq[-1] != name:
            seq.append(name)
    assert sorted(per_run.values()) == sorted([ESCALATED, ACCEPTED])


async def test_abatch_with_async_handler(llm):
    rec = AsyncRecorder()
    await llm.abatch(["Capital of France?"], config={"callbacks": [rec], "max_concurrency": 1})
    assert rec.names == ACCEPTED


async def test_astream_events_v2(llm):
    seen = [(e["name"], e["run_id"]) async for e in llm.astream_events("Explain quicksort", version="v2")
            if e["event"] == "on_custom_event"]
    names = [n for n, _ in seen]
    assert [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n] == ESCALATED


async def test_streaming_flag_path(server):
    rec = Recorder()
    llm = ChatCascade(models=configs(server), validator=not_hedging, streaming=True)
    await llm.ainvoke("Explain quicksort", config={"callbacks": [rec]})
    check(rec, ESCALATED)


def test_lcel_chain(llm):
    rec = Recorder()
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | llm | StrOutputParser()
    assert chain.invoke({"q": "Explain quicksort"}, config={"callbacks": [rec]}) == "Quicksort averages O(n log n)."
    check(rec, ESCALATED)


async def test_lcel_chain_astream_events(llm):
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | llm | StrOutputParser()
    names, tokens = [], []
    async for e in chain.astream_events({"q": "Explain quicksort"}, version="v2"):
        if e["event"] == "on_custom_event":
            names.append(e["name"])
        elif e["event"] == "on_chat_model_stream":
            tokens.append(e["data"]["chunk"].content)
    assert "cascade_switch" in names and names[-1] == "cascade_complete"
    assert "".join(tokens) == "Quicksort averages O(n log n)."


async def test_inside_a_langgraph_node(llm):
    from langgraph.graph import END, START, MessagesState, StateGraph

    async def node(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
        if sys.version_info < (3, 11):
            # LangChain cannot propagate callbacks into async code implicitly before Python 3.11
            # (tasks do not inherit its context); its documented rule is to pass `config` on.
            return {"messages": [await llm.ainvoke(state["messages"], config)]}
        return {"messages": [await llm.ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("model", node)
    graph.add_edge(START, "model")
    graph.add_edge("model", END)
    app = graph.compile()
    rec = Recorder()
    out = await app.ainvoke({"messages": [("user", "Explain quicksort")]}, config={"callbacks": [rec]})
    assert out["messages"][-1].content == "Quicksort averages O(n log n)."
    check(rec, ESCALATED)
    names = [e["name"] async for e in app.astream_events({"messages": [("user", "Capital?")]}, version="v2")
             if e["event"] == "on_custom_event"]
    assert names[0] == "cascade_routing" and names[-1] == "cascade_complete"


def test_typed_handler_hooks(llm):
    class Hooks(CascadeCallbackHandler):
        def __init__(self) -> None:
            self.calls: list[tuple[str, Any]] = []

        def on_cascade_routing(self, data: Any, *, run_id: UUID) -> None:
            self.calls.append(("routing", data["strategy"]))

        def on_cascade_draft_chunk(self, data: Any, *, run_id: UUID) -> None:
            self.calls.append(("draft", data["text"]))

        def on_cascade_decision(self, data: Any, *, run_id: UUID) -> None:
            self.calls.append(("decision", data["accepted"]))

        def on_cascade_switch(self, data: Any, *, run_id: UUID) -> None:
            self.calls.append(("switch", (data["from_model"], data["to_model"], data["reason"])))

        def on_cascade_complete(self, data: Any, *, run_id: UUID) -> None:
            self.calls.append(("complete", data["model_used"]))

    h = Hooks()
    llm.invoke("Explain quicksort", config={"callbacks": [h]})
    assert h.calls[0] == ("routing", "cascade")
    assert "".join(v for k, v in h.calls if k == "draft") == "I am not sure."
    assert h.calls[-3:] == [("decision", False), ("switch", (CHEAP, STRONG, "quality_failed")),
                            ("complete", STRONG)]


async def test_async_typed_handler_hooks(llm):
    class Hooks(AsyncCascadeCallbackHandler):
        def __init__(self) -> None:
            self.calls: list[tuple[str, Any]] = []

        async def on_cascade_decision(self, data: Any, *, run_id: UUID) -> None:
            await asyncio.sleep(0)
            self.calls.append(("decision", data["accepted"]))

        async def on_cascade_switch(self, data: Any, *, run_id: UUID) -> None:
            self.calls.append(("switch", data["to_model"]))

        async def on_cascade_complete(self, data: Any, *, run_id: UUID) -> None:
            self.calls.append(("complete", data["model_used"]))

    h = Hooks()
    chunks = [c async for c in llm.astream("Explain quicksort", config={"callbacks": [h]})]
    assert "".join(c.content for c in chunks) == "Quicksort averages O(n log n)."
    assert h.calls == [("decision", False), ("switch", STRONG), ("complete", STRONG)]


async def test_cost_callback_under_concurrency(llm):
    with get_cascade_callback() as cb:
        await asyncio.gather(*[llm.ainvoke("Capital of France?") for _ in range(4)],
                             *[llm.ainvoke("Explain quicksort") for _ in range(2)])
        llm.invoke("Capital of France?")
        list(llm.stream("Explain quicksort"))
        await RunnableLambda(lambda x: x).pipe(llm).abatch(["Capital of France?"] * 3)
    assert cb.requests == 11
    assert cb.drafts_accepted == 8 and cb.escalations == 3
    assert cb.by_model[CHEAP]["calls"] == 11 and cb.by_model[STRONG]["calls"] == 3
    assert cb.total_cost == pytest.approx(cb.by_model[CHEAP]["cost"] + cb.by_model[STRONG]["cost"])
    assert cb.cost_saved > 0 and cb.total_tokens == 14 * 30
    llm.invoke("Capital of France?")  # outside the block: not counted
    assert cb.requests == 11
    assert "Cascade requests: 11" in repr(cb)


def test_stream_events_v3_protocol_path(llm):
    rec = Recorder()
    stream = llm.stream_events("Explain quicksort", version="v3", config={"callbacks": [rec]})
    list(stream)
    assert stream.output.text == "Quicksort averages O(n log n)."
    check(rec, ESCALATED)
