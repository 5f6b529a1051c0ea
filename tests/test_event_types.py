"""Typed events: one union of frozen dataclasses, the seed API's view on each, and the docs table from the types."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

import pytest
from replay_helpers import CHEAP, STRONG, model, reject, say

from cascadeflow_integrations import CascadeAgent
from cascadeflow_integrations.replay import Reply
from cascadeflow_integrations.replay.wire import openai_stream, words
from cascadeflow_integrations.streaming import (
    EVENTS,
    Complete,
    DraftDecision,
    Error,
    Event,
    Routing,
    StreamEvent,
    StreamEventType,
    Switch,
    TextChunk,
    ToolCallComplete,
    ToolCallDelta,
    ToolCallStart,
    ToolStreamEvent,
    ToolStreamEventType,
    events_table,
)

ROOT = Path(__file__).resolve().parents[1]
TOOL = {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {
    "location": {"type": "string"}}}}


def test_docs_events_table_is_generated_from_the_types() -> None:
    page = (ROOT / "docs" / "concepts" / "events.md").read_text(encoding="utf-8")
    start = page.index("<!-- generated from streaming.events_table()")
    block = page[page.index("\n", start) + 1:page.index("<!-- end of generated table -->")].strip()
    assert block == events_table(), "docs/concepts/events.md is out of date: paste streaming.events_table() in it"
    for cls in EVENTS:  # every class and every field it carries is on the page
        assert f"`{cls.__name__}`" in block
        for f in dataclasses.fields(cls):
            if f.name not in ("tool_stream", "content", "delta"):
                assert f"`{f.name}`" in block, (cls.__name__, f.name)


def test_the_union_is_the_nine_frozen_classes() -> None:
    assert set(typing.get_args(Event)) == set(EVENTS)
    assert [c.__name__ for c in EVENTS] == ["Routing", "TextChunk", "ToolCallStart", "ToolCallDelta",
                                            "ToolCallComplete", "DraftDecision", "Switch", "Complete", "Error"]
    chunk = TextChunk("hi", "m", "draft", "openai")
    with pytest.raises(dataclasses.FrozenInstanceError):
        chunk.content = "changed"  # type: ignore[misc]
    assert all(dataclasses.is_dataclass(c) and c.__dataclass_params__.frozen for c in EVENTS)  # type: ignore[attr-defined]
    assert isinstance(chunk, StreamEvent) and isinstance(chunk, ToolStreamEvent)


def test_seed_view_type_follows_the_stream_kind() -> None:
    text = TextChunk("hi", "m", "draft", "openai")
    tools = TextChunk("hi", "m", "draft", "openai", tool_stream=True)
    assert text.type is StreamEventType.CHUNK and text.type == "chunk"
    assert tools.type is ToolStreamEventType.TEXT_CHUNK and tools.delta == "hi"
    assert text.data == {"model": "m", "phase": "draft", "provider": "openai"} and text.metadata is text.data
    assert text.data is text.data and text.data is not TextChunk("hi", "m", "draft", "openai").data
    # optional fields are in `data` only when set (as the seed payloads had them)
    r = Routing("cascade", "moderate", "why", ["a", "b"], "optimistic")
    assert "policy" not in r.data and "budget" not in r.data
    assert Routing("direct", "simple", "p", ["a"], "buffered", policy={"name": "p"}).data["policy"] == {"name": "p"}
    assert ToolCallComplete(0, {"id": "c", "name": "n", "arguments": {}}, True, None, "m").tool_call["id"] == "c"
    assert r.tool_call is None and r.content == "" and r.delta == ""


async def test_a_stream_is_typed_events_and_each_to_dict_is_json(module_replay_server) -> None:
    server = module_replay_server
    say(server, CHEAP, "I am not sure.")
    say(server, STRONG, "Paris is the capital.")
    agent = CascadeAgent([model(server, CHEAP), model(server, STRONG)], validator=reject)
    events = [e async for e in agent.stream_events("Capital of France?")]
    assert [type(e) for e in events if type(e) is not TextChunk] == [Routing, DraftDecision, Switch, Complete]
    decision = next(e for e in events if isinstance(e, DraftDecision))
    switch = next(e for e in events if isinstance(e, Switch))
    assert not decision.accepted and decision.model == CHEAP and decision.index == 0
    assert switch.to_model == STRONG and switch.retract_chars == len("I am not sure.")
    complete = events[-1]
    assert isinstance(complete, Complete) and complete.result.model_used == STRONG
    for e in events:
        d = e.to_dict()
        json.dumps(d)  # JSON-friendly, result included
        assert d["type"] == e.type.value
        assert {k: v for k, v in d.items() if k not in ("type", "content", "delta")}.keys() == e.data.keys()
    assert complete.to_dict()["result"]["model_used"] == STRONG
    assert switch.to_dict()["content"] == f"Cascading to {STRONG}"


async def test_tool_stream_events_and_error(module_replay_server) -> None:
    server = module_replay_server
    server.add(CHEAP, Reply(events=openai_stream(CHEAP, words("Checking."), fragment=4,
                                                 tool_calls=[("call_1", "get_weather", '{"location": "Paris"}')])))
    agent = CascadeAgent([model(server, CHEAP)])
    events = [e async for e in agent.stream_events("Weather?", tools=[TOOL])]
    assert {type(e) for e in events} == {Routing, TextChunk, ToolCallStart, ToolCallDelta, ToolCallComplete, Complete}
    assert all(e.type in ToolStreamEventType for e in events)
    start = next(e for e in events if isinstance(e, ToolCallStart))
    done = next(e for e in events if isinstance(e, ToolCallComplete))
    assert (start.index, start.id, start.name) == (0, "call_1", "get_weather")
    assert "".join(e.delta for e in events if isinstance(e, ToolCallDelta)) == '{"location": "Paris"}'
    assert done.tool_call == {"id": "call_1", "name": "get_weather", "arguments": {"location": "Paris"}}
    json.dumps([e.to_dict() for e in events])

    server.add(CHEAP, Reply(status=503, body={"error": {"message": "overloaded"}}))
    failed = [e async for e in agent.stream_events("Again?")]
    assert isinstance(failed[-1], Error) and failed[-1].model == CHEAP
    assert failed[-1].to_dict()["error"] == str(failed[-1].error) and failed[-1].type is StreamEventType.ERROR
