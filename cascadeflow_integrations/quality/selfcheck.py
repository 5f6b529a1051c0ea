"""`SelfCheck`: the draft model is asked whether its own answer is correct (AutoMix-style verification)."""

from __future__ import annotations

import math
import re

from typing import Any

from ..errors import ConfigError
from ..types import ChatRequest, Completion, Message
from ._model import CheckModel
from ._modelcheck import ModelCheck
from .base import CheckResult, Draft, ValidationRequest

#: The default verification prompt; `{question}` and `{answer}` are filled in. Override with `prompt=`.
VERIFY_PROMPT = (
    "Question:\n{question}\n\nProposed answer:\n{answer}\n\n"
    "Is the proposed answer correct? Reply with one word: Yes or No."
)
VERIFY_SYSTEM = "You check answers for correctness. Reply with exactly one word: Yes or No."
_MAX_CHARS = 8_000
_VERDICT_RE = re.compile(r"^\W*(yes|no|correct|incorrect|true|false)\b", re.IGNORECASE)


def parse_verdict(text: str | bool) -> bool | None:
    """True for yes, False for no, None when the reply is neither."""
    if isinstance(text, bool):
        return text
    m = _VERDICT_RE.match(str(text))
    return None if m is None else m.group(1).lower() in ("yes", "correct", "true")


def p_yes(completion: Completion) -> float | None:
    """P(yes) among yes/no from the first token's top logprobs; None when neither is among them."""
    if not completion.logprobs:
        return None
    first = completion.logprobs[0]
    yes = no = 0.0
    for token, lp in first.top_logprobs or [(first.token, first.logprob)]:
        v = parse_verdict(token.strip())
        if v is True:
            yes += math.exp(lp)
        elif v is False:
            no += math.exp(lp)
    return yes / (yes + no) if yes + no > 0 else None


class SelfCheck(ModelCheck):
    """One short extra call asking the draft model (or `model`) whether the proposed answer is correct.

    With logprobs (OpenAI, compatible servers that return them): one request, `max_tokens=1`,
    score = P(yes). Without (Anthropic, Groq): `k` verdicts at `temperature`, score = share of yes
    (one request with `n=k` where the provider supports it, else `k` concurrent ones). Recorded
    results (`ValidationRequest.self_check`) are used instead of a call.
    """

    name = "self_check"

    def __init__(self, model: Any = None, k: int = 4, *, prompt: str = VERIFY_PROMPT,
                 system: str | None = VERIFY_SYSTEM, use_logprobs: bool = True, temperature: float = 1.0,
                 max_tokens: int = 3, timeout: float | None = 20.0) -> None:
        super().__init__(model, timeout)
        if k < 1:
            raise ConfigError(f"SelfCheck(k=...) must be >= 1 verdicts, got {k}")
        if "{answer}" not in prompt:
            raise ConfigError("SelfCheck(prompt=...) must contain {answer} (and usually {question})")
        self.k = k
        self.prompt = prompt
        self.system = system
        self.use_logprobs = use_logprobs
        self.temperature = temperature
        self.max_tokens = max_tokens

    def verify_request(self, request: ValidationRequest, draft: Draft, logprobs: bool) -> ChatRequest:
        answer = draft.text or "\n".join(f"[tool call] {c.name}({c.arguments})" for c in draft.tool_calls)
        text = self.prompt.format(question=request.query[-_MAX_CHARS:], answer=answer[:_MAX_CHARS])
        messages = ([Message("system", self.system)] if self.system else []) + [Message("user", text)]
        if logprobs:
            return ChatRequest(messages, max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=5)
        return ChatRequest(messages, max_tokens=self.max_tokens, temperature=self.temperature)

    def recorded(self, request: ValidationRequest, draft: Draft) -> CheckResult | None:
        rec = request.self_check
        if rec is None:
            return None
        if isinstance(rec, bool):
            rec = [rec]
        if isinstance(rec, (int, float)):
            if not 0 <= rec <= 1:
                raise ValueError(f"self_check={rec} is not a probability: give P(yes) in [0, 1] or a list of verdicts")
            return CheckResult(self.name, True, float(rec), f"recorded P(yes) {rec:.2f}", cost=0.0)
        return self._from_verdicts([parse_verdict(v) for v in rec], "recorded", 0.0, 0)

    def _from_verdicts(self, verdicts: list[bool | None], how: str, cost: float, calls: int) -> CheckResult:
        valid = [v for v in verdicts if v is not None]
        if not valid:
            return self.neutral(f"no usable verdict among {len(verdicts)} ({how})", cost, calls)
        share = sum(valid) / len(valid)
        return CheckResult(self.name, True, share, f"{sum(valid)}/{len(valid)} {how} verdicts yes",
                           cost=cost, calls=calls)

    async def call(self, model: CheckModel, request: ValidationRequest, draft: Draft) -> CheckResult:
        if self.use_logprobs and model.supports_logprobs:
            c = await model.complete(self.verify_request(request, draft, logprobs=True))
            cost = model.price(c.usage)
            p = p_yes(c)
            if p is not None:
                return CheckResult(self.name, True, p, f"P(yes) {p:.2f} from logprobs", cost=cost, calls=1)
            v = parse_verdict(c.text)
            if v is None:
                return self.neutral(f"reply {c.text[:20]!r} is neither yes nor no", cost, 1)
            return CheckResult(self.name, True, float(v), f"verdict {'yes' if v else 'no'} (no logprobs)",
                               cost=cost, calls=1)
        s = await model.sample(self.verify_request(request, draft, logprobs=False), self.k)
        cost = model.price(s.usage)
        if not s.completions:
            return self.neutral(f"error: {'; '.join(s.errors) or 'no verdicts'}", cost, s.requests)
        r = self._from_verdicts([parse_verdict(c.text) for c in s.completions], "sampled", cost, s.requests)
        if s.errors:
            r.detail += f" ({len(s.errors)} request(s) failed: {s.errors[0]})"
        return r
