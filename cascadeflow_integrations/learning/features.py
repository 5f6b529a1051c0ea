"""Features of a request and its draft, as named floats: what the fitted policy reads.

The one recipe: `features()` for a request and its draft (the decision log, `fit` on records, shadow
drafts and a deciding policy all call it), `prompt_features()` for the prompt alone (the skip model).
Prompt features are known before drafting (routed complexity, answer kind, length, router counts,
hashed words of the prompt); draft features add every free check's score, logprob statistics,
lengths and, when given, model-based check results (recorded samples, a self-check score).
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..quality.base import COMPLEXITIES, CheckResult, Draft, ValidationRequest
from ..routing import WINDOW, classify
from ..types import TokenLogprob
from .labels import ANSWER_KINDS, answer_kind, extract_answer

#: Hashed word buckets of the prompt (a fixed-size bag of words; collisions are acceptable noise).
DEFAULT_HASH_BUCKETS = 128
_WORD_RE = re.compile(r"[a-z][a-z'-]{2,}")
_STOP = frozenset(
    "the and for that this with from are was were what which who how does did can will would should "
    "have has had not but you your they their there then than into about when where why its his her".split()
)


def _log1p(x: float) -> float:
    return math.log1p(max(0.0, x))


def word_bucket(word: str, buckets: int) -> int:
    return zlib.crc32(word.encode("utf-8")) % buckets


def prompt_features(
    prompt: str,
    complexity: str | None = None,
    kind: str | None = None,
    tools: Sequence[Any] | None = None,
    hash_buckets: int = DEFAULT_HASH_BUCKETS,
) -> dict[str, float]:
    """Features known before any model is called."""
    level, rf = classify(prompt)
    complexity = complexity or level
    kind = kind or answer_kind(prompt, tools)
    f: dict[str, float] = {
        "complexity": float(COMPLEXITIES.index(complexity)) if complexity in COMPLEXITIES else 2.0,
        "prompt_words": _log1p(rf.get("words", 0)),
        "prompt_chars": _log1p(len(prompt)),
        "router_math": float(rf.get("math", 0)),
        "router_code": float(rf.get("code", 0)),
        "router_reasoning": float(rf.get("reasoning", 0)),
        "router_expert": float(rf.get("expert_terms", 0)),
        "router_parts": float(rf.get("parts", 0)),
        "prompt_numbers": _log1p(len(re.findall(r"\d+(?:\.\d+)?", prompt[: 4 * WINDOW]))),
        f"kind={kind}": 1.0,
    }
    if hash_buckets:
        window = prompt if len(prompt) <= 4 * WINDOW else prompt[: 2 * WINDOW] + " " + prompt[-2 * WINDOW :]
        for w in set(_WORD_RE.findall(window.lower())) - _STOP:
            f[f"w{word_bucket(w, hash_buckets)}"] = 1.0
    return f


def logprob_features(logprobs: Sequence[TokenLogprob | float] | None) -> dict[str, float]:
    if not logprobs:
        return {"has_logprobs": 0.0}
    lps = [lp.logprob if isinstance(lp, TokenLogprob) else float(lp) for lp in logprobs]
    n = len(lps)
    w = min(8, n)
    run = worst = sum(lps[:w])
    for i in range(w, n):
        run += lps[i] - lps[i - w]
        worst = min(worst, run)
    return {
        "has_logprobs": 1.0,
        "lp_mean": sum(lps) / n,
        "lp_min": max(min(lps), -20.0),
        "lp_worst_window": max(worst / w, -20.0),
        "lp_low_share": sum(1 for x in lps if x < math.log(0.1)) / n,
    }


def draft_features(
    prompt: str,
    draft: str,
    checks: Sequence[CheckResult],
    kind: str,
    logprobs: Sequence[TokenLogprob | float] | None = None,
    tool_calls: Sequence[Any] | None = None,
) -> dict[str, float]:
    """Features of a finished draft (add them to `prompt_features`).

    Every check of the decision counts, the model-based ones too (`agreement`, `self_check`, ... when the
    validator ran them, live or from recorded samples and verdicts); a neutral check only says so.
    """
    f: dict[str, float] = {}
    product = 1.0
    for c in checks:
        if getattr(c, "neutral", False):
            f[f"neutral:{c.name}"] = 1.0
            continue
        f[f"check:{c.name}"] = float(c.score)
        if not c.passed:
            f[f"fail:{c.name}"] = 1.0
        product *= max(0.0, min(1.0, c.score))
    f["checks_product"] = product
    f["checks_failed"] = float(sum(1 for c in checks if not c.passed))
    f.update(logprob_features(logprobs))
    words = len(draft.split())
    f["draft_words"] = _log1p(words)
    f["draft_prompt_ratio"] = _log1p(len(draft)) - _log1p(len(prompt))
    f["draft_tool_calls"] = float(len(tool_calls or ()))
    f["has_answer"] = 1.0 if extract_answer(kind, draft, prompt) is not None else 0.0
    return f


def features(
    prompt: str,
    draft: str,
    checks: Sequence[CheckResult],
    *,
    complexity: str | None = None,
    kind: str | None = None,
    tools: Sequence[Any] | None = None,
    logprobs: Sequence[TokenLogprob | float] | None = None,
    tool_calls: Sequence[Any] | None = None,
    hash_buckets: int = DEFAULT_HASH_BUCKETS,
    prompt_feats: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """The features of a request and its draft: `prompt_features` then `draft_features` on `checks`.

    `prompt_feats`: this prompt's features when the caller already has them (computed with the same
    complexity, kind and `hash_buckets`), so they are not computed twice.
    """
    kind = kind or answer_kind(prompt, tools)
    f = dict(prompt_feats) if prompt_feats is not None else prompt_features(prompt, complexity, kind, tools,
                                                                            hash_buckets)
    f.update(draft_features(prompt, draft, checks, kind, logprobs, tool_calls))
    return f


@dataclass(frozen=True, slots=True)
class FeatureSet:
    """The features a fitted policy decided a draft on, with what they were computed from: the decision
    log reuses them for that same draft instead of computing them again (`Decision.features`)."""

    values: dict[str, float]
    prompt: str
    complexity: str | None
    kind: str
    hash_buckets: int
    #: the judged `Draft` itself (compared by identity: its text, logprobs and tool calls)
    draft: Any
    checks: tuple[CheckResult, ...]

    def matches(self, prompt: str, complexity: str | None, kind: str, hash_buckets: int, draft: Any,
                checks: Sequence[CheckResult]) -> bool:
        """Were these features computed from exactly these inputs?"""
        return (self.draft is draft and self.hash_buckets == hash_buckets and self.kind == kind
                and self.complexity == complexity and self.prompt == prompt and self.checks == tuple(checks))


def free_checks(
    prompt: str,
    draft: str,
    complexity: str = "moderate",
    logprobs: Sequence[TokenLogprob | float] | None = None,
    finish_reason: str | None = "stop",
    tools: list[dict[str, Any]] | None = None,
    tool_calls: Sequence[Any] | None = None,
    samples: Sequence[str] | None = None,
    self_check: Any = None,
) -> list[CheckResult]:
    """Each free check of `default_validator()` run on a recorded draft (no model calls), plus
    `AgreementCheck` on recorded `samples` and `SelfCheck` on a recorded `self_check` (P(yes) or verdicts),
    as `quality.evaluate` reads them: the same check names a live validator with those checks logs."""
    from ..quality._check import Check
    from ..quality.agreement import AgreementCheck
    from ..quality.compose import default_validator
    from ..quality.offline import _check_recorded, _logprobs
    from ..quality.selfcheck import SelfCheck

    _check_recorded(samples, self_check)
    request = ValidationRequest.from_prompt(prompt, complexity=complexity if complexity in COMPLEXITIES else "moderate",
                                            tools=tools)
    d = Draft(text=draft, finish_reason=finish_reason, logprobs=_logprobs(logprobs),
              tool_calls=list(tool_calls or []))
    out = [c.run(request, d) for c in default_validator().validators if isinstance(c, Check)]
    if samples is not None:
        request.samples = list(samples)
        if (r := AgreementCheck().recorded(request, d)) is not None:
            out.append(r)
    if self_check is not None:
        request.self_check = list(self_check) if isinstance(self_check, (list, tuple)) else self_check
        if (r := SelfCheck().recorded(request, d)) is not None:
            out.append(r)
    return out


__all__ = [
    "ANSWER_KINDS",
    "DEFAULT_HASH_BUCKETS",
    "FeatureSet",
    "draft_features",
    "features",
    "free_checks",
    "logprob_features",
    "prompt_features",
]
