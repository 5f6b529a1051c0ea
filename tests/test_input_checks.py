"""Bad input is a ValueError naming the problem and the fix, before any request (issue 16, item 3).

Every case runs the whole call (`run`) against the loopback replay server with no reply queued, so
input that slipped through would reach the server (and be recorded in `server.stats.requests`).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascadeflow_integrations import CascadeAgent, ModelConfig
from cascadeflow_integrations.errors import BadRequestError
from cascadeflow_integrations.replay import Reply, ReplayServer
from cascadeflow_integrations.replay.wire import error_body
from cascadeflow_integrations.types import Message

from replay_helpers import CHEAP, STRONG, accept, agent, model, say, say_anthropic


@pytest.fixture
def server(module_replay_server: ReplayServer) -> ReplayServer:
    return module_replay_server


CALL = {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}
ASK = {"role": "user", "content": "Weather in Paris?"}


# ---- conversations the providers would reject -------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize(("messages", "fragment"), [
    ([ASK, {"role": "tool", "tool_call_id": "call_1", "content": "18C"}], "does not follow an assistant message"),
    ([ASK, {"role": "assistant", "content": "", "tool_calls": [CALL]},
      {"role": "tool", "tool_call_id": "call_2", "content": "18C"}], "'call_2', which message 1 did not make"),
    ([ASK, {"role": "assistant", "content": "", "tool_calls": [CALL]}], r"made tool call\(s\) \['call_1'\] with no result"),
    ([ASK, {"role": "assistant", "content": "", "tool_calls": [CALL]}, {"role": "user", "content": "and?"}],
     "with no result"),
    ([ASK, {"role": "assistant", "content": "", "tool_calls": [{**CALL, "id": ""}]}], "without an id"),
    ([{"role": "user", "content": ""}], "empty or only whitespace"),
    ([{"role": "user", "content": "  \n\t "}], "empty or only whitespace"),
    ([ASK, {"role": "assistant", "content": "ok"}, {"role": "user", "content": [{"type": "text", "text": " "}]}],
     "message 2 .* empty"),
    ([{"role": "user", "content": 42}], "content is int"),
    ([{"role": "user", "content": {"text": "hi"}}], "content is dict"),
    ([{"role": "user", "content": ["hi"]}], r"content\[0\] is str"),
    ([{"role": "user", "content": [{"type": "text", "text": 5}]}], "without a string 'text'"),
    ([Message("user", 42)], "content is int"),  # type: ignore[arg-type]
    ([ASK, {"role": "assistant", "tool_calls": [{**CALL, "arguments": 7}]}], "arguments are int"),
])
async def test_bad_conversation_is_refused_before_any_request(server, provider, messages, fragment):
    a = CascadeAgent([model(server, CHEAP, provider), model(server, STRONG, provider)])
    with pytest.raises(ValueError, match=fragment):
        await a.run(messages)
    assert server.stats.requests == []


async def test_a_well_formed_tool_round_trip_is_sent(server):
    say(server, CHEAP, "18C in Paris.")
    history = [ASK, {"role": "assistant", "content": "", "tool_calls": [CALL]},
               {"role": "tool", "tool_call_id": "call_1", "content": "18C"}]
    assert (await agent(server, validator=accept).run(history)).content == "18C in Paris."
    assert [m["role"] for m in server.stats.requests[0]["messages"]] == ["user", "assistant", "tool"]


async def test_anthropic_never_gets_a_placeholder_for_an_empty_user_turn(server):
    a = CascadeAgent([model(server, "claude-3-5-haiku", "anthropic")])
    with pytest.raises(ValueError, match="empty"):
        await a.run([{"role": "user", "content": [{"type": "text", "text": ""}]}])
    assert server.stats.requests == []


async def test_empty_assistant_turn_to_anthropic_keeps_the_turn(server):
    say_anthropic(server, "claude-3-5-haiku", "Fine.")
    a = CascadeAgent([model(server, "claude-3-5-haiku", "anthropic")])
    await a.run([{"role": "user", "content": "a"}, {"role": "assistant", "content": "   "},
                 {"role": "user", "content": "b"}])
    sent = server.stats.requests[0]["messages"]
    assert sent[1] == {"role": "assistant", "content": [{"type": "text", "text": "."}]}


# ---- call options ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"temperature": "0.5"}, r"temperature must be a number between 0 and 2 .*'0.5' \(str\)"),
    ({"temperature": True}, "temperature"),
    ({"temperature": math.nan}, "temperature"),
    ({"temperature": 5}, "temperature"),
    ({"stop": 5}, "stop must be"),
    ({"stop": ["ok", 3]}, "stop must be"),
    ({"stop": [""]}, "stop must be"),
    ({"max_tokens": True}, r"max_tokens must be a positive integer .*True \(bool\)"),
    ({"max_tokens": 1.5}, "max_tokens"),
    ({"max_tokens": "100"}, "max_tokens"),
    ({"timeout": "5"}, "timeout must be a number of seconds"),
    ({"draft_timeout": -1}, "draft_timeout"),
    ({"parallel_tool_calls": "yes"}, "parallel_tool_calls"),
    ({"quality_threshold": "0.5"}, "quality_threshold"),
    ({"quality_threshold": 2}, "quality_threshold"),
    ({"quality_threshold": {"simple": "high"}}, r"quality_threshold\['simple'\]"),
    ({"complexity_hint": ["simple"]}, "complexity_hint"),
])
async def test_bad_option_is_refused_before_any_request(server, kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        await agent(server).run("What is 2+2?", **kwargs)
    assert server.stats.requests == []


def test_bad_agent_threshold_fails_at_construction(server):
    with pytest.raises(ValueError, match="quality_threshold must be a number between 0 and 1"):
        agent(server, quality_threshold="0.9")


def test_bad_model_limits_fail_at_construction():
    with pytest.raises(ValueError, match="max_output_tokens must be a positive number"):
        ModelConfig(name="m", max_output_tokens=0)
    with pytest.raises(ValueError, match="context_window"):
        ModelConfig(name="m", context_window=True)


# ---- limits: clamp max_tokens, skip or refuse a model the prompt cannot fit ---------------------------


async def test_max_tokens_is_clamped_to_max_output_tokens(server, caplog):
    say(server, CHEAP, "Four.")
    a = CascadeAgent([model(server, CHEAP, max_output_tokens=100), model(server, STRONG)], validator=accept)
    with caplog.at_level(logging.INFO, logger="cascadeflow_integrations"):
        await a.run("What is 2+2?", max_tokens=5000)
    assert server.stats.requests[0]["max_completion_tokens"] == 100
    assert "max_tokens 5000 is above gpt-4o-mini's max_output_tokens: clamped to 100" in caplog.text


async def test_clamped_per_model(server):
    say(server, CHEAP, "Four.")
    say(server, STRONG, "4")
    a = CascadeAgent([model(server, CHEAP, max_output_tokens=100), model(server, STRONG)], validator=[lambda r, d: False])
    await a.run("What is 2+2?", max_tokens=5000)
    assert [r["max_completion_tokens"] for r in server.stats.requests] == [100, 5000]


async def test_a_draft_too_small_for_the_prompt_is_skipped(server, caplog):
    say(server, STRONG, "A summary.")
    a = CascadeAgent([model(server, CHEAP, context_window=100), model(server, STRONG)], validator=accept)
    with caplog.at_level(logging.WARNING, logger="cascadeflow_integrations"):
        r = await a.run("Summarise: " + "lorem ipsum " * 40, max_tokens=50)  # ~123 tokens + 50 > 100
    assert r.model_used == STRONG and [x.model for x in r.attempts] == [STRONG]
    assert r.accepted_index == 1  # the position in the configured chain, not in the shortened one
    assert [q["model"] for q in server.stats.requests] == [STRONG]
    assert "skipping gpt-4o-mini" in caplog.text


async def test_a_prompt_no_model_can_fit_is_refused(server):
    a = CascadeAgent([model(server, CHEAP, context_window=100), model(server, STRONG, context_window=120)])
    with pytest.raises(ValueError, match=r"does not fit any model: about \d+ tokens .* plus max_tokens 50.*"
                                         r"gpt-4o-mini's context_window is 100; gpt-4o's context_window is 120"):
        await a.run("Summarise: " + "lorem ipsum " * 40, max_tokens=50)
    assert server.stats.requests == []


# ---- a draft's deterministic 400 fails fast ------------------------------------------------------------


def _bad_request(server: ReplayServer, name: str, message: str, status: int = 400) -> None:
    server.add(name, Reply(status=status, body=error_body("openai", status, message, "invalid_request_error")))


async def test_deterministic_400_on_the_draft_fails_fast(server):
    _bad_request(server, CHEAP, "Invalid 'messages[0].content': expected a string, got an object.")
    events = [e async for e in agent(server, validator=accept).stream_events("q?")]
    assert [e.type.value for e in events] == ["routing", "error"]
    assert events[-1].data["model"] == CHEAP and isinstance(events[-1].data["error"], BadRequestError)
    assert [q["model"] for q in server.stats.requests] == [CHEAP]
    _bad_request(server, CHEAP, "Invalid 'messages[0].content': expected a string, got an object.")
    with pytest.raises(BadRequestError):
        await agent(server, validator=accept).run("q?")


@pytest.mark.parametrize(("message", "status"), [
    ("The model `gpt-4o-mini` does not exist or you do not have access to it.", 404),
    ("max_tokens is too large: 50000. This model supports at most 16384 completion tokens.", 400),
    ("Unsupported parameter: 'temperature' is not supported with this model.", 400),
    ("This model's maximum context length is 128000 tokens.", 400),
])
async def test_model_specific_400_on_the_draft_escalates(server, message, status):
    _bad_request(server, CHEAP, message, status)
    say(server, STRONG, "Answer.")
    r = await agent(server, validator=accept).run("q?")
    assert r.model_used == STRONG and [q["model"] for q in server.stats.requests] == [CHEAP, STRONG]


async def test_400_escalates_to_another_provider(server):
    _bad_request(server, CHEAP, "Invalid 'messages[0].content': expected a string.")
    say_anthropic(server, "claude-3-5-haiku", "Answer.")
    a = CascadeAgent([model(server, CHEAP), model(server, "claude-3-5-haiku", "anthropic")], validator=accept)
    assert (await a.run("q?")).model_used == "claude-3-5-haiku"


# ---- property: random bad input is a ValueError, never a TypeError/AttributeError, never a request ----

_junk = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5), st.binary(max_size=5),
                  st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
_bad_temperature = _junk.filter(lambda v: v is not None and not (
    isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 2))
_bad_max_tokens = _junk.filter(lambda v: v is not None and not (
    isinstance(v, int) and not isinstance(v, bool) and v > 0))
_bad_stop = _junk.filter(lambda v: v is not None and not (isinstance(v, str) and v) and not (
    isinstance(v, list) and all(isinstance(s, str) and s for s in v)))
_bad_content = st.one_of(
    _junk.filter(lambda v: not isinstance(v, (str, list)) and v is not None),
    st.text(alphabet=" \t\n\r", max_size=4),
    st.lists(st.one_of(st.integers(), st.text(max_size=3), st.none()), min_size=1, max_size=3),
)
_bad_message = st.one_of(
    _bad_content.map(lambda c: [{"role": "user", "content": c}]),
    _junk.filter(lambda v: not isinstance(v, dict)).map(lambda v: [v]),
    st.sampled_from(["robot", "", None, 3]).map(lambda r: [{"role": r, "content": "hi"}]),
    st.text(min_size=1, max_size=8).map(lambda i: [ASK, {"role": "tool", "tool_call_id": i, "content": "x"}]),
    st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=3, unique=True).map(
        lambda ids: [ASK, {"role": "assistant", "tool_calls": [{**CALL, "id": i} for i in ids]}]),
)
_case = st.one_of(
    st.tuples(st.just("messages"), _bad_message),
    st.tuples(st.just("temperature"), _bad_temperature),
    st.tuples(st.just("max_tokens"), _bad_max_tokens),
    st.tuples(st.just("stop"), _bad_stop),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_case)
def test_random_bad_input_is_a_value_error_and_sends_nothing(server, case: tuple[str, Any]) -> None:
    field, value = case
    a = agent(server)
    kwargs: dict[str, Any] = {field: value} if field != "messages" else {}
    query = value if field == "messages" else "What is 2+2?"
    with pytest.raises(ValueError):
        a.run_sync(query, **kwargs)
    assert server.stats.requests == []
