"""OpenAIProvider replayed from cassettes through the real `openai.AsyncOpenAI` client."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import RECORDING, api_key

from cascadeflow_integrations.config import ModelConfig
from cascadeflow_integrations.errors import (
    AuthenticationError,
    BadRequestError,
    OverloadedError,
    ProviderError,
    RateLimitError,
    StreamInterruptedError,
)
from cascadeflow_integrations.providers import create_provider
from cascadeflow_integrations.providers.openai import OpenAIProvider
from cascadeflow_integrations.tools.call import ToolCall
from cascadeflow_integrations.types import (
    ChatRequest,
    FinishDelta,
    Message,
    ModelDelta,
    TextDelta,
    ToolCallDelta,
    UsageDelta,
)

pytestmark = pytest.mark.compat

KEY = api_key("openai")
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def provider(key: str = KEY) -> OpenAIProvider:
    p = create_provider(ModelConfig(name="gpt-4o-mini", provider="openai", api_key=key, max_retries=0))
    assert isinstance(p, OpenAIProvider)
    return p


def ask(text: str = "What is the capital of the UK?", **kw: Any) -> ChatRequest:
    return ChatRequest(messages=[Message("user", text)], **kw)


async def collect(p: OpenAIProvider, request: ChatRequest) -> list[Any]:
    out = [d async for d in p.stream(request)]
    await p.aclose()
    return out


def check_shape(deltas: list[Any]) -> None:
    """ModelDelta exactly once and first, FinishDelta exactly once and last, one usage."""
    assert isinstance(deltas[0], ModelDelta)
    assert sum(isinstance(d, ModelDelta) for d in deltas) == 1
    assert isinstance(deltas[-1], FinishDelta)
    assert sum(isinstance(d, FinishDelta) for d in deltas) == 1
    assert sum(isinstance(d, UsageDelta) for d in deltas) == 1


@pytest.mark.vcr
async def test_stream_text() -> None:
    deltas = await collect(provider(), ask())
    check_shape(deltas)
    text = "".join(d.text for d in deltas if isinstance(d, TextDelta))
    usage = next(d.usage for d in deltas if isinstance(d, UsageDelta))
    assert deltas[-1].reason == "stop"
    if not RECORDING:
        assert deltas[0].model == "gpt-4o-mini-2024-07-18"
        assert text == "The capital of the UK is London."
        assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens) == (21, 8, 0)
        assert all(d.text for d in deltas if isinstance(d, TextDelta))  # no empty deltas


@pytest.mark.vcr
async def test_stream_parallel_tool_calls() -> None:
    request = ask("Weather in Edinburgh and London?", tools=[WEATHER], tool_choice="required")
    deltas = await collect(provider(), request)
    check_shape(deltas)
    assert deltas[-1].reason == "tool_calls"
    calls: dict[int, dict[str, str]] = {}
    for d in deltas:
        if isinstance(d, ToolCallDelta):
            c = calls.setdefault(d.index, {"id": "", "name": "", "args": ""})
            c["id"] = d.id or c["id"]
            c["name"] = d.name or c["name"]
            c["args"] += d.arguments
    parsed = [ToolCall(c["id"], c["name"], c["args"]) for _, c in sorted(calls.items())]
    assert all(c.name == "get_weather" and c.parse_error is None for c in parsed)
    if not RECORDING:
        assert [(c.id, c.arguments) for c in parsed] == [
            ("call_lQnnsesjFMWMQ5IeWPHzR4th", {"city": "Edinburgh"}),
            ("call_4Rg0pNNrwhHnT5CZ6zxdUF8U", {"city": "London"}),
        ]
        usage = next(d.usage for d in deltas if isinstance(d, UsageDelta))
        assert usage.cached_tokens == 64


@pytest.mark.vcr
async def test_stream_logprobs() -> None:
    deltas = await collect(provider(), ask("Say Foo.", logprobs=True, top_logprobs=2))
    texts = [d for d in deltas if isinstance(d, TextDelta)]
    assert all(d.logprobs for d in texts)
    if not RECORDING:
        assert [d.text for d in texts] == ["Foo", "."]
        first = texts[0].logprobs[0]  # type: ignore[index]
        assert (first.token, first.logprob) == ("Foo", -0.0067602484)
        assert first.top_logprobs == [("Foo", -0.0067602484), ("Bar", -5.25)]


@pytest.mark.vcr
async def test_complete_tool_call() -> None:
    tool = {"name": "get_user_country", "description": "", "parameters": {"type": "object", "properties": {}}}
    p = provider()
    result = await p.complete(ask("Where am I?", tools=[tool], tool_choice="required"))
    await p.aclose()
    assert result.finish_reason == "tool_calls"
    assert [c.name for c in result.tool_calls] == ["get_user_country"]
    if not RECORDING:
        assert result.tool_calls[0].id == "call_iXFttys57ap0o16JSlC8yhYo"
        assert (result.usage.input_tokens, result.usage.output_tokens) == (68, 12)
        assert result.model == "gpt-4o-2024-08-06"


@pytest.mark.vcr
async def test_error_401() -> None:
    bad = "sk-wrong-key-0123456789"
    with pytest.raises(AuthenticationError) as info:
        await collect(provider(bad), ask())
    err = info.value
    assert err.status_code == 401 and err.provider == "openai" and err.model == "gpt-4o-mini"
    assert "Incorrect API key" in str(err) and bad not in str(err) and bad not in repr(err)


@pytest.mark.skipif(RECORDING, reason="hand-written error response; cannot be provoked live")
@pytest.mark.vcr
async def test_error_429_retry_after() -> None:
    with pytest.raises(RateLimitError) as info:
        await collect(provider(), ask())
    assert info.value.status_code == 429
    assert info.value.retry_after == 1.5  # retry-after-ms wins over retry-after
    assert info.value.error_type == "tokens" and "rate_limit_exceeded" in str(info.value)


@pytest.mark.skipif(RECORDING, reason="hand-written error response; cannot be provoked live")
@pytest.mark.vcr
async def test_error_500() -> None:
    with pytest.raises(OverloadedError) as info:
        await collect(provider(), ask())
    assert info.value.status_code == 500 and info.value.error_type == "server_error"


@pytest.mark.skipif(RECORDING, reason="hand-written error response; cannot be provoked live")
@pytest.mark.vcr
async def test_midstream_error() -> None:
    seen: list[Any] = []
    p = provider()
    with pytest.raises(StreamInterruptedError) as info:
        async for d in p.stream(ask()):
            seen.append(d)
    await p.aclose()
    assert [d.text for d in seen if isinstance(d, TextDelta)] == ["The", " capital"]
    assert info.value.error_type == "server_error"
    assert "The server had an error" in str(info.value)


@pytest.mark.skipif(RECORDING, reason="hand-written error response; cannot be provoked live")
@pytest.mark.vcr
async def test_truncated_stream() -> None:
    p = provider()
    with pytest.raises(StreamInterruptedError) as info:
        await collect(p, ask())
    assert info.value.error_type == "truncated"


async def test_missing_key_fails_before_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    p = create_provider(ModelConfig(name="gpt-4o-mini", provider="openai", max_retries=0))
    with pytest.raises(AuthenticationError, match="set OPENAI_API_KEY or pass api_key="):
        await collect(p, ask())  # type: ignore[arg-type]
    with pytest.raises(AuthenticationError):
        await p.complete(ask())


def test_request_body() -> None:
    p = provider()
    call = ToolCall("call_1", "get_weather", '{"city":"Paris"}')
    request = ChatRequest(
        messages=[
            Message("system", "Be brief."),
            Message("user", "Weather?"),
            Message("assistant", "", tool_calls=[call]),
            Message("tool", "sunny", tool_call_id="call_1"),
        ],
        max_tokens=50,
        temperature=0.2,
        stop=["END"],
        tools=[WEATHER],
        tool_choice={"name": "get_weather"},
        parallel_tool_calls=False,
        logprobs=True,
        top_logprobs=3,
        extra={"seed": 7},
    )
    body = p._body(request, stream=True)
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_completion_tokens"] == 50 and body["stop"] == ["END"] and body["seed"] == 7
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False and body["logprobs"] is True and body["top_logprobs"] == 3
    assert body["tools"][0] == {
        "type": "function",
        "function": {"name": "get_weather", "description": "Weather for a city", "parameters": WEATHER["parameters"]},
    }
    assert body["messages"][2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
        ],
    }
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}


def test_repr_has_no_key() -> None:
    p = provider("sk-secret-abcdef123456")
    assert "sk-secret" not in repr(p) and "sk-secret" not in repr(p.config)


def test_error_is_provider_error() -> None:
    assert issubclass(BadRequestError, ProviderError)
