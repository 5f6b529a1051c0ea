"""Run a validator on recorded data (a prompt and a draft text, optionally samples and self-check results), with no provider."""

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


def recorded_validator(samples: Sequence[str] | None, self_check: object) -> Validator:
    """The default validator for recorded data: the free checks, staged with the checks the data feeds."""
    from .agreement import AgreementCheck
    from .compose import default_validator
    from .selfcheck import SelfCheck
    from .staged import Staged

    checks = ([AgreementCheck()] if samples is not None else []) + ([SelfCheck()] if self_check is not None else [])
    return Staged(default_validator(), checks) if checks else default_validator()


def _check_recorded(samples: Sequence[str] | None, self_check: object) -> None:
    if samples is not None and (isinstance(samples, str) or not all(isinstance(s, str) for s in samples)):
        raise ValueError("samples must be a list of answer texts (strings), e.g. samples=['18', 'It is 18.']")
    bad_p = isinstance(self_check, (int, float)) and not isinstance(self_check, bool) and not 0 <= self_check <= 1
    if bad_p or (self_check is not None and not isinstance(self_check, (int, float, list, tuple))):
        raise ValueError("self_check must be P(yes) in [0, 1] or a list of verdicts (True/False or 'yes'/'no'), "
                         f"got {self_check!r}")


async def evaluate(
    prompt: str,
    draft_text: str,
    logprobs: Sequence[TokenLogprob | float] | None = None,
    validator: Validator | None = None,
    complexity: str = "moderate",
    threshold: float | None = None,
    finish_reason: str | None = "stop",
    *,
    samples: Sequence[str] | None = None,
    self_check: float | Sequence[bool | str] | None = None,
) -> Decision:
    """The validator's decision on a recorded draft (default validator and threshold for `complexity`).

    `samples` (other answers of the draft model) and `self_check` (P(yes), or recorded verdicts) feed
    `AgreementCheck` and `SelfCheck` instead of model calls; with either and no `validator`, the
    default is the free checks staged with those checks (`Staged`), scored at every threshold.
    """
    _check_recorded(samples, self_check)
    v = validator or recorded_validator(samples, self_check)
    t = Thresholds().for_(complexity) if threshold is None else threshold
    request = ValidationRequest.from_prompt(prompt, complexity=complexity)
    request.samples = list(samples) if samples is not None else None
    request.self_check = list(self_check) if isinstance(self_check, (list, tuple)) else self_check  # type: ignore[assignment]
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
    *,
    samples: Sequence[str] | None = None,
    self_check: float | Sequence[bool | str] | None = None,
) -> Decision:
    """`evaluate` from sync code (safe inside a running event loop)."""
    return run_sync(evaluate(prompt, draft_text, logprobs, validator, complexity, threshold, finish_reason,
                             samples=samples, self_check=self_check))
