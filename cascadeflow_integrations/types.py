"""Internal types shared by all layers: messages, the request, and the normalised provider deltas.

Providers turn each SDK's stream into these deltas, so the engine never sees provider specifics.
They are slotted dataclasses because one is built per streamed chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Union

from .tools.call import ToolCall

Role = Literal["system", "user", "assistant", "tool"]
#: the routed complexity levels, easiest first (routing, quality thresholds and the learning features use them)
COMPLEXITIES = ("trivial", "simple", "moderate", "hard", "expert")


@dataclass(slots=True)
class Message:
    """One chat message. `content` is a string or a list of content parts (`{"type": "text", ...}`)."""

    role: Role
    content: str | list[dict[str, Any]] = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    #: a tool result reporting a failure (sent as Anthropic's `is_error`; Chat Completions has no field)
    is_error: bool = False

    @property
    def text(self) -> str:
        """The text of the content, parts joined."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.get("text", "") for p in self.content if isinstance(p, dict))


@dataclass(slots=True)
class Usage:
    """Tokens as billed. `input_tokens` counts every prompt token: fresh ones, cache reads
    (`cached_tokens`) and cache writes (`cache_write_tokens`) are parts of it. `output_tokens`
    includes hidden reasoning tokens (`reasoning_tokens`, billed as output, reported apart)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_tokens + other.cached_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "cached_tokens": self.cached_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


@dataclass(slots=True)
class TokenLogprob:
    token: str
    logprob: float
    top_logprobs: list[tuple[str, float]] = field(default_factory=list)


@dataclass(slots=True)
class ChatRequest:
    """What the engine asks of one model. `tools` are in the universal format."""

    messages: list[Message]
    max_tokens: int | None = None
    temperature: float | None = None
    stop: list[str] | None = None
    tools: list[dict[str, Any]] | None = None
    #: None, "auto", "required", "none", or {"name": tool_name}
    tool_choice: str | dict[str, str] | None = None
    parallel_tool_calls: bool | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: the cascade step asking: "draft", "verifier" or "direct" (None outside a cascade)
    phase: str | None = None
    #: what a member may attach to its own trace run: cascade_phase, cascade_level, cascade_member, and on
    #: escalations cascade_escalated_from / cascade_escalation_reason / cascade_escalation_detail
    metadata: dict[str, Any] = field(default_factory=dict)
    #: opaque per-call object from the adapter that started the cascade (e.g. its callback manager)
    run_context: Any = None

    def sampling_kwargs(self) -> dict[str, Any]:
        """`extra` plus the set ones of max_tokens, temperature, stop: what a framework model's call takes."""
        kwargs = dict(self.extra)
        if self.max_tokens is not None:
            kwargs["max_tokens"] = self.max_tokens
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        if self.stop:
            kwargs["stop"] = self.stop
        return kwargs


# ---- normalised stream deltas -------------------------------------------------------------


@dataclass(slots=True)
class TextDelta:
    text: str
    logprobs: list[TokenLogprob] | None = None


@dataclass(slots=True)
class ToolCallDelta:
    """A tool-call fragment. `id`/`name` come on the first fragment of an index only."""

    index: int
    id: str | None
    name: str | None
    arguments: str


@dataclass(slots=True)
class UsageDelta:
    usage: Usage


@dataclass(slots=True)
class FinishDelta:
    """End of the response. `reason` is normalised: stop, length, tool_calls, content_filter, refusal."""

    reason: str


@dataclass(slots=True)
class ModelDelta:
    """The model name the provider reports (often a dated id)."""

    model: str


Delta = Union[TextDelta, ToolCallDelta, UsageDelta, FinishDelta, ModelDelta]


@dataclass(slots=True)
class Completion:
    """A whole (non-streamed) response, same information as a drained stream."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    model: str | None = None
    logprobs: list[TokenLogprob] | None = None


@dataclass(slots=True)
class Samples:
    """Several answers to one request (model-based checks): completions in choice order.

    `usage` covers every request made (`requests`); `errors` names the requests that failed.
    """

    completions: list[Completion] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    requests: int = 0
    errors: list[str] = field(default_factory=list)


async def gather_samples(complete: Callable[[ChatRequest], Awaitable[Completion]], request: ChatRequest,
                         n: int) -> Samples:
    """`n` concurrent `complete(request)` calls as one `Samples`; a failing call is named in `errors`."""
    results = await asyncio.gather(*(complete(request) for _ in range(n)), return_exceptions=True)
    out = Samples(requests=n)
    for r in results:
        if isinstance(r, Completion):
            out.completions.append(r)
            out.usage = out.usage + r.usage
        elif isinstance(r, Exception):
            out.errors.append(str(r))
        elif isinstance(r, BaseException):
            raise r
    return out
