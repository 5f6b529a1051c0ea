"""`AgreementCheck`: do other samples of the draft model reach the same final answer? (mixture-of-thoughts)."""

from __future__ import annotations

import asyncio
import time

from typing import Any

from ..types import ChatRequest, Samples, Usage
from ._model import CheckModel
from ._modelcheck import ModelCheck
from .base import CheckResult, Draft, ValidationRequest
from .extract import Answer, extract_answer


class AgreementCheck(ModelCheck):
    """`k` extra samples of the draft's request; score = share whose final answer agrees with the draft's.

    Answers are extracted and normalised (`quality.extract`: numbers, option letters, yes/no, short
    answers, JSON, tool calls with equivalent arguments). A draft with no extractable answer (free text) is
    neutral, and the detail says so. OpenAI sends one request with `n=k` (the prompt is paid once);
    other providers get `k` concurrent requests. Recorded samples (`ValidationRequest.samples`) are
    used instead of calls.

    `concurrent=True` starts the samples together with the draft, so the decision waits for the
    longest sample rather than for the draft plus the samples. The samples are then paid for on
    every draft: when the free checks were sure and they were not needed, finished ones are counted
    at their usage and unfinished ones are cancelled and counted at an upper-bound estimate (the
    draft's prompt and answer length per sample).
    """

    name = "agreement"

    def __init__(self, model: Any = None, k: int = 4, *, temperature: float = 1.0,
                 max_tokens: int | None = None, timeout: float | None = 30.0, concurrent: bool = False) -> None:
        super().__init__(model, timeout)
        if k < 1:
            raise ValueError(f"AgreementCheck(k=...) must be >= 1 samples, got {k}")
        self.k = k
        self.concurrent = concurrent
        self.temperature = temperature
        self.max_tokens = max_tokens

    def draft_answer(self, request: ValidationRequest, draft: Draft) -> Answer | None:
        return extract_answer(draft.text, request.query, draft.tool_calls)

    def agreement(self, target: Answer, answers: list[Answer | None], how: str, cost: float,
                  calls: int) -> CheckResult:
        what = f"{how} samples" if how else "samples"
        if not answers:
            return self.neutral(f"no {what}", cost, calls)
        agree = sum(1 for a in answers if target.agrees(a))
        # A sample with no extractable answer does not back the draft: it counts as disagreeing.
        return CheckResult(self.name, True, agree / len(answers),
                           f"{agree}/{len(answers)} {what} agree on {target.kind} {target.value!r}",
                           cost=cost, calls=calls)

    def recorded(self, request: ValidationRequest, draft: Draft) -> CheckResult | None:
        if request.samples is None:
            return None
        target = self.draft_answer(request, draft)
        if target is None:
            return self.neutral("free text, no extractable answer to compare", 0.0, 0)
        kind = None if target.kind == "tool_call" else target.kind
        answers = [extract_answer(t, request.query, kind=kind) for t in request.samples]
        return self.agreement(target, answers, "recorded", 0.0, 0)

    def sample_request(self, request: ValidationRequest) -> ChatRequest:
        return ChatRequest(request.messages, max_tokens=self.max_tokens or request.max_tokens,
                           temperature=self.temperature, tools=request.tools, tool_choice=request.tool_choice)

    # ---- sampling with the draft (concurrent=True) ---------------------------------------------

    def start(self, request: ValidationRequest) -> None:
        if not self.concurrent or request.samples is not None:
            return
        model = self.model_for(request)
        if model is None:
            return

        async def run() -> Samples:
            return await model.sample(self.sample_request(request), self.k)

        request.prefetched[id(self)] = (asyncio.ensure_future(run()), model, time.perf_counter())

    async def settle(self, request: ValidationRequest, draft: Draft) -> CheckResult | None:
        entry = request.prefetched.pop(id(self), None)
        if entry is None:
            return None
        task, model, _t = entry
        if task.done() and not task.cancelled() and task.exception() is None:
            s = task.result()
            return self.neutral("samples started with the draft were not needed", model.price(s.usage), s.requests)
        task.cancel()
        u = draft.usage or Usage()
        requests = 1 if model.multi_choice else self.k
        estimate = model.price(Usage(u.input_tokens * requests, u.output_tokens * self.k))
        return self.neutral("samples started with the draft were cancelled, unneeded (cost estimated, upper bound)",
                            estimate, requests)

    async def call(self, model: CheckModel, request: ValidationRequest, draft: Draft) -> CheckResult:
        target = self.draft_answer(request, draft)
        if target is None:  # decided before paying for samples
            settled = await self.settle(request, draft)
            return self.neutral("free text, no extractable answer to compare",
                                settled.cost if settled else 0.0, settled.calls if settled else 0)
        entry = request.prefetched.pop(id(self), None)
        s = await entry[0] if entry is not None else await model.sample(self.sample_request(request), self.k)
        cost = model.price(s.usage)
        if not s.completions:
            return self.neutral(f"error: {'; '.join(s.errors) or 'no samples'}", cost, s.requests)
        answers = [extract_answer(c.text, request.query, c.tool_calls,
                                  kind=target.kind)
                   for c in s.completions]
        r = self.agreement(target, answers, "", cost, s.requests)
        if s.errors:
            r.detail += f" ({len(s.errors)} request(s) failed: {s.errors[0]})"
        return r
