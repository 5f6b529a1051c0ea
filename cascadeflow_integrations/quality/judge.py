"""`JudgeValidator`: a model grades the draft (opt-in: it costs a model call per validation)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import ConfigError
from .._trace import check_span
from ._model import own_member
from ..types import ChatRequest, Completion, Message
from .base import CheckResult, Decision, Draft, ValidationRequest, Validator

logger = logging.getLogger(__name__)

CompleteFn = Callable[[ChatRequest], Awaitable[Completion]]

JUDGE_SYSTEM = (
    "You grade answers for correctness. Check facts and arithmetic carefully. "
    "Reply with exactly two lines:\n"
    "VERDICT: CORRECT or INCORRECT\n"
    "GRADE: an integer from 1 (wrong or useless) to 10 (correct and complete)"
)
_VERDICT_RE = re.compile(r"VERDICT:\s*\**\s*(CORRECT|INCORRECT)\b", re.IGNORECASE)
_GRADE_RE = re.compile(r"GRADE:\s*\**\s*(10|[1-9])(?:\s*/\s*10)?\b", re.IGNORECASE)
_MAX_QUESTION_CHARS = 8_000
_MAX_ANSWER_CHARS = 8_000


def parse_verdict(text: str) -> tuple[bool | None, int | None]:
    """(correct, grade 1-10) from the judge's reply; None where the reply does not follow the format."""
    v = _VERDICT_RE.search(text)
    g = _GRADE_RE.search(text)
    return (v.group(1).upper() == "CORRECT") if v else None, int(g.group(1)) if g else None


class JudgeValidator(Validator):
    """Asks a (usually stronger or specialised) model whether the draft is correct.

    Score = grade/10, and an INCORRECT verdict fails regardless of grade. An unparseable reply fails
    safe (escalates). `model` is a cascade member (a `ModelConfig`, `Member(...)`, or an adapter's
    model): one member is built on first use and reused for every verdict, and its price turns the
    judge's usage into `Decision.cost` (0 when unknown; the member warns once). Pass `complete` to
    route the call through something other than a member.
    """

    name = "judge"

    def __init__(
        self, model: Any = None, complete: CompleteFn | None = None, max_tokens: int = 20
    ) -> None:
        if model is None and complete is None:
            raise ConfigError("JudgeValidator needs a judge model (model=ModelConfig(...)) or a complete= function")
        self.model = model
        self._complete = complete
        self.max_tokens = max_tokens
        self._member: Any = None
        if model is not None:
            self._member = own_member(model, "JudgeValidator model")

    async def _call(self, request: ChatRequest) -> Completion:
        if self._complete is not None:
            return await self._complete(request)
        completion: Completion = await self._member.complete(request)
        return completion

    async def aclose(self) -> None:
        """Close the judge member's clients."""
        if self._member is not None:
            await self._member.aclose()

    def judge_request(self, request: ValidationRequest, draft: Draft) -> ChatRequest:
        answer = draft.text or "\n".join(f"[tool call] {c.name}({c.arguments})" for c in draft.tool_calls)
        prompt = (
            f"Question:\n{request.query[-_MAX_QUESTION_CHARS:]}\n\n"
            f"Answer to grade:\n{answer[:_MAX_ANSWER_CHARS]}\n\n"
            "Is the answer correct? Reply in the required two-line format."
        )
        return ChatRequest(
            messages=[Message("system", JUDGE_SYSTEM), Message("user", prompt)],
            max_tokens=self.max_tokens,
            temperature=0.0,
        )

    async def validate(self, request: ValidationRequest, draft: Draft, threshold: float) -> Decision:
        with check_span(self.name, self._member or self.model) as span:
            decision = await self._validate(request, draft, threshold)
            if span is not None:
                if decision.usage is not None:
                    span.set_attribute("gen_ai.usage.input_tokens", decision.usage.input_tokens)
                    span.set_attribute("gen_ai.usage.output_tokens", decision.usage.output_tokens)
                span.set_attribute("gen_ai.evaluation.score.value", decision.score)
                span.set_attribute("cascade.accepted", decision.accepted)
                if decision.cost is not None:
                    span.set_attribute("cascade.cost_usd", decision.cost)
        return decision

    async def _validate(self, request: ValidationRequest, draft: Draft, threshold: float) -> Decision:
        completion = await self._call(self.judge_request(request, draft))
        cost = 0.0
        if self._member is not None:
            cost = self._member.price(completion.usage) or 0.0
        correct, grade = parse_verdict(completion.text)
        if correct is None and grade is None:
            logger.warning("judge reply not in the expected format: %r", completion.text[:200])
            check = CheckResult(self.name, False, 0.0, f"unparseable judge reply: {completion.text[:80]!r}")
        else:
            score = grade / 10 if grade is not None else (1.0 if correct else 0.0)
            passed = correct is not False
            detail = f"judge: {'CORRECT' if correct else 'INCORRECT' if correct is False else '?'}, grade {grade}"
            check = CheckResult(self.name, passed, score if passed else min(score, 0.1), detail)
        accepted = check.passed and check.score >= threshold
        reason = (
            f"judge accepted (grade {check.score * 10:.0f}/10)"
            if accepted
            else f"judge failed: {check.detail}"
            if not check.passed
            else f"judge grade {check.score:.2f} below threshold {threshold:.2f}"
        )
        check.cost, check.calls = cost, 1
        return Decision(accepted, check.score, check.score, reason, threshold, [check], cost, completion.usage, 1)
