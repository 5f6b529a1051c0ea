"""Run a validator on recorded data (a prompt and a draft text), with no provider."""

from __future__ import annotations

from collections.abc import Sequence

from .._sync import run_sync
from ..types import TokenLogprob
from .base import Decision, Draft, ValidationRequest, Validator, validate_safely
from .thresholds import Thresholds


def _logprobs(values: Sequence[TokenLogprob | float] | None) -> list[TokenLogprob] | None:
    if values is None:
        return None
    return [v if isinstance(v, TokenLogprob) else TokenLogprob("", float(v)) for v in values]


async def evaluate(
    prompt: str,
    draft_text: str,
    logprobs: Sequence[TokenLogprob | float] | None = None,
    validator: Validator | None = None,
    complexity: str = "moderate",
    threshold: float | None = None,
    finish_reason: str | None = "stop",
) -> Decision:
    """The validator's decision on a recorded draft (default validator and threshold for `complexity`)."""
    from .compose import default_validator

    v = validator or default_validator()
    t = Thresholds().for_(complexity) if threshold is None else threshold
    request = ValidationRequest.from_prompt(prompt, complexity=complexity)
    draft = Draft(text=draft_text, logprobs=_logprobs(logprobs), finish_reason=finish_reason)
    return await validate_safely(v, request, draft, t)


def evaluate_sync(
    prompt: str,
    draft_text: str,
    logprobs: Sequence[TokenLogprob | float] | None = None,
    validator: Validator | None = None,
    complexity: str = "moderate",
    threshold: float | None = None,
    finish_reason: str | None = "stop",
) -> Decision:
    """`evaluate` from sync code (safe inside a running event loop)."""
    return run_sync(evaluate(prompt, draft_text, logprobs, validator, complexity, threshold, finish_reason))
