"""The cascade engine end to end: real SDKs over HTTP to the loopback replay server."""

from __future__ import annotations

import asyncio
import time

import pytest

from cascadeflow_integrations import CascadeAgent, ModelConfig

pytestmark = pytest.mark.compat
from cascadeflow_integrations.errors import OverloadedError, ProviderTimeoutError, RateLimitError
from cascadeflow_integrations.replay import Reply, ReplayServer
from cascadeflow_integrations.replay.wire import error_body, openai_stream, words
from cascadeflow_integrations.streaming import StreamEvent, StreamEventType

from replay_helpers import CHEAP, STRONG, accept, agent, collect, kinds, model, reject, say


@pytest.fixture
def server():
    s = ReplayServer().start()
    yield s
    s.stop()


async def test_accepted_draft_order_and_result(server):
    say(server, CHEAP, "Paris is the capital of France.", usage=(12, 8))
    a = CascadeAgent([model(server, CHEAP, cost=0.0006), model(server, STRONG, cost=0.01)], validator=accept)
    events = await collect(a.stream_events("What is the capital of France?"))
    assert kinds(events) == ["routing", "chunk*", "draft_decision", "complete"]
    assert all(isinstance(e, StreamEvent) for e in events)
    chunks = [e for e in events if e.type is StreamEventType.CHUNK]
    assert "".join(c.content for c in chunks) == "Paris is the capital of France."
    assert {c.data["phase"] for c in chunks} == {"draft"}
    assert chunks[0].data == {"model": CHEAP, "phase": "draft", "provider": "openai"}
    decision = events[-2].data
    assert decision["accepted"] is True and {"confidence", "score", "reason", "threshold", "checks"} <= set(decision)
    r = events[-1].data["result"]
    assert r["content"] == r.content == "Paris is the capital of France."
    assert r.model_used == CHEAP and r.draft_accepted is True
    # Cost from reported usage: 20 tokens at $0.0006/1K; baseline: same tokens at the strong price.
    assert r.total_cost == pytest.approx(20 * 0.0006 / 1000)
    assert r.baseline_cost == pytest.approx(20 * 0.01 / 1000)
    assert r.cost_saved == pytest.approx(r.baseline_cost - r.total_cost) and r.cost_saved_is_estimate
    assert r.usage.input_tokens == 12 and r.usage.output_tokens == 8
    assert r.ttft_ms is not None and r.latency_ms >= r.ttft_ms
    assert [x.model for x in r.attempts] == [CHEAP]
    assert server.pending() == []


async def test_escalated_optimistic_order_and_retraction(server):
    say(server, CHEAP, "I am not sure.")
    say(server, STRONG, "Quicksort averages O(n log n).")
    a = agent(server, validator=reject)
    events = await collect(a.stream_events("Complexity of quicksort?", streaming_mode="optimistic"))
    assert kinds(events) == ["routing", "chunk*", "draft_decision", "switch", "chunk*", "complete"]
    switch = next(e for e in events if e.type is StreamEventType.SWITCH)
    assert switch.data["from_model"] == CHEAP and switch.data["to_model"] == STRONG
    assert switch.data["reason"] == "quality_failed"
    assert switch.data["retract_chars"] == len("I am not sure.")
    assert switch.data["retract_chunks"] == len(words("I am not sure."))
    after = events[events.index(switch):]
    assert "".join(e.content for e in after if e.type is StreamEventType.CHUNK) == "Quicksort averages O(n log n)."
    assert {e.data["phase"] for e in after if e.type is StreamEventType.CHUNK} == {"verifier"}
    r = events[-1].data["result"]
    assert r.content == "Quicksort averages O(n log n)." and r.model_used == STRONG and not r.draft_accepted
    assert len(r.decisions) == 1 and r.decisions[0]["accepted"] is False


async def test_buffered_mode_never_shows_rejected_draft(server):
    say(server, CHEAP, "Wrong draft.")
    say(server, STRONG, "Right answer.")
    events = await collect(agent(server, validator=reject).stream_events("q?", streaming_mode="buffered"))
    assert kinds(events) == ["routing", "draft_decision", "switch", "chunk*", "complete"]
    switch = next(e for e in events if e.type is StreamEventType.SWITCH)
    assert switch.data["retract_chars"] == 0 and switch.data["retract_chunks"] == 0
    assert "".join(e.content for e in events if e.type is StreamEventType.CHUNK) == "Right answer."


async def test_buffered_mode_releases_accepted_draft_before_decision(server):
    say(server, CHEAP, "Fine draft.")
    events = await collect(agent(server, validator=accept).stream_events("q?", streaming_mode="buffered"))
    assert kinds(events) == ["routing", "chunk*", "draft_decision", "complete"]
    assert "".join(e.content for e in events if e.type is StreamEventType.CHUNK) == "Fine draft."


async def test_three_model_chain_uses_the_middle_model(server):
    for n, text in (("m-small", "bad"), ("m-mid", "good enough"), ("m-large", "unused")):
        say(server, n, text)
    seen = []

    def only_mid(request, draft):
        seen.append(draft.model)
        return draft.model == "m-mid"

    a = agent(server, "m-small", "m-mid", "m-large", validator=only_mid)
    events = await collect(a.stream_events("q?", streaming_mode="buffered"))
    assert kinds(events) == ["routing", "draft_decision", "switch", "chunk*", "draft_decision", "complete"]
    r = events[-1].data["result"]
    assert r.model_used == "m-mid" and r.content == "good enough" and not r.draft_accepted
    assert seen == ["m-small", "m-mid"]
    assert [x.model for x in r.attempts] == ["m-small", "m-mid"]
    assert server.pending() == ["m-large"]  # never called


async def test_direct_route_when_forced(server):
    say(server, STRONG, "Direct answer.")
    events = await collect(agent(server, validator=reject).stream_events("q?", force_direct=True))
    assert kinds(events) == ["routing", "chunk*", "complete"]
    assert events[0].data["strategy"] == "direct"
    assert {e.data["phase"] for e in events if e.type is StreamEventType.CHUNK} == {"direct"}


async def test_one_model_agent_runs_direct(server):
    say(server, STRONG, "Only me.")
    say(server, STRONG, "Only me again.")
    a = CascadeAgent([model(server, STRONG)])
    assert a.text_streaming_manager is None and a.tool_streaming_manager is None
    events = await collect(a.stream_events("q?"))
    assert kinds(events) == ["routing", "chunk*", "complete"] and events[0].data["strategy"] == "direct"
    r = await a.run("q?")
    assert r.content == "Only me again." and r.model_used == STRONG


async def test_managers_present_with_two_models(server):
    say(server, CHEAP, "ok")
    a = agent(server, validator=accept)
    assert a.text_streaming_manager is not None and a.tool_streaming_manager is not None
    events = await collect(a.text_streaming_manager.stream("q?"))
    assert events[-1].data["result"].content == "ok"


async def test_draft_error_escalates(server):
    server.add(CHEAP, Reply(status=429, body=error_body("openai", 429, "Rate limit reached", "rate_limit_exceeded"),
                            headers={"retry-after": "2"}))
    say(server, STRONG, "Recovered just fine.")
    events = await collect(agent(server, validator=accept).stream_events("q?"))
    assert kinds(events) == ["routing", "draft_decision", "switch", "chunk*", "complete"]
    switch = next(e for e in events if e.type is StreamEventType.SWITCH)
    assert switch.data["reason"] == "draft_error" and isinstance(switch.data["error"], RateLimitError)
    assert switch.data["error"].retry_after == 2
    assert events[-1].data["result"].content == "Recovered just fine."


async def test_final_model_failure_yields_error_and_run_raises(server):
    server.add(STRONG, Reply(status=500, body=error_body("openai", 500, "The server had an error"), ), repeat=True)
    a = agent(server, validator=accept)
    events = await collect(a.stream_events("q?", force_direct=True))
    assert kinds(events) == ["routing", "error"]
    assert isinstance(events[-1].data["error"], OverloadedError) and events[-1].data["model"] == STRONG
    with pytest.raises(OverloadedError):
        await a.run("q?", force_direct=True)


async def test_mid_stream_failure_never_repeats_text(server):
    events_ = openai_stream(STRONG, words("one two three four five"))
    server.add(STRONG, Reply(events=events_, drop_after=3))
    events = await collect(agent(server).stream_events("q?", force_direct=True))
    assert kinds(events) == ["routing", "chunk*", "error"]
    text = "".join(e.content for e in events if e.type is StreamEventType.CHUNK)
    assert text == "one two"  # role chunk + 2 content chunks were sent before the cut
    assert events[-1].data["partial_content"] == "one two"
    assert len(server.stats.requests) == 1  # no retry after the first chunk


async def test_breaking_out_closes_the_http_stream(server):
    say(server, STRONG, " ".join(["tok"] * 200), delay=0.02)
    a = agent(server)
    n = 0
    t_break = 0.0
    async for ev in a.stream_events("q?", force_direct=True):
        if ev.type is StreamEventType.CHUNK:
            n += 1
            if n == 3:
                t_break = time.monotonic()
                break
    for _ in range(100):
        if server.stats.disconnected:
            break
        await asyncio.sleep(0.01)
    assert server.stats.disconnected == 1 and server.stats.completed == 0
    assert server.stats.disconnect_times[0] - t_break < 0.5


async def test_cancelling_the_task_closes_the_http_stream(server):
    say(server, STRONG, " ".join(["tok"] * 200), delay=0.02)
    a = agent(server)
    started = asyncio.Event()

    async def consume():
        async for ev in a.stream_events("q?", force_direct=True):
            if ev.type is StreamEventType.CHUNK:
                started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if server.stats.disconnected:
            break
        await asyncio.sleep(0.01)
    assert server.stats.disconnected == 1 and server.stats.completed == 0


async def test_overall_timeout_ends_with_error(server):
    say(server, STRONG, "slow " * 50, delay=0.05)
    events = await collect(agent(server).stream_events("q?", force_direct=True, timeout=0.3))
    assert events[-1].type is StreamEventType.ERROR
    assert isinstance(events[-1].data["error"], ProviderTimeoutError)


async def test_draft_timeout_escalates(server):
    say(server, CHEAP, "slow " * 50, delay=0.05)
    say(server, STRONG, "fast answer")
    events = await collect(agent(server, validator=accept).stream_events("q?", draft_timeout=0.2,
                                                                          streaming_mode="buffered"))
    switch = next(e for e in events if e.type is StreamEventType.SWITCH)
    assert switch.data["reason"] == "draft_error"
    assert events[-1].data["result"].content == "fast answer"


async def test_system_prompt_and_multi_turn_are_kept_as_messages(server):
    say(server, CHEAP, "ok")
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
               {"role": "user", "content": "And now?"}]
    await agent(server, validator=accept).run(history, system_prompt="Be terse.")
    sent = server.stats.requests[0]["messages"]
    assert sent[0] == {"role": "system", "content": "Be terse."}
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert server.stats.requests[0]["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("kwargs, fragment", [
    ({"query": ""}, "query is empty"),
    ({"query": []}, "empty list"),
    ({"query": "q", "max_tokens": 0}, "max_tokens"),
    ({"query": "q", "max_tokens": -5}, "max_tokens"),
    ({"query": "q", "streaming_mode": "eager"}, "streaming_mode"),
    ({"query": "q", "complexity_hint": "easy"}, "complexity_hint"),
    ({"query": [{"role": "robot", "content": "x"}]}, "role"),
])
async def test_bad_input_is_rejected_before_any_request(server, kwargs, fragment):
    a = agent(server)
    with pytest.raises(ValueError, match=fragment):
        a.stream_events(**kwargs)
    assert server.stats.requests == []


def test_zero_models_is_a_clear_error():
    with pytest.raises(ValueError, match="at least one model"):
        CascadeAgent([])


async def test_run_sync_inside_a_running_loop(server):
    say(server, CHEAP, "sync ok")
    a = agent(server, validator=accept)
    # We are inside pytest-asyncio's running loop: asyncio.run would fail here.
    r = a.run_sync("q?")
    assert r.content == "sync ok"


def test_run_sync_without_a_loop(server):
    say(server, CHEAP, "plain sync")
    assert agent(server, validator=accept).run_sync("q?").content == "plain sync"


async def test_verbose_logs_decisions_and_never_prints(server, capsys, caplog):
    say(server, CHEAP, "ok")
    import logging

    with caplog.at_level(logging.INFO, logger="cascadeflow_integrations"):
        await agent(server, validator=accept, verbose=False).run("q?")
    assert any("decision on gpt-4o-mini: accept" in r.getMessage() for r in caplog.records)
    assert capsys.readouterr().out == ""


def test_api_key_never_in_repr():
    cfg = ModelConfig(name="gpt-4o", provider="openai", api_key="sk-supersecret-value-1234")
    assert "supersecret" not in repr(cfg) and "supersecret" not in str(cfg)
    assert "supersecret" not in repr(CascadeAgent([cfg]))


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_consecutive_calls_reuse_the_connection(server, provider):
    from cascadeflow_integrations.replay.wire import anthropic_stream

    for _ in range(3):
        events_ = (openai_stream(STRONG, words("ok then")) if provider == "openai"
                   else anthropic_stream(STRONG, words("ok then")))
        server.add(STRONG, Reply(events=events_))
    a = CascadeAgent([model(server, STRONG, provider=provider)])
    for _ in range(3):
        assert (await a.run("q?")).content == "ok then"
    # The stream is read to the end of the body, so the pooled connection is reused.
    assert len(server.stats.peers) == 3 and len(set(server.stats.peers)) == 1


async def test_thresholds_are_overridable_per_agent_and_per_call(server):
    for _ in range(3):
        say(server, CHEAP, "The capital of France is Paris.")
    a = CascadeAgent([model(server, CHEAP), model(server, STRONG)], quality_threshold={"trivial": 0.11,
                                                                                       "simple": 0.12})
    ev = [e async for e in a.stream_events("What is the capital of France?", complexity_hint="simple")]
    assert next(e for e in ev if e.type is StreamEventType.DRAFT_DECISION).data["threshold"] == 0.12
    ev = [e async for e in a.stream_events("What is the capital of France?", complexity_hint="simple",
                                           quality_threshold=0.33)]
    assert next(e for e in ev if e.type is StreamEventType.DRAFT_DECISION).data["threshold"] == 0.33
    ev = [e async for e in a.stream_events("What is the capital of France?", complexity_hint="simple",
                                           quality_threshold={"simple": 0.44})]
    assert next(e for e in ev if e.type is StreamEventType.DRAFT_DECISION).data["threshold"] == 0.44


async def test_judge_validator_calls_its_model_and_its_cost_is_counted(server):
    from cascadeflow_integrations.quality import JudgeValidator
    from cascadeflow_integrations.replay.wire import openai_body

    say(server, CHEAP, "The capital of Australia is Sydney.", usage=(15, 8))
    server.add("judge-model", Reply(body=openai_body("judge-model", "VERDICT: INCORRECT\nGRADE: 2", usage=(60, 6))))
    say(server, STRONG, "The capital of Australia is Canberra.", usage=(15, 8))
    judge = JudgeValidator(model=model(server, "judge-model", cost=0.001))
    a = CascadeAgent([model(server, CHEAP, cost=0.0001), model(server, STRONG, cost=0.01)], validator=judge)
    r = await a.run("What is the capital of Australia?")
    assert r.content == "The capital of Australia is Canberra." and not r.draft_accepted
    assert r.validator_cost == pytest.approx(66 * 0.001 / 1000)
    assert r.total_cost == pytest.approx((23 * 0.0001 + 23 * 0.01 + 66 * 0.001) / 1000)
    judged = server.stats.requests[1]
    assert judged["model"] == "judge-model" and "Sydney" in str(judged["messages"])


# verbose=True and logging setup: tests/test_logging.py (subprocesses, since global logging state matters)
