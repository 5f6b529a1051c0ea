"""`Staged`: free checks first; model-based checks are paid for only when the free score is unsure."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..errors import ConfigError
from ._check import decision_from_checks
from ._modelcheck import ModelCheck
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


class Staged(Validator):
    """The free validator decides when its score is clear; otherwise the model checks are asked too.

    With free score `s` and threshold `t`, the model checks run only when `t - below <= s < t + above`
    (the uncertainty band; `band=0.15` or `band=(below, above)`). Then the score is
    `(1 - weight)·s + weight·m` (`m`: the mean of the non-neutral model scores), kept within
    `[s - above, s + below]`. That clamp makes the result the same score at every threshold: a draft
    is accepted exactly when that score reaches `t`, so `calibrate()` can fit `t` from recorded samples.
    A hard failure of a free check (refusal, truncation, a bad tool call) rejects without a model call.

    Most free checks can only find faults; `evidence` names those that can also vouch for a draft
    (verified arithmetic, token confidence). When none of them had anything to say (a short answer
    with no worked steps and no logprobs), a high free score means nothing: the model checks always
    run, and the score is `s·m` (the faults the free checks found still count). `evidence=()` turns
    this off.
    """

    name = "staged"

    def __init__(self, free: Validator | ValidatorFn | Sequence[Validator | ValidatorFn] | None = None,
                 checks: Sequence[ModelCheck] = (), *, band: float | tuple[float, float] = 0.15,
                 weight: float = 0.5, evidence: Sequence[str] = ("consistency", "logprob_confidence")) -> None:
        if free is None:
            from .compose import default_validator

            free = default_validator()
        elif isinstance(free, (list, tuple)):
            from .compose import AllOf

            free = AllOf(list(free))
        self.free = as_validator(free)  # type: ignore[arg-type]
        if not checks:
            raise ConfigError("Staged needs at least one model check: checks=[SelfCheck(), AgreementCheck()]")
        for c in checks:
            if not isinstance(c, ModelCheck):
                raise ConfigError(f"Staged checks must be model checks (SelfCheck, AgreementCheck), got {c!r}")
        self.checks = list(checks)
        self.band = band
        if not 0 < weight <= 1:
            raise ConfigError(f"Staged(weight=...) must be in (0, 1], got {weight}")
        self.weight = weight
        self.evidence = tuple(evidence)

    @property
    def band(self) -> tuple[float, float]:
        return self._band

    @band.setter
    def band(self, value: float | tuple[float, float]) -> None:
        below, above = (value, value) if isinstance(value, (int, float)) else value
        if below < 0 or above < 0:
            raise ConfigError(f"Staged(band=...) must be >= 0 on both sides, got {value!r}")
        self._band = (float(below), float(above))

    def check_partial(self, request: ValidationRequest, partial: PartialDraft) -> str | None:
        return check_partial_safely(self.free, request, partial)

    def start(self, request: ValidationRequest) -> None:
        self.free.start(request)
        for c in self.checks:
            c.start(request)

    async def _settle(self, request: ValidationRequest, draft: Draft, d: Decision) -> Decision:
        """Count work the checks started with the draft that this decision did not use."""
        for c in self.checks:
            if (r := await c.settle(request, draft)) is not None:
                d.checks.append(r)
                d.cost += r.cost or 0.0
                d.calls += r.calls
        return d

    def informed(self, free_checks: Sequence[CheckResult]) -> bool:
        """Whether a free check that can vouch for a draft had something to say about this one."""
        if not self.evidence:
            return True
        return any(c.name in self.evidence and not c.neutral for c in free_checks)

    def combine(self, free_score: float, results: Sequence[CheckResult], informed: bool = True) -> float:
        """The staged score from the free score and the model checks' results (see the class doc)."""
        scores = [r.score for r in results if not r.neutral]
        if not scores:
            return free_score
        if not informed:
            return free_score * sum(scores) / len(scores)
        below, above = self._band
        mixed = (1 - self.weight) * free_score + self.weight * sum(scores) / len(scores)
        return min(max(mixed, free_score - above), free_score + below)

    async def validate(self, request: ValidationRequest, draft: Draft, threshold: float) -> Decision:
        free = await validate_safely(self.free, request, draft, 0.0)
        checks = list(free.checks) or [CheckResult(self.free.name, free.accepted, free.score, free.reason)]
        if not free.accepted:
            d = decision_from_checks(checks, threshold, free.score)
            d.accepted, d.cost, d.usage, d.calls = False, free.cost, free.usage, free.calls
            return await self._settle(request, draft, d)
        s = free.score
        below, above = self._band
        recorded = request.samples is not None or request.self_check is not None
        informed = self.informed(checks)
        if not recorded and informed and not threshold - below <= s < threshold + above:
            side = "above" if s >= threshold + above else "below"
            d = decision_from_checks(checks, threshold, s)
            d.reason += f"; model checks skipped (free score {s:.2f} clearly {side} {threshold:.2f})"
            d.cost, d.usage, d.calls = free.cost, free.usage, free.calls
            return await self._settle(request, draft, d)
        if not recorded and request.on_unsure is not None:
            request.on_unsure()
        results = list(await asyncio.gather(*(c.score(request, draft) for c in self.checks)))
        score = self.combine(s, results, informed)
        model_cost = sum(r.cost or 0.0 for r in results)
        calls = sum(r.calls for r in results)
        d = decision_from_checks([*checks, *results], threshold, score)
        notes = ", ".join(f"{r.name} {r.detail}" if r.neutral else f"{r.name} {r.score:.2f}" for r in results)
        d.reason += f" (free {s:.2f}{'' if informed else ', no evidence'}; {notes})"
        d.cost, d.usage, d.calls = free.cost + model_cost, free.usage, free.calls + calls
        return d
