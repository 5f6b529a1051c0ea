"""`ModelCheck`: a check that calls a model, bounded in time and never failing the request."""

from __future__ import annotations

import abc
import asyncio
import logging
from typing import Any

from ..errors import ConfigError
from .._trace import check_span
from ._model import CheckModel, own_member
from .base import CheckResult, Decision, Draft, ValidationRequest, Validator

logger = logging.getLogger("cascadeflow_integrations")


class ModelCheck(Validator):
    """Base of `SelfCheck` and `AgreementCheck`.

    `score()` returns a `CheckResult` with `cost`/`calls` set; a call that fails or exceeds `timeout`
    gives a neutral result naming the error instead of raising. Used alone as a validator, the
    check's score is compared with the threshold; inside `Staged` it runs only when the free checks
    are unsure.
    """

    name = "model_check"

    def __init__(self, model: Any = None, timeout: float | None = 20.0) -> None:
        if timeout is not None and timeout <= 0:
            raise ConfigError(f"{type(self).__name__}(timeout=...) must be > 0 seconds, got {timeout}")
        self.model = model
        self.timeout = timeout
        # Built once and reused (clients are per event loop inside the member), like the judge's.
        self._own = CheckModel(own_member(model, f"{type(self).__name__}(model=...)")) if model is not None else None

    def model_for(self, request: ValidationRequest) -> CheckModel | None:
        """The model to call: this check's own, else the draft's member handed over by the engine."""
        return self._own if self._own is not None else request.draft_model

    async def aclose(self) -> None:
        """Close the clients of this check's own model (the draft's member belongs to the agent)."""
        if self._own is not None:
            await self._own.member.aclose()

    @abc.abstractmethod
    def recorded(self, request: ValidationRequest, draft: Draft) -> CheckResult | None:
        """The result from recorded data on the request (offline evaluation), or None to call a model."""

    @abc.abstractmethod
    async def call(self, model: CheckModel, request: ValidationRequest, draft: Draft) -> CheckResult:
        """Ask the model; set `cost` and `calls` on the result."""

    def neutral(self, detail: str, cost: float | None = None, calls: int = 0) -> CheckResult:
        return CheckResult(self.name, True, 1.0, f"neutral: {detail}", cost=cost, calls=calls, neutral=True)

    async def score(self, request: ValidationRequest, draft: Draft) -> CheckResult:
        """This check's result on the draft; never raises for a failing or slow model call."""
        if (rec := self.recorded(request, draft)) is not None:
            return rec
        model = self.model_for(request)
        if model is None:
            return self.neutral("no model to call (give model=ModelConfig(...) or recorded data)")
        with check_span(self.name, model.member) as span:
            r = await self._bounded(model, request, draft)
            if span is not None:
                span.set_attribute("gen_ai.evaluation.score.value", r.score)
                span.set_attribute("cascade.neutral", r.neutral)
                span.set_attribute("cascade.calls", r.calls)
                if r.cost is not None:
                    span.set_attribute("cascade.cost_usd", r.cost)
        return r

    async def _bounded(self, model: CheckModel, request: ValidationRequest, draft: Draft) -> CheckResult:
        try:
            if self.timeout is None:
                return await self.call(model, request, draft)
            return await asyncio.wait_for(self.call(model, request, draft), self.timeout)
        except asyncio.TimeoutError:
            logger.warning("%s on %s timed out after %.1fs; treated as neutral", self.name, model.name, self.timeout)
            return self.neutral(f"error: timed out after {self.timeout:g}s", cost=0.0, calls=1)
        except Exception as e:  # noqa: BLE001 - a check must never fail the request it checks
            logger.warning("%s on %s failed: %s; treated as neutral", self.name, model.name, e)
            return self.neutral(f"error: {type(e).__name__}: {e}", cost=0.0, calls=1)

    async def settle(self, request: ValidationRequest, draft: Draft) -> CheckResult | None:
        """Account for work started with the draft that the decision did not need (see `start`)."""
        return None

    async def validate(self, request: ValidationRequest, draft: Draft, threshold: float) -> Decision:
        r = await self.score(request, draft)
        accepted = r.neutral or r.score >= threshold
        reason = (f"{self.name} {r.detail}" if r.neutral else
                  f"{self.name} {r.score:.2f} {'>=' if accepted else '<'} {threshold:.2f} ({r.detail})")
        return Decision(accepted, r.score, r.score, reason, threshold, [r], r.cost or 0.0, None, r.calls)
