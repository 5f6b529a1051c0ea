"""GroqProvider replayed from cassettes through the real `groq.AsyncGroq` client."""

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
from cascadeflow_integrations.providers.groq import GroqProvider
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

KEY = api_key("groq")
TOOLS = [
    {
        "name": "get_something_by_name",
        "description": "",
        "parameters": {"type": "object", "properties": {"name": {"type": "string"}}},
    },
    {"name": "get_time", "description": "", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}},
]


def provider(key: str = KEY) -> GroqProvider:
    p = create_provider(ModelConfig(name="llama-3.3-70b-versatile", provider="groq", api_key=key, max_retries=0))
    assert isinstance(p, GroqProvider)
    return p


def ask(text: str = "Say hello.", **kw: Any) -> ChatRequest:
    return ChatRequest(messages=[Message("user", text)], **kw)


async def collect(p: GroqProvider, request: ChatRequest) -> list[Any]:
    out = [d async for d in p.stream(request)]
    await p.aclose()
    return out


@pytest.mark.vcr
async def test_stream_text() -> None:
    deltas = await collect(provider(), ask())
    assert isinstance(deltas[0], ModelDelta) and deltas[-1] == FinishDelta("stop")
    usages = [d.usage for d in deltas if isinstance(d, UsageDelta)]
    assert len(usages) == 1
    if not RECORDING:
        # reasoning deltas are dropped; usage is read from x_groq.usage (no top-level usage here)
        assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "Hello! How can I help?"
        assert (usages[0].input_tokens, usages[0].output_tokens) == (21, 9)


@pytest.mark.vcr
async def test_stream_tool_call() -> None:
    deltas = await collect(provider(), ask("Call both tools.", tools=TOOLS, tool_choice="required"))
    assert deltas[-1] == FinishDelta("tool_calls")
    calls = [d for d in deltas if isinstance(d, ToolCallDelta)]
    if not RECORDING:
        # Groq sends each call whole: exactly one delta per call with id, name and all arguments
        assert calls == [
            ToolCallDelta(0, "fc_bfb39741-3748-4def-9886-a93fc9c64a90", "get_something_by_name", '{"name":"example"}'),
            ToolCallDelta(1, "fc_0c1a6f43-9b1e-4a43-8e0f-5d7e0e1c2b11", "get_time", '{"tz":"UTC"}'),
        ]
        usage = next(d.usage for d in deltas if isinstance(d, UsageDelta))
        assert (usage.input_tokens, usage.output_tokens) == (304, 49)


@pytest.mark.vcr
async def test_complete_tool_call() -> None:
    p = provider()
    image_tool = {
        "name": "get_image",
        "description": "",
        "parameters": {"type": "object", "properties": {"id": {"type": "integer"}}},
    }
    result = await p.complete(ask("Get image 3.", tools=[image_tool], tool_choice="required"))
    await p.aclose()
    assert result.finish_reason == "tool_calls"
    if not RECORDING:
        assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [("911ra51k8", "get_image", {"id": 3})]
        assert (result.usage.input_tokens, result.usage.output_tokens) == (712, 20)


@pytest.mark.vcr
async def test_error_401() -> None:
    bad = "gsk_wrongkey0123456789"
    with pytest.raises(AuthenticationError) as info:
        await collect(provider(bad), ask())
    assert info.value.status_code == 401 and bad not in str(info.value) and bad not in repr(info.value)


@pytest.mark.skipif(RECORDING, reason="hand-written error response; cannot be provoked live")
@pytest.mark.vcr
async def test_error_429_retry_after() -> None:
    with pytest.raises(RateLimitError) as info:
        await collect(provider(), ask())
    assert info.value.retry_after == 3.0 and "Rate limit reached" in str(info.value)


@pytest.mark.skipif(RECORDING, reason="hand-written error response; cannot be provoked live")
@pytest.mark.vcr
async def test_error_503() -> None:
    with pytest.raises(OverloadedError) as info:
        await collect(provider(), ask())
    assert info.value.status_code == 503


@pytest.mark.skipif(RECORDING, reason="hand-written error response; cannot be provoked live")
@pytest.mark.vcr
async def test_midstream_error() -> None:
    seen: list[Any] = []
    p = provider()
    with pytest.raises(StreamInterruptedError) as info:
        async for d in p.stream(ask()):
            seen.append(d)
    await p.aclose()
    assert [d.text for d in seen if isinstance(d, TextDelta)] == ["Hel"]
    assert info.value.status_code == 400 and info.value.error_type == "invalid_request_error"
    assert "tool_use_failed" in str(info.value) and "Tool call validation failed" in str(info.value)


def test_request_body_has_no_stream_options_or_logprobs() -> None:
    body = provider()._body(ask(logprobs=True, top_logprobs=2, max_tokens=10), stream=True)
    assert "stream_options" not in body and "logprobs" not in body and "top_logprobs" not in body
    assert body["max_completion_tokens"] == 10


async def test_missing_key_fails_before_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    p = create_provider(ModelConfig(name="llama-3.3-70b-versatile", provider="groq"))
    with pytest.raises(AuthenticationError, match="set GROQ_API_KEY or pass api_key="):
        await p.complete(ask())
