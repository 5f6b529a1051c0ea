"""Tool calls through the engine: streamed events per provider, validation, buffered and guarded modes."""

from __future__ import annotations

import asyncio
import json

import pytest
from replay_helpers import CHEAP, STRONG, collect, kinds, model, say

from cascadeflow_integrations import CascadeAgent
from cascadeflow_integrations.replay import Reply, ReplayServer
from cascadeflow_integrations.replay.wire import anthropic_stream, groq_stream, openai_stream, words
from cascadeflow_integrations.streaming import ToolStreamEvent, ToolStreamEventType as T

pytestmark = pytest.mark.compat

WEATHER = {"name": "get_weather", "description": "Weather for a city",
           "parameters": {"type": "object", "properties": {"location": {"type": "string"},
                                                           "days": {"type": "integer"}},
                          "required": ["location"], "additionalProperties": False}}
PARIS = json.dumps({"location": "Paris", "days": 3})
TOKYO = json.dumps({"location": "Tokyo", "days": 1})


@pytest.fixture
def server():
    s = ReplayServer().start()
    yield s
    s.stop()


STREAMS = {
    "openai": lambda m, text, calls: openai_stream(m, words(text) if text else [], tool_calls=calls, fragment=5),
    "anthropic": lambda m, text, calls: anthropic_stream(m, words(text) if text else [], tool_calls=calls, fragment=5),
    "groq": lambda m, text, calls: groq_stream(m, words(text) if text else [], tool_calls=calls),
}


@pytest.mark.parametrize("provider", ["openai", "anthropic", "groq"])
async def test_tool_call_streams_start_deltas_complete(server, provider):
    server.add(CHEAP, Reply(events=STREAMS[provider](CHEAP, "Checking now.", [("call_1", "get_weather", PARIS)])))
    a = CascadeAgent([model(server, CHEAP, provider=provider), model(server, STRONG, provider=provider)])
    events = await collect(a.stream_events("Weather in Paris?", tools=[WEATHER]))
    assert all(isinstance(e, ToolStreamEvent) for e in events)
    deltas = "tool_call_delta" if provider == "groq" else "tool_call_delta*"  # Groq: the whole call at once
    assert kinds(events) == ["routing", "text_chunk*", "tool_call_start", deltas, "tool_call_complete",
                             "draft_decision", "complete"]
    start = next(e for e in events if e.type is T.TOOL_CALL_START)
    assert start.data["index"] == 0 and start.data["id"] == "call_1" and start.data["name"] == "get_weather"
    fragments = [e.delta for e in events if e.type is T.TOOL_CALL_DELTA]
    assert "".join(fragments) == PARIS
    partials = [e.data["arguments"] for e in events if e.type is T.TOOL_CALL_DELTA]
    assert partials[-1] == {"location": "Paris", "days": 3}
    done = next(e for e in events if e.type is T.TOOL_CALL_COMPLETE)
    assert done.data["tool_call"] == {"id": "call_1", "name": "get_weather", "arguments": {"location": "Paris", "days": 3}}
    assert done.tool_call == done.data["tool_call"]
    result = events[-1].data["result"]
    assert result["tool_calls"] == [{"id": "call_1", "name": "get_weather", "arguments": {"location": "Paris", "days": 3}}]
    assert result.draft_accepted and result.content == "Checking now."


async def test_partial_arguments_grow_with_each_fragment(server):
    server.add(CHEAP, Reply(events=openai_stream(CHEAP, [], tool_calls=[("c", "get_weather", PARIS)], fragment=3)))
    seen = []
    async for e in CascadeAgent([model(server, CHEAP), model(server, STRONG)]).stream_events(
            "Weather?", tools=[WEATHER]):
        if e.type is T.TOOL_CALL_DELTA:
            # each event carries its own snapshot of the partial arguments
            seen.append(json.dumps(e.data["arguments"]))
    assert len(seen) == len(range(0, len(PARIS), 3))
    assert '{"location": "Pari"}' in seen  # an unfinished string shows as it grows
    assert seen[-1] == PARIS and len(set(seen)) == 5


async def test_parallel_calls_each_start_to_complete_in_turn(server):
    server.add(CHEAP, Reply(events=openai_stream(CHEAP, [], tool_calls=[("c1", "get_weather", PARIS),
                                                                        ("c2", "get_weather", TOKYO)])))
    events = await collect(CascadeAgent([model(server, CHEAP), model(server, STRONG)]).stream_events(
        "Paris and Tokyo?", tools=[WEATHER]))
    tool_events = [(e.type.name, e.data["index"]) for e in events if e.type.name.startswith("TOOL_CALL")]
    starts = [i for i, (k, _) in enumerate(tool_events) if k == "TOOL_CALL_START"]
    completes = [i for i, (k, _) in enumerate(tool_events) if k == "TOOL_CALL_COMPLETE"]
    assert [tool_events[i][1] for i in starts] == [0, 1] and [tool_events[i][1] for i in completes] == [0, 1]
    assert completes[0] < starts[1]  # call 0 completes before call 1 starts
    assert [c["arguments"]["location"] for c in events[-1].data["result"].tool_calls] == ["Paris", "Tokyo"]


@pytest.mark.parametrize("args, check", [
    (json.dumps({"location": "Paris", "days": "three"}), "tool_calls"),  # wrong type
    (json.dumps({"days": 2}), "tool_calls"),  # missing required
    ('{"location": "Par', "tool_calls"),  # unparseable
])
async def test_invalid_tool_call_escalates_with_the_check_named(server, args, check):
    server.add(CHEAP, Reply(events=openai_stream(CHEAP, [], tool_calls=[("bad", "get_weather", args)])))
    server.add(STRONG, Reply(events=openai_stream(STRONG, [], tool_calls=[("good", "get_weather", PARIS)])))
    a = CascadeAgent([model(server, CHEAP), model(server, STRONG)])
    events = await collect(a.stream_events("Weather?", tools=[WEATHER], streaming_mode="buffered"))
    decision = next(e for e in events if e.type is T.DRAFT_DECISION)
    assert decision.data["accepted"] is False
    failed = [c["name"] for c in decision.data["checks"] if not c["passed"]]
    assert check in failed, decision.data
    # Buffered: no tool event of the rejected draft reached the consumer.
    ids = [e.data.get("id") for e in events if e.type is T.TOOL_CALL_START]
    assert ids == ["good"]
    assert events[-1].data["result"].tool_calls[0]["id"] == "good"


async def test_unknown_tool_escalates(server):
    server.add(CHEAP, Reply(events=openai_stream(CHEAP, [], tool_calls=[("x", "get_stock", '{"s": "A"}')])))
    server.add(STRONG, Reply(events=openai_stream(STRONG, [], tool_calls=[("y", "get_weather", PARIS)])))
    events = await collect(CascadeAgent([model(server, CHEAP), model(server, STRONG)]).stream_events(
        "Weather?", tools=[WEATHER], streaming_mode="buffered"))
    decision = next(e for e in events if e.type is T.DRAFT_DECISION)
    assert not decision.data["accepted"] and "get_stock" in decision.data["reason"]


async def test_text_answer_with_optional_tools_is_acceptable(server):
    say(server, CHEAP, "Hello! How can I help you today?")
    events = await collect(CascadeAgent([model(server, CHEAP), model(server, STRONG)]).stream_events(
        "Hi, how are you?", tools=[WEATHER]))
    assert events[-1].data["result"].draft_accepted  # the reference always escalates this


async def test_guarded_mode_aborts_a_refusing_draft_early(server):
    refusal = "I'm sorry, but I can't help with that. " + "Filler words keep coming here. " * 60
    server.add(CHEAP, Reply(events=openai_stream(CHEAP, words(refusal)), delay=0.01))
    say(server, STRONG, "Here is the real answer.")
    a = CascadeAgent([model(server, CHEAP), model(server, STRONG)])
    events = await collect(a.stream_events("Summarise Hamlet.", streaming_mode="guarded", max_tokens=500))
    switch = next(e for e in events if e.type.name == "SWITCH")
    assert switch.data["reason"] == "aborted" and "refusal" in switch.data["detail"]
    assert switch.data["retract_chars"] == 0  # guarded holds the draft: nothing to take back
    assert not any(e.type.name == "CHUNK" and e.data["phase"] == "draft" for e in events)
    r = events[-1].data["result"]
    assert r.content == "Here is the real answer."
    draft = r.attempts[0]
    assert draft.aborted and draft.chunks < 30 and draft.usage_estimated
    assert r.tokens_saved_by_abort == 500 - draft.chunks and r.time_saved_by_abort_ms > 0
    for _ in range(100):  # the draft's HTTP stream was closed long before its end
        if server.stats.disconnected:
            break
        await asyncio.sleep(0.01)
    assert server.stats.disconnected == 1


async def test_guarded_mode_aborts_tool_arguments_that_break_the_schema(server):
    bad = json.dumps({"location": "Paris", "unit": "kelvin", "days": 3})  # "unit" is not allowed
    server.add(CHEAP, Reply(events=openai_stream(CHEAP, [], tool_calls=[("b", "get_weather", bad)], fragment=4)))
    server.add(STRONG, Reply(events=openai_stream(STRONG, [], tool_calls=[("g", "get_weather", PARIS)])))
    events = await collect(CascadeAgent([model(server, CHEAP), model(server, STRONG)]).stream_events(
        "Weather?", tools=[WEATHER], streaming_mode="guarded"))
    switch = next(e for e in events if e.type is T.SWITCH)
    assert switch.data["reason"] == "aborted" and "unit" in switch.data["detail"]
    assert events[-1].data["result"].tool_calls[0]["id"] == "g"


@pytest.mark.parametrize("tools, choice, fragment", [
    ([{"type": "function", "function": WEATHER}], {"type": "function", "function": {"name": "nope"}}, "nope"),
    ([{"description": "no name"}], None, "name"),
    ([WEATHER], "sometimes", "tool_choice"),
])
async def test_bad_tool_input_is_rejected_before_any_request(server, tools, choice, fragment):
    a = CascadeAgent([model(server, CHEAP), model(server, STRONG)])
    with pytest.raises(ValueError, match=fragment):
        a.stream_events("q", tools=tools, tool_choice=choice)
    assert server.stats.requests == []


async def test_openai_and_anthropic_tool_formats_are_normalised_on_the_wire(server):
    anthropic_style = {"name": "get_weather", "description": "Weather", "input_schema": WEATHER["parameters"]}
    server.add(CHEAP, Reply(events=openai_stream(CHEAP, [], tool_calls=[("c", "get_weather", PARIS)])))
    await CascadeAgent([model(server, CHEAP), model(server, STRONG)]).run(
        "Weather?", tools=[anthropic_style], tool_choice="required")
    sent = server.stats.requests[0]
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["tools"][0]["function"]["parameters"] == WEATHER["parameters"]
    assert sent["tool_choice"] == "required"
