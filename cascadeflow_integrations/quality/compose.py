"""Composing validators: `AllOf`, `WeightedScore`, and the calibrated `default_validator()`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from ..errors import ConfigError
from ..types import Usage
from ._check import decision_from_checks
from .answer import AnswerPresenceCheck
from .base import (
    CheckResult,
    Decision,
    Draft,
    PartialDraft,
    ValidationRequest,
    Validator,
    ValidatorFn,
    as_validator,
    check_partial_safely,
    validate_safely,
)
from .consistency import ConsistencyCheck
from .validators import CompletenessCheck, LogprobConfidence, PromptDifficultyPrior, RefusalCheck, ToolCallCheck


def _add_usage(a: Usage | None, b: Usage | None) -> Usage | None:
    if a is None:
        return b
    return a if b is None else a + b


class _Composite(Validator):
    def __init__(self, validators: Sequence[Validator | ValidatorFn]) -> None:
        if not validators:
            raise ConfigError("a composite validator needs at least one validator")
        self.validators = [as_validator(v) for v in validators]

    def check_partial(self, request: ValidationRequest, partial: PartialDraft) -> str | None:
        for v in self.validators:
            if why := check_partial_safely(v, request, partial):
                return f"{v.name}: {why}" if not why.startswith(v.name) else why
        return None

    def start(self, request: ValidationRequest) -> None:
        for v in self.validators:
            v.start(request)


class AllOf(_Composite):
    """Every validator must pass; the score is the product (or min) of theirs.

    With `short_circuit`, validators after the first failure are skipped: put costly ones (a judge) last.
    """

    name = "all_of"

    def __init__(
        self,
        validators: Sequence[Validator | ValidatorFn],
        combine: Literal["product", "min"] = "product",
        short_circuit: bool = True,
    ) -> None:
        super().__init__(validators)
        self.combine = combine
        self.short_circuit = short_circuit

    async def validate(self, request: ValidationRequest, draft: Draft, threshold: float) -> Decision:
        checks: list[CheckResult] = []
        scores: list[float] = []
        cost, usage, calls = 0.0, None, 0
        for v in self.validators:
            # Sub-validators run at threshold 0, so "accepted" means "no hard failure"; the threshold
            # applies once, to the combined score.
            d = await validate_safely(v, request, draft, 0.0)
            cost += d.cost
            calls += d.calls
            usage = _add_usage(usage, d.usage)
            scores.append(d.score)
            sub = d.checks or [CheckResult(v.name, d.accepted, d.score, d.reason)]
            if not d.accepted and all(c.passed for c in sub):
                sub = [*sub, CheckResult(v.name, False, d.score, d.reason)]
            checks.extend(sub)
            if not d.accepted and self.short_circuit:
                break
        score = min(scores) if self.combine == "min" else math.prod(scores)
        decision = decision_from_checks(checks, threshold, score)
        decision.cost, decision.usage, decision.calls = cost, usage, calls
        return decision


class WeightedScore(_Composite):
    """Weighted mean of the validators' scores must reach the threshold; no single check is a veto."""

    name = "weighted_score"

    def __init__(self, validators: Sequence[Validator | ValidatorFn], weights: Sequence[float] | None = None) -> None:
        super().__init__(validators)
        weights = list(weights) if weights is not None else [1.0] * len(self.validators)
        if len(weights) != len(self.validators) or any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ConfigError(
                f"WeightedScore needs one non-negative weight per validator ({len(self.validators)}), "
                f"not all zero; got {weights}"
            )
        self.weights = weights

    async def validate(self, request: ValidationRequest, draft: Draft, threshold: float) -> Decision:
        checks: list[CheckResult] = []
        errors: list[CheckResult] = []
        total, cost, usage, calls = 0.0, 0.0, None, 0
        for v, w in zip(self.validators, self.weights):
            d = await validate_safely(v, request, draft, 0.0)
            cost += d.cost
            calls += d.calls
            usage = _add_usage(usage, d.usage)
            total += w * d.score
            raised = [c for c in d.checks if c.error]
            errors.extend(raised)
            checks.append(CheckResult(v.name, d.accepted, d.score, d.reason, raised[0].error if raised else None))
        score = total / sum(self.weights)
        # Individual failures only lower the weighted score here, so judge on the score alone.
        soft = [CheckResult(c.name, True, c.score, c.detail if not c.passed else "") for c in checks]
        decision = decision_from_checks(soft, threshold, score)
        decision.checks, decision.cost, decision.usage, decision.calls = checks, cost, usage, calls
        if errors:
            # A check that could not run says nothing about the draft: never accept on the others alone.
            decision.accepted = False
            decision.reason = "; ".join(f"{c.name} failed: {c.detail}" for c in errors)
        elif not decision.accepted:
            low = [f"{c.name} ({c.score:.2f})" for c in checks if not c.passed or c.score < threshold]
            decision.reason = f"weighted score {score:.2f} below {threshold:.2f}" + (
                f"; low: {', '.join(low)}" if low else ""
            )
        return decision


def default_validator() -> AllOf:
    """The built-in, free (no model calls) composition. Penalties and thresholds were fitted on GSM8K's fit half."""
    return AllOf(
        [
            CompletenessCheck(),
            RefusalCheck(),
            ToolCallCheck(),
            AnswerPresenceCheck(),
            ConsistencyCheck(),
            LogprobConfidence(),
            PromptDifficultyPrior(),
        ],
        combine="product",
        short_circuit=False,
    )
