"""The validation interface used by every path (streaming or not, text or tools, core or adapters)."""

from __future__ import annotations

import abc
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Union

from ..tools.call import ToolCall
from ..types import Message, TokenLogprob, Usage

COMPLEXITIES = ("trivial", "simple", "moderate", "hard", "expert")


@dataclass(slots=True)
class ValidationRequest:
    """What was asked: the messages, the tools offered and the routed complexity."""

    messages: list[Message]
    tools: list[dict[str, Any]] | None = None
    complexity: str = "moderate"
    #: As sent to the model: None/"auto" (tools optional), "required", "none", or {"name": ...}.
    tool_choice: str | dict[str, str] | None = None

    @property
    def query(self) -> str:
        """The text of the last user message (what the draft must answer)."""
        for m in reversed(self.messages):
            if m.role == "user":
                return m.text
        return ""

    @classmethod
    def from_prompt(cls, prompt: str, **kw: Any) -> ValidationRequest:
        return cls(messages=[Message("user", prompt)], **kw)


@dataclass(slots=True)
class Draft:
    """A finished draft answer."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    logprobs: list[TokenLogprob] | None = None
    usage: Usage | None = None
    model: str | None = None


@dataclass(slots=True)
class PartialDraft:
    """A draft still streaming, updated in place by the engine (guarded mode).

    `text_parts` grows by one piece per chunk; join it only when needed.
    """

    text_parts: list[str] = field(default_factory=list)
    text_len: int = 0
    tool_names: dict[int, str] = field(default_factory=dict)
    tool_arguments: dict[int, Any] = field(default_factory=dict)
    logprobs: list[TokenLogprob] = field(default_factory=list)
    chunks: int = 0

    @property
    def text(self) -> str:
        return "".join(self.text_parts)


@dataclass(slots=True)
class CheckResult:
    name: str
    passed: bool
    score: float = 1.0
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "score": round(self.score, 4), "detail": self.detail}


@dataclass(slots=True)
class Decision:
    """Accept or escalate. `cost`/`usage` count any model calls the validator itself made (a judge)."""

    accepted: bool
    confidence: float
    score: float
    reason: str
    threshold: float
    checks: list[CheckResult] = field(default_factory=list)
    cost: float = 0.0
    usage: Usage | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "confidence": round(self.confidence, 4),
            "score": round(self.score, 4),
            "reason": self.reason,
            "threshold": self.threshold,
            "checks": [c.to_dict() for c in self.checks],
            "validator_cost": self.cost,
        }


class Validator(abc.ABC):
    """Decides whether a draft is good enough. Subclass, or pass a plain function (see `as_validator`)."""

    name: str = "validator"

    @abc.abstractmethod
    async def validate(self, request: ValidationRequest, draft: Draft, threshold: float) -> Decision:
        """Judge a finished draft."""

    def check_partial(self, request: ValidationRequest, partial: PartialDraft) -> str | None:
        """Judge a draft while it streams; return a reason to abort it now, or None.

        Called after every draft chunk in `guarded` mode, so it must be cheap.
        """
        return None


ValidatorFn = Callable[[ValidationRequest, Draft], Union[bool, Decision, Awaitable[Union[bool, Decision]]]]


class FunctionValidator(Validator):
    """Wraps a plain (sync or async) function returning a bool or a `Decision`."""

    def __init__(self, fn: ValidatorFn, name: str | None = None) -> None:
        self.fn = fn
        self.name = str(name or getattr(fn, "__name__", "custom"))

    async def validate(self, request: ValidationRequest, draft: Draft, threshold: float) -> Decision:
        out = self.fn(request, draft)
        if inspect.isawaitable(out):
            out = await out
        if isinstance(out, Decision):
            return out
        ok = bool(out)
        return Decision(
            accepted=ok,
            confidence=1.0 if ok else 0.0,
            score=1.0 if ok else 0.0,
            reason=f"{self.name}: {'passed' if ok else 'failed'}",
            threshold=threshold,
            checks=[CheckResult(self.name, ok, 1.0 if ok else 0.0)],
        )


def as_validator(obj: Validator | ValidatorFn) -> Validator:
    """A `Validator` from a validator or a plain function."""
    if isinstance(obj, Validator):
        return obj
    if callable(obj):
        return FunctionValidator(obj)
    raise ValueError(
        f"validator {obj!r} is neither a Validator nor a function: pass a Validator subclass instance "
        "or a function (request, draft) -> bool | Decision"
    )
