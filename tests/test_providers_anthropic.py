"""AnthropicProvider replayed from cassettes through the real `anthropic.AsyncAnthropic` client."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import RECORDING, api_key

from cascadeflow_integrations.config import ModelConfig
from cascadeflow_integrations.errors import (
    AuthenticationError,
    OverloadedError,
    RateLimitError,
    StreamInterruptedError,
)
from cascadeflow_integrations.providers import create_provider
from cascadeflow_integrations.providers._client import split_params
from cascadeflow_integrations.providers.anthropic import AnthropicProvider
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

KEY = api_key("anthropic")
TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
    {
        "name": "get_time",
        "description": "Time",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
    },
]


def provider(key: str = KEY) -> AnthropicProvider:
    p = create_provider(ModelConfig(name="claude-haiku-4-5", provider="anthropic", api_key=key, max_retries=0))
    assert isinstance(p, AnthropicProvider)
    return p


def ask(text: str = "What is 1+1?", **kw: Any) -> ChatRequest:
    return ChatRequest(messages=[Message("user", text)], **kw)


async def collect(p: AnthropicProvider, request: ChatRequest) -> list[Any]:
    out = [d async for d in p.stream(request)]
    await p.aclose()
    return out


@pytest.mark.vcr
async def test_stream_text() -> None:
    deltas = await collect(provider(), ask())
    assert isinstance(deltas[0], ModelDelta) and isinstance(deltas[-1], FinishDelta)
    assert deltas[-1].reason == "stop"
    usages = [d.usage for d in deltas if isinstance(d, UsageDelta)]
    assert len(usages) == 1
    if not RECORDING:
        assert deltas[0].model == "claude-haiku-4-5-20251001"
        assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "1 + 1 = 2"
        # input counts cache reads too (OpenAI semantics); cached_tokens = cache reads
        assert (usages[0].input_tokens, usages[0].output_tokens, usages[0].cached_tokens) == (32, 9, 12)


@pytest.mark.vcr
async def test_stream_tool_use() -> None:
    deltas = await collect(provider(), ask("Weather and time in Paris?", tools=TOOLS, tool_choice="required"))
    assert deltas[-1] == FinishDelta("tool_calls")
    calls: dict[int, dict[str, str]] = {}
    for d in deltas:
        if isinstance(d, ToolCallDelta):
            c = calls.setdefault(d.index, {"id": "", "name": "", "args": ""})
            c["id"] = d.id or c["id"]
            c["name"] = d.name or c["name"]
            c["args"] += d.arguments
    assert sorted(calls) == list(range(len(calls)))  # 0-based tool indexes, not content block indexes
    parsed = [ToolCall(c["id"], c["name"], c["args"]) for _, c in sorted(calls.items())]
    assert all(c.parse_error is None for c in parsed)
    if not RECORDING:
        assert [(c.id, c.name, c.arguments) for c in parsed] == [
            ("toolu_01HvuPWLBKXAjrgSopemSzaM", "get_weather", {"city": "Paris"}),
            ("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_time", {"tz": "Europe/Paris"}),
        ]
        # the thinking block is dropped; only the text block's text is yielded
        assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "I'll look both up."
        usage = next(d.usage for d in deltas if isinstance(d, UsageDelta))
        assert (usage.input_tokens, usage.output_tokens) == (696, 52)


@pytest.mark.vcr
async def test_complete_tool_use() -> None:
    tool = {"name": "get_user_country", "description": "", "parameters": {"type": "object", "properties": {}}}
    p = provider()
    result = await p.complete(ask("Where am I?", tools=[tool], tool_choice="required"))
    await p.aclose()
    assert result.finish_reason == "tool_calls"
    assert [c.name for c in result.tool_calls] == ["get_user_country"]
    if not RECORDING:
        assert result.text == "Let me check."
        assert result.tool_calls[0].id == "toolu_01X9wcHKKAZD9tBC711xipPa"
        assert (result.usage.input_tokens, result.usage.output_tokens) == (445, 23)


@pytest.mark.vcr
async def test_error_401() -> None:
    bad = "sk-ant-wrong-0123456789"
    with pytest.raises(AuthenticationError) as info:
        await collect(provider(bad), ask())
    assert info.value.status_code == 401 and info.value.error_type == "authentication_error"
    assert "invalid x-api-key" in str(info.value) and bad not in str(info.value) and bad not in repr(info.value)


@pytest.mark.skipif(RECORDING, reason="hand-written error response; cannot be provoked live")
@pytest.mark.vcr
async def test_error_429_retry_after() -> None:
    with pytest.raises(RateLimitError) as info:
        await collect(provider(), ask())
    assert info.value.retry_after == 7.0 and info.value.error_type == "rate_limit_error"


@pytest.mark.skipif(RECORDING, reason="hand-written error response; cannot be provoked live")
@pytest.mark.vcr
async def test_error_529() -> None:
    with pytest.raises(OverloadedError) as info:
        await collect(provider(), ask())
    assert info.value.status_code == 529 and info.value.error_type == "overloaded_error"


@pytest.mark.skipif(RECORDING, reason="hand-written error response; cannot be provoked live")
@pytest.mark.vcr
async def test_midstream_overloaded() -> None:
    seen: list[Any] = []
    p = provider()
    with pytest.raises(StreamInterruptedError) as info:
        async for d in p.stream(ask()):
            seen.append(d)
    await p.aclose()
    assert [d.text for d in seen if isinstance(d, TextDelta)] == ["Once upon"]
    assert info.value.error_type == "overloaded_error" and "Overloaded" in str(info.value)
    assert not any(isinstance(d, FinishDelta) for d in seen)


async def test_missing_key_fails_before_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    p = create_provider(ModelConfig(name="claude-haiku-4-5", provider="anthropic"))
    with pytest.raises(AuthenticationError, match="set ANTHROPIC_API_KEY or pass api_key="):
        async for _ in p.stream(ask()):
            pass


def test_request_body() -> None:
    import anthropic

    p = provider()
    call_a = ToolCall("toolu_1", "get_weather", {"city": "Paris"})
    call_b = ToolCall("toolu_2", "get_time", {"tz": "UTC"})
    request = ChatRequest(
        messages=[
            Message("system", "Be brief."),
            Message("user", "Weather?"),
            Message("user", [{"type": "text", "text": "And time?"}]),
            Message("assistant", "Checking.", tool_calls=[call_a, call_b]),
            Message("tool", "sunny", tool_call_id="toolu_1"),
            Message("tool", "noon", tool_call_id="toolu_2"),
            Message("user", "Thanks, summarise."),
        ],
        temperature=0.3,
        stop=["END"],
        tools=TOOLS,
        tool_choice="required",
        parallel_tool_calls=False,
    )
    body = p._body(request, stream=True)
    assert body["system"] == "Be brief." and body["max_tokens"] == 4096 and body["stop_sequences"] == ["END"]
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert body["tools"][0] == {"name": "get_weather", "input_schema": TOOLS[0]["parameters"], "description": "Weather"}
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "Weather?"},
        {"type": "text", "text": "And time?"},
    ]
    assert body["messages"][1]["content"][1:] == [
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {"tz": "UTC"}},
    ]
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "noon"},
        {"type": "text", "text": "Thanks, summarise."},
    ]
    kwargs = split_params(anthropic.resources.messages.AsyncMessages.create, body)
    major = int(anthropic.__version__.split(".")[0])
    # anthropic>=1 dropped `temperature` from create(): it must travel in extra_body there
    assert ("temperature" in kwargs.get("extra_body", {})) == (major >= 1)
