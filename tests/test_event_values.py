"""Events are values: nothing in a yielded event changes afterwards, text or tools, in any mode."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from replay_helpers import CHEAP, STRONG, model, say

from cascadeflow_integrations import CascadeAgent
from cascadeflow_integrations.replay import Reply
from cascadeflow_integrations.replay.wire import anthropic_stream, openai_stream, words
from cascadeflow_integrations.streaming import ToolStreamEventType as T
from cascadeflow_integrations.tools.json_stream import ProgressiveJSONParser

TOOL = {"name": "save_records", "description": "Store records",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"},
                                                        "records": {"type": "array"}}}}


def exact(prefix: str) -> Any:
    """The exact partial value of a prefix, from a fresh parser fed it in one go."""
    p = ProgressiveJSONParser()
    p.feed(prefix)
    return p.live


def prefix_of(partial: Any, final: Any, seen: dict[tuple[int, int], bool] | None = None) -> bool:
    """Is `partial` a 'prefix' of `final` (keys, elements and string starts, no other data)?

    Memoised on object identity: snapshots share their closed parts, so checking every kept event
    of a large stream stays linear.
    """
    if seen is None:
        seen = {}
    key = (id(partial), id(final))
    if key in seen:
        return seen[key]
    if isinstance(final, dict):
        ok = isinstance(partial, dict) and all(k in final and prefix_of(v, final[k], seen) for k, v in partial.items())
    elif isinstance(final, list):
        ok = (isinstance(partial, list) and len(partial) <= len(final)
              and all(prefix_of(v, f, seen) for v, f in zip(partial, final)))
    elif isinstance(final, str):
        ok = isinstance(partial, str) and final.startswith(partial)
    else:
        ok = type(partial) is type(final) and partial == final
    seen[key] = ok
    return ok


def records(n: int) -> dict[str, Any]:
    return {"query": "store these", "records": [
        {"id": f"r{i:05d}", "note": "café \"quoted\"\n" * (i % 7), "n": i * 1.5, "ok": i % 3 == 0, "tags": ["a", str(i)]}
        for i in range(n)]}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("mode", ["optimistic", "buffered"])
async def test_collected_stream_keeps_every_partial(module_replay_server, provider, mode):
    server = module_replay_server
    args = json.dumps(records(3))
    stream = openai_stream if provider == "openai" else anthropic_stream
    server.add(CHEAP, Reply(events=stream(CHEAP, words("Saving."), tool_calls=[("c1", "save_records", args)],
                                          fragment=7)))
    agent = CascadeAgent([model(server, CHEAP, provider=provider), model(server, STRONG, provider=provider)])
    # The pattern from docs/concepts/events.md: collect first, look later (buffered holds events until accepted).
    events = [e async for e in agent.stream_events("Save them.", tools=[TOOL], streaming_mode=mode)]

    deltas = [e for e in events if e.type is T.TOOL_CALL_DELTA]
    assert len(deltas) == len(range(0, len(args), 7))
    sent = ""
    for e in deltas:
        sent += e.delta
        assert e.data["arguments"] == exact(sent), sent  # what was known at that event, exactly
    assert len({json.dumps(e.data["arguments"]) for e in deltas}) > len(deltas) // 2  # they differ
    final = json.loads(args)
    done = next(e for e in events if e.type is T.TOOL_CALL_COMPLETE)
    assert done.data["tool_call"]["arguments"] == final
    result = events[-1].data["result"]
    assert result.draft_accepted and result.tool_calls[0]["arguments"] == final

    # Changing what the result hands out changes no event.
    kept = copy.deepcopy([e.data for e in events if e.type is not T.COMPLETE])
    result.tool_calls[0]["arguments"]["records"].append("mutated")
    result.tool_calls[0]["arguments"]["query"] = "mutated"
    assert [e.data for e in events if e.type is not T.COMPLETE] == kept


async def test_text_chunk_events_each_own_their_data(module_replay_server):
    say(module_replay_server, CHEAP, "One two three four.")
    agent = CascadeAgent([model(module_replay_server, CHEAP), model(module_replay_server, STRONG)])
    events = [e async for e in agent.stream_events("Count.")]
    chunks = [e for e in events if e.type.value == "chunk"]
    assert len(chunks) == 4 and len({id(e.data) for e in chunks}) == 4
    chunks[0].data["mine"] = True  # a consumer annotating one event
    assert all("mine" not in e.data for e in chunks[1:])
    assert [e.data["provider"] for e in chunks] == ["openai"] * 4


async def test_large_arguments_with_every_event_kept(module_replay_server):
    server = module_replay_server
    args = json.dumps(records(1_500), ensure_ascii=False)  # ~100 KB, one array open throughout
    server.add(CHEAP, Reply(events=openai_stream(CHEAP, [], tool_calls=[("big", "save_records", args)], fragment=16)))
    agent = CascadeAgent([model(server, CHEAP)])
    deltas: list[Any] = []
    samples: dict[int, str] = {}
    sent = ""
    async for e in agent.stream_events("Save all.", tools=[TOOL]):
        if e.type is T.TOOL_CALL_DELTA:
            deltas.append(e)
            sent += e.delta
            if len(deltas) % 500 == 1:  # what a sampled event held when it arrived
                samples[len(deltas) - 1] = json.dumps(e.data["arguments"], ensure_ascii=False)
        elif e.type is T.TOOL_CALL_COMPLETE:
            complete = e
    assert sent == args
    final = json.loads(args)
    assert complete.data["tool_call"]["arguments"] == final
    memo: dict[tuple[int, int], bool] = {}
    assert all(prefix_of(e.data["arguments"], final, memo) for e in deltas)
    offset = 0
    for i, e in enumerate(deltas):
        offset += len(e.delta)
        if i in samples:
            assert json.dumps(e.data["arguments"], ensure_ascii=False) == samples[i]  # unchanged since
            assert prefix_of(e.data["arguments"], exact(args[:offset]))  # not ahead of the text
            assert prefix_of(exact(args[: offset - offset // 8]), e.data["arguments"])  # lag <= 1/8
    assert deltas[-1].data["arguments"] == final
