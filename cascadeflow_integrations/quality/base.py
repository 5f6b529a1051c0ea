"""The validation interface used by every path (streaming or not, text or tools, core or adapters)."""

from __future__ import annotations

import abc
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import anyio.to_thread

from ..errors import ConfigError
from ..tools.call import ToolCall
from ..tools.executor import _is_async
from ..types import COMPLEXITIES, Message, TokenLogprob, Usage  # noqa: F401 - COMPLEXITIES re-exported

logger = logging.getLogger("cascadeflow_integrations")

if TYPE_CHECKING:
    from ._model import CheckModel

#: An exception message quoted in a decision is cut to this length (a check may echo a huge input).
_MAX_ERROR_CHARS = 200


@dataclass(slots=True)
class ValidationRequest:
    """What was asked: the messages, the tools offered and the routed complexity."""

    messages: list[Message]
    tools: list[dict[str, Any]] | None = None
    complexity: str = "moderate"
    #: As sent to the model: None/"auto" (tools optional), "required", "none", or {"name": ...}.
    tool_choice: str | dict[str, str] | None = None
    #: The model that made the draft, handed over by the engine: model-based checks call it
    #: (`SelfCheck`, `AgreementCheck`) unless they were given a model of their own.
    draft_model: CheckModel | None = None
    #: The draft's own request settings, so re-samples match it.
    max_tokens: int | None = None
    temperature: float | None = None
    #: Recorded data for offline evaluation: other sampled answers of the draft model (texts), and a
    #: self-check result (P(yes), or the verdicts as bools / "yes"/"no" strings). Used instead of calls.
    samples: list[str] | None = None
    self_check: float | list[bool | str] | None = None
    #: Called (once) when a staged validator is about to pay for a model check: the engine may start
    #: the next model then, so an escalation waits for no one (see `speculative_escalation`).
    on_unsure: Callable[[], None] | None = None
    #: Work model checks started with the draft (`AgreementCheck(concurrent=True)`), by check id.
    prefetched: dict[int, Any] = field(default_factory=dict)

    def drop_prefetched(self) -> None:
        """Cancel prefetched work nobody used (the draft failed, or was rejected before validation)."""
        for entry in self.prefetched.values():
            entry[0].cancel()
        self.prefetched.clear()

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
    #: set when the check raised instead of judging: the exception's type and message
    error: str | None = None
    #: model-based checks: what their calls cost (USD), and how many requests they made
    cost: float | None = None
    calls: int = 0
    #: the check had nothing to say (no extractable answer, a failed call): its score is ignored
    neutral: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "passed": self.passed, "score": round(self.score, 4),
                             "detail": self.detail, "error": self.error}
        if self.cost is not None:
            d.update(cost=self.cost, calls=self.calls)
        if self.neutral:
            d["neutral"] = True
        return d


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
    #: requests the validator itself made (model-based checks); 0 when only free checks ran
    calls: int = 0
    #: set when a fitted policy decided: its name, group, estimate and the features that weighed most
    policy: dict[str, Any] | None = None
    #: the features a fitted policy decided on (a `learning.features.FeatureSet`), which the decision log
    #: reuses for this draft; never serialised
    features: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = {
            "accepted": self.accepted,
            "confidence": round(self.confidence, 4),
            "score": round(self.score, 4),
            "reason": self.reason,
            "threshold": self.threshold,
            "checks": [c.to_dict() for c in self.checks],
            "validator_cost": self.cost,
            "validator_calls": self.calls,
        }
        if self.policy is not None:
            d["policy"] = self.policy
        return d


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

    def start(self, request: ValidationRequest) -> None:
        """Called by the engine when a draft starts, before any of it arrives (prefetch here)."""


ValidatorFn = Callable[[ValidationRequest, Draft], Union[bool, Decision, Awaitable[Union[bool, Decision]]]]


class FunctionValidator(Validator):
    """Wraps a plain (sync or async) function returning a bool or a `Decision`.

    A sync function runs in a worker thread, so a slow one (I/O, a model call) never blocks the event
    loop, which sync entry points share between calls; an async one is awaited on the loop.
    """

    def __init__(self, fn: ValidatorFn, name: str | None = None) -> None:
        self.fn = fn
        self.name = str(name or getattr(fn, "__name__", "custom"))

    async def validate(self, request: ValidationRequest, draft: Draft, threshold: float) -> Decision:
        if _is_async(self.fn):
            out = self.fn(request, draft)
        else:
            # On cancellation (timeout, aclose) the thread is abandoned, not waited for.
            out = await anyio.to_thread.run_sync(self.fn, request, draft, abandon_on_cancel=True)
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
    raise ConfigError(
        f"validator {obj!r} is neither a Validator nor a function: pass a Validator subclass instance "
        "or a function (request, draft) -> bool | Decision"
    )


def check_error(name: str, exc: Exception) -> CheckResult:
    """A failed check for a validator or check that raised; logged here, once."""
    logger.warning("validator %r raised %s; the draft is treated as failing", name, type(exc).__name__,
                   exc_info=exc)
    error = f"{type(exc).__name__}: {str(exc)[:_MAX_ERROR_CHARS]}"
    return CheckResult(name, False, 0.0, f"raised {error}", error)


async def validate_safely(validator: Validator, request: ValidationRequest, draft: Draft,
                          threshold: float) -> Decision:
    """`validator.validate`, with an exception (or a non-Decision result) turned into a failed decision."""
    try:
        decision = await validator.validate(request, draft, threshold)
        if not isinstance(decision, Decision):
            raise TypeError(f"validate() returned {type(decision).__name__}, expected a Decision")
        return decision
    except Exception as e:  # noqa: BLE001 - any failure of a check rejects the draft; the request goes on
        check = check_error(validator.name, e)
        return Decision(False, 0.0, 0.0, f"{check.name} failed: {check.detail}", threshold, [check])


def check_partial_safely(validator: Validator, request: ValidationRequest, partial: PartialDraft) -> str | None:
    """`validator.check_partial`, with an exception turned into a reason to abort the draft."""
    try:
        return validator.check_partial(request, partial)
    except Exception as e:  # noqa: BLE001 - see validate_safely
        return f"{validator.name} {check_error(validator.name, e).detail}"
