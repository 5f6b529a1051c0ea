"""One normaliser for what every model reports differently: finish reasons, logprobs, streamed tool calls.

Providers (OpenAI, Groq, Anthropic) and members (LangChain, LlamaIndex) call these, so a spelling is
mapped, and a tool call assembled, the same way whichever model answered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ..tools.call import ToolCall, ToolCallFormat
from ..types import TokenLogprob, ToolCallDelta

__all__ = ["FINISH_REASONS", "PartialCall", "ToolCallAccumulator", "chat_logprobs", "finish_reason"]

#: every finish / stop reason spelling seen, mapped to ours: stop, length, tool_calls, content_filter, refusal
FINISH_REASONS: dict[str, str] = {
    # OpenAI, Groq and compatible servers (Chat Completions), LangChain / LlamaIndex OpenAI models
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "refusal": "refusal",
    # Anthropic (Messages), LangChain / LlamaIndex Anthropic models
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    # Google (LangChain's Gemini models)
    "STOP": "stop",
    "MAX_TOKENS": "length",
}


def finish_reason(raw: Any, *, refused: bool = False) -> str | None:
    """Our finish reason for a reported one; None when none was reported, "stop" for an unknown one.

    `refused`: the answer was a refusal (OpenAI ends one with "stop" and the text in `refusal`).
    """
    if not raw:
        return "refusal" if refused else None
    norm = FINISH_REASONS.get(raw if type(raw) is str else str(raw), "stop")
    return "refusal" if refused and norm == "stop" else norm


def chat_logprobs(lp: Any) -> list[TokenLogprob] | None:
    """Per-token logprobs from a Chat Completions `logprobs` object (`{"content": [...]}`), as the
    OpenAI wire and LangChain's `response_metadata["logprobs"]` carry them; None when there are none."""
    entries = lp.get("content") if isinstance(lp, dict) else None
    if not entries:
        return None
    return [TokenLogprob(e["token"], e["logprob"], [(t["token"], t["logprob"]) for t in e.get("top_logprobs") or ()])
            for e in entries]


class PartialCall:
    """One streamed tool call so far: its id and name as last sent non-empty, its argument fragments."""

    __slots__ = ("index", "id", "name", "parts")

    def __init__(self, index: int) -> None:
        self.index = index
        self.id = ""
        self.name = ""
        self.parts: list[str] = []

    def merge(self, d: ToolCallDelta) -> None:
        """Add one fragment: a non-empty id or name replaces the one held, arguments are appended."""
        if d.id:
            self.id = d.id
        if d.name:
            self.name = d.name
        if d.arguments:
            self.parts.append(d.arguments)

    def to_call(self, provider_format: ToolCallFormat = ToolCallFormat.OPENAI) -> ToolCall:
        """The call as it stands, arguments joined (and parsed by `ToolCall`)."""
        return ToolCall(id=self.id, name=self.name, arguments="".join(self.parts), provider_format=provider_format)


P = TypeVar("P", bound=PartialCall)


class ToolCallAccumulator(dict[int, P], Generic[P]):
    """`ToolCallDelta`s merged by their index into `PartialCall`s (a dict: index -> call so far).

    `new(index)` makes the state of a call first seen (`PartialCall`, or a subclass holding more).
    It is a dict so the engine's hot path looks a call up with no extra Python call."""

    __slots__ = ("_new",)

    def __init__(self, new: Callable[[int], P]) -> None:
        super().__init__()
        self._new = new

    def open(self, index: int) -> P:
        """Start the call at `index` (not yet seen)."""
        st = self[index] = self._new(index)
        return st

    def add(self, d: ToolCallDelta) -> P:
        """Merge one fragment into its call (started when first seen); returns that call."""
        st = self.get(d.index)
        if st is None:
            st = self.open(d.index)
        st.merge(d)
        return st

    def ordered(self) -> list[P]:
        """The calls in index order."""
        return [self[i] for i in sorted(self)]

    def calls(self, provider_format: ToolCallFormat = ToolCallFormat.OPENAI) -> list[ToolCall]:
        """The whole calls, in index order."""
        return [self[i].to_call(provider_format) for i in sorted(self)]
