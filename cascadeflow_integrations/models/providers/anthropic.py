"""Anthropic Messages through `anthropic.AsyncAnthropic`, SSE decoded from raw bytes.

Usage is normalised like OpenAI's: `input_tokens` counts every prompt token (Anthropic's
`input_tokens` + `cache_creation_input_tokens` + `cache_read_input_tokens`), `cached_tokens` the
cache reads, `cache_write_tokens` the cache writes. `ModelConfig(cache_control=...)` marks cache
breakpoints (tools, system prompt, last messages). A mid-stream `event: error` (HTTP 200 already sent) raises `StreamInterruptedError`
with `error_type` set to Anthropic's type, e.g. `overloaded_error`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from ..config import ModelConfig
from ..normalize import finish_reason
from ...errors import ProviderError
from ...tools.call import ToolCall, ToolCallFormat
from ...types import (
    ChatRequest,
    Completion,
    Delta,
    FinishDelta,
    ModelDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageDelta,
)
from ._client import ClientCache, http_client, split_params
from ._convert import anthropic_cache_breakpoints, anthropic_messages, anthropic_tool_choice, anthropic_tools
from ._errors import is_sdk_or_transport_error, truncated_stream_error
from ._sse import SSEDecoder, loads
from .base import Provider

__all__ = ["DEFAULT_MAX_TOKENS", "AnthropicProvider"]

#: Anthropic requires max_tokens; used when neither the request nor the config sets one.
DEFAULT_MAX_TOKENS = 4096

def _usage(u: dict[str, Any]) -> Usage:
    # Anthropic's input_tokens are only the tokens after the last cache breakpoint: reads and writes come apart
    read = u.get("cache_read_input_tokens") or 0
    created = u.get("cache_creation_input_tokens") or 0
    return Usage((u.get("input_tokens") or 0) + read + created, u.get("output_tokens") or 0, read, created)


class AnthropicProvider(Provider):
    """Claude models."""

    sdk = "anthropic"
    sdk_module = "anthropic"
    #: anthropic's request tracing imports it on the first request when OpenTelemetry is installed
    sdk_lazy_modules = ("opentelemetry.propagate",)
    supports_logprobs = False

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self._clients: ClientCache[Any] = ClientCache(config, self._make_client)

    def _make_client(self, **kwargs: Any) -> Any:
        import anthropic

        return anthropic.AsyncAnthropic(**http_client(anthropic), **kwargs)

    async def aclose(self) -> None:
        await self._clients.aclose()

    def _body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        system, messages = anthropic_messages(request.messages)
        max_tokens = request.max_tokens or self.config.max_output_tokens or DEFAULT_MAX_TOKENS
        body: dict[str, Any] = {"model": self.config.name, "messages": messages, "max_tokens": max_tokens}
        if stream:
            body["stream"] = True
        if system:
            body["system"] = system
        if request.temperature is not None:
            # not a `create` parameter on anthropic>=1: split_params routes it through extra_body
            body["temperature"] = request.temperature
        if request.stop:
            body["stop_sequences"] = request.stop
        if request.tools:
            body["tools"] = anthropic_tools(request.tools)
        choice = anthropic_tool_choice(request.tool_choice, request.parallel_tool_calls if request.tools else None)
        if choice is not None:
            body["tool_choice"] = choice
        body.update(self.config.extra_params)
        body.update(request.extra)
        if self.config.cache_control is not None:
            anthropic_cache_breakpoints(body, self.config.cache_control)
        return body

    async def stream(self, request: ChatRequest) -> AsyncGenerator[Delta, None]:
        await self.ready()
        messages_api = self._clients.get().messages  # raises AuthenticationError before any network call
        kwargs = split_params(type(messages_api).create, self._body(request, stream=True))
        decoder = SSEDecoder()
        tool_index: dict[int, int] = {}  # content block index -> 0-based tool call index
        start_usage: dict[str, Any] = {}
        stop_reason: str | None = None
        started = False
        failure: ProviderError | None = None
        done = False
        try:
            async with messages_api.with_streaming_response.create(**kwargs) as resp:
                started = True
                async for chunk in resp.http_response.aiter_bytes():
                    if done:
                        # Read to the end of the body (it ends right after the end marker) so the
                        # connection goes back to the pool instead of being dropped.
                        continue
                    for _event, data in decoder.feed(chunk):
                        obj = loads(data)
                        kind = obj.get("type")
                        if kind == "content_block_delta":
                            delta = obj["delta"]
                            dtype = delta.get("type")
                            if dtype == "text_delta":
                                if delta["text"]:
                                    yield TextDelta(delta["text"])
                            elif dtype == "input_json_delta":
                                idx = tool_index.get(obj["index"])
                                if idx is not None and delta.get("partial_json"):
                                    yield ToolCallDelta(idx, None, None, delta["partial_json"])
                            # thinking_delta, signature_delta, citations_delta: dropped on purpose
                        elif kind == "content_block_start":
                            block = obj["content_block"]
                            btype = block.get("type")
                            if btype == "tool_use":
                                idx = tool_index[obj["index"]] = len(tool_index)
                                start_input = block.get("input")
                                yield ToolCallDelta(
                                    idx, block["id"], block["name"], json.dumps(start_input) if start_input else ""
                                )
                            elif btype == "text" and block.get("text"):
                                yield TextDelta(block["text"])
                        elif kind == "message_start":
                            message = obj["message"]
                            start_usage = message.get("usage") or {}
                            yield ModelDelta(message["model"])
                        elif kind == "message_delta":
                            stop_reason = (obj.get("delta") or {}).get("stop_reason") or stop_reason
                            final = obj.get("usage")
                            if final is not None:
                                # message_delta usage is cumulative; input fields may be absent
                                yield UsageDelta(
                                    _usage({**start_usage, **{k: v for k, v in final.items() if v is not None}})
                                )
                        elif kind == "message_stop":
                            done = True
                            break
                        elif kind == "error":
                            raise self._stream_error(obj)
                        # ping and unknown event types are ignored
                else:
                    for _event, data in decoder.flush():
                        obj = loads(data)
                        if obj.get("type") == "error":
                            raise self._stream_error(obj)
                        done = done or obj.get("type") == "message_stop"
        except ProviderError:
            raise
        except Exception as exc:
            if not is_sdk_or_transport_error(exc):
                raise
            failure = self._error(exc, started)
        if failure is not None:
            raise failure  # outside the handler, so the SDK's exception is not chained
        if not done and stop_reason is None:
            raise truncated_stream_error(provider=self.config.provider, model=self.config.name)
        yield FinishDelta(finish_reason(stop_reason) or "stop")

    async def complete(self, request: ChatRequest) -> Completion:
        await self.ready()
        messages_api = self._clients.get().messages
        kwargs = split_params(type(messages_api).create, self._body(request, stream=False))
        obj = await self._fetch_json(messages_api.with_streaming_response.create, kwargs)
        if obj.get("type") == "error":
            raise self._stream_error(obj)
        text: list[str] = []
        calls: list[ToolCall] = []
        for block in obj.get("content") or ():
            btype = block.get("type")
            if btype == "text":
                text.append(block.get("text") or "")
            elif btype == "tool_use":
                calls.append(
                    ToolCall(
                        id=block["id"],
                        name=block["name"],
                        arguments=block.get("input") or {},
                        provider_format=ToolCallFormat.ANTHROPIC,
                    )
                )
        usage = obj.get("usage")
        return Completion(
            text="".join(text),
            tool_calls=calls,
            usage=_usage(usage) if usage else Usage(),
            finish_reason=finish_reason(obj.get("stop_reason")) or "stop",
            model=obj.get("model"),
        )
