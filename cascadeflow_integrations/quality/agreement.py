"""`AgreementCheck`: do other samples of the draft model reach the same final answer? (mixture-of-thoughts)."""

from __future__ import annotations

import asyncio
import time

from typing import Any

from ..errors import ConfigError
from ..types import ChatRequest, Samples, Usage
from ._model import CheckModel
from ._modelcheck import ModelCheck
from .base import CheckResult, Draft, ValidationRequest
from .answers import Answer, extract_answer, load_math_verify_async, read, tool_answer


class AgreementCheck(ModelCheck):
    """`k` extra samples of the draft's request; score = share whose final answer agrees with the draft's.

    Answers are found and read by `quality.answers` (numbers with units, dates, times, option letters or
    texts, yes/no, sets, math, short answers, JSON, tool calls with equivalent arguments). A sample whose
    answer is of another kind, or marked but unreadable, is "unknown" and not counted; a sample with no
    answer counts against. A draft with no extractable answer (free text), or only unknown samples, is
    neutral; the detail names the kind and the normalised values. OpenAI sends one request with `n=k` (the prompt is paid once);
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
            raise ConfigError(f"AgreementCheck(k=...) must be >= 1 samples, got {k}")
        self.k = k
        self.concurrent = concurrent
        self.temperature = temperature
        self.max_tokens = max_tokens

    def draft_answer(self, request: ValidationRequest, draft: Draft) -> Answer | None:
        return extract_answer(draft.text, request.query, draft.tool_calls)

    def no_answer(self, request: ValidationRequest, draft: Draft) -> str:
        _, span = read(draft.text, request.query)
        if span is not None and span.explicit:
            return f"unknown: the draft's marked answer {span.text[:60]!r} cannot be read"
        return "free text, no extractable answer to compare"

    def verdict(self, target: Answer, text: str, query: str, tool_calls: Any = ()) -> bool | None:
        """Whether one sample backs the draft: True, False, or None (unknown: another kind of answer, or a
        marked answer that cannot be read). A sample with no answer at all does not back it."""
        return self._verdict(target, text, query, tool_calls)[0]

    def _verdict(self, target: Answer, text: str, query: str, tool_calls: Any) -> tuple[bool | None, Answer | None]:
        if target.kind == "tool_call" or tool_calls:  # a call against a text answer differs
            a = tool_answer(tool_calls) if tool_calls else None
            return target.compare(a), a
        a, span = read(text, query, target.kind)
        if a is None:
            return (None if span is not None and span.explicit else False), None
        return target.compare(a), a

    def agreement(self, target: Answer, verdicts: list[tuple[bool | None, str]], how: str, cost: float,
                  calls: int) -> CheckResult:
        what = f"{how} samples" if how else "samples"
        if not verdicts:
            return self.neutral(f"no {what}", cost, calls)
        known = [(v, t) for v, t in verdicts if v is not None]
        unknown = len(verdicts) - len(known)
        if not known:
            return self.neutral(f"{unknown}/{len(verdicts)} {what} unknown against {target.kind} {target.text!r}",
                                cost, calls)
        agree = sum(1 for v, _ in known if v)
        others = sorted({t for v, t in known if not v})
        detail = f"{agree}/{len(known)} {what} agree on {target.kind} {target.text!r}"
        if others:
            detail += f"; others: {', '.join(repr(o) for o in others[:4])}"
        if unknown:
            detail += f"; {unknown} unknown (not counted)"
        return CheckResult(self.name, True, agree / len(known), detail, cost=cost, calls=calls)

    def _verdicts(self, target: Answer, query: str, samples: list[tuple[str, Any]]) -> list[tuple[bool | None, str]]:
        out = []
        for text, calls in samples:
            v, a = self._verdict(target, text, query, calls)
            out.append((v, a.text if a is not None else "no answer"))
        return out

    async def score(self, request: ValidationRequest, draft: Draft) -> CheckResult:
        if request.samples is not None:
            target = self.draft_answer(request, draft)
            if target is not None and target.kind == "math":
                await load_math_verify_async()  # the [math] extra imports sympy: off the event loop
        return await super().score(request, draft)

    def recorded(self, request: ValidationRequest, draft: Draft) -> CheckResult | None:
        if request.samples is None:
            return None
        target = self.draft_answer(request, draft)
        if target is None:
            return self.neutral(self.no_answer(request, draft), 0.0, 0)
        verdicts = self._verdicts(target, request.query, [(t, ()) for t in request.samples])
        return self.agreement(target, verdicts, "recorded", 0.0, 0)

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
            return self.neutral(self.no_answer(request, draft),
                                settled.cost if settled else 0.0, settled.calls if settled else 0)
        entry = request.prefetched.pop(id(self), None)
        s = await entry[0] if entry is not None else await model.sample(self.sample_request(request), self.k)
        cost = model.price(s.usage)
        if not s.completions:
            return self.neutral(f"error: {'; '.join(s.errors) or 'no samples'}", cost, s.requests)
        if target.kind == "math":
            await load_math_verify_async()  # the [math] extra imports sympy: off the event loop
        verdicts = self._verdicts(target, request.query, [(c.text, c.tool_calls) for c in s.completions])
        r = self.agreement(target, verdicts, "", cost, s.requests)
        if s.errors:
            r.detail += f" ({len(s.errors)} request(s) failed: {s.errors[0]})"
        return r
