"""`Check`: a validator made of one cheap synchronous rule, shared by the built-in checks."""

from __future__ import annotations

import abc
import asyncio

from .base import CheckResult, Decision, Draft, ValidationRequest, Validator

#: Texts longer than this are checked in a worker thread so a long draft never stalls the event loop.
OFFLOAD_CHARS = 20_000


class Check(Validator):
    """A validator built from one synchronous `run()`; the Decision is derived from its CheckResult."""

    name = "check"

    @abc.abstractmethod
    def run(self, request: ValidationRequest, draft: Draft) -> CheckResult:
        """Judge the draft; cheap (linear, precompiled regexes)."""

    async def validate(self, request: ValidationRequest, draft: Draft, threshold: float) -> Decision:
        if len(draft.text) > OFFLOAD_CHARS:
            result = await asyncio.to_thread(self.run, request, draft)
        else:
            result = self.run(request, draft)
        return decision_from_checks([result], threshold, result.score)


def decision_from_checks(checks: list[CheckResult], threshold: float, score: float) -> Decision:
    """Accept when every check passed and the combined score reaches the threshold."""
    failed = [c for c in checks if not c.passed]
    score = min(1.0, max(0.0, score))
    if failed:
        reason = "; ".join(f"{c.name} failed: {c.detail}" if c.detail else f"{c.name} failed" for c in failed)
        accepted = False
    elif score < threshold:
        soft = [f"{c.name} ({c.detail})" for c in checks if c.score < 1.0 and c.detail]
        reason = f"score {score:.2f} below threshold {threshold:.2f}" + (f": {', '.join(soft)}" if soft else "")
        accepted = False
    else:
        reason = f"passed {len(checks)} check(s), score {score:.2f} >= {threshold:.2f}"
        accepted = True
    return Decision(accepted=accepted, confidence=score, score=score, reason=reason, threshold=threshold, checks=checks)
