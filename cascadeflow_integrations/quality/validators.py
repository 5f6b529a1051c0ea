"""Built-in structural checks: completeness, refusal/hedging, token confidence, tool calls."""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from ..tools.call import ToolCall
from ._check import Check
from .base import CheckResult, Draft, PartialDraft, ValidationRequest

logger = logging.getLogger(__name__)

#: Only the opening of a draft is scanned for refusals: that is where models put them.
OPENING_CHARS = 300

_REFUSAL_RE = re.compile(
    r"\b(?:I\s*(?:'m|am)\s+(?:sorry,?\s+(?:but\s+)?)?(?:unable|not able)\s+to\s+(?:help|assist|comply|provide|answer|do)"
    r"|I\s+(?:can(?:'|no)?t|cannot|won'?t|will not)\s+(?:help|assist|comply|provide|answer|do that|fulfil)"
    r"|as an (?:AI|artificial intelligence|language model)\b"
    r"|I\s*(?:'m|am)\s+just\s+an?\s+(?:AI|language model))",
    re.IGNORECASE,
)
# Every alternative starts with an "i": the lookahead lets the scanner skip other characters (it reads
# the whole draft, twice as fast with it; the same matches, case folding included).
_HEDGE_RE = re.compile(
    r"(?=i)\b(?:I\s*(?:'m|am)\s+not\s+(?:sure|certain)|I\s+(?:do\s+not|don'?t)\s+know"
    r"|I\s+(?:do\s+not|don'?t)\s+have\s+(?:enough\s+)?(?:information|access|data)"
    r"|I\s+(?:can(?:'|no)?t|cannot)\s+(?:be\s+(?:sure|certain)|determine|verify)|it'?s\s+(?:unclear|hard\s+to\s+say))",
    re.IGNORECASE,
)
#: Log probabilities are clamped to [this, 0]: finite, so sums never meet inf - inf, and exp() never overflows.
_LOGPROB_FLOOR = -1e6
# A worked text that stops on one of these was cut off mid-thought (seen in recorded drafts).
_CUT_OFF_RE = re.compile(r"(?:[=+\-*/×÷(,]|<<[^>]*|\\)\s*$")


class CompletenessCheck(Check):
    """Fails empty, truncated (finish_reason `length`), filtered or visibly cut-off drafts."""

    name = "completeness"

    def run(self, request: ValidationRequest, draft: Draft) -> CheckResult:
        text = draft.text.strip()
        if not text and not draft.tool_calls:
            return CheckResult(self.name, False, 0.0, "empty answer (no text, no tool calls)")
        if draft.finish_reason == "length":
            return CheckResult(self.name, False, 0.0, "truncated (finish_reason=length)")
        if draft.finish_reason in ("content_filter", "refusal"):
            return CheckResult(self.name, False, 0.0, f"stopped by the provider ({draft.finish_reason})")
        if text and _CUT_OFF_RE.search(text[-40:]):
            return CheckResult(self.name, False, 0.1, "answer appears cut off mid-expression")
        if text.count("```") % 2:
            return CheckResult(self.name, False, 0.1, "unclosed code block")
        return CheckResult(self.name, True, 1.0)


class RefusalCheck(Check):
    """Fails refusals and hedged non-answers at the start; hedging later lowers the score."""

    name = "refusal"

    def __init__(self, hedge_penalty: float = 0.75) -> None:
        self.hedge_penalty = hedge_penalty

    def run(self, request: ValidationRequest, draft: Draft) -> CheckResult:
        opening = draft.text[:OPENING_CHARS]
        if m := _REFUSAL_RE.search(opening):
            return CheckResult(self.name, False, 0.0, f"refusal: {m.group(0)!r}")
        if m := _HEDGE_RE.search(opening):
            return CheckResult(self.name, False, 0.2, f"hedged non-answer: {m.group(0)!r}")
        if len(draft.text) > OPENING_CHARS and (m := _HEDGE_RE.search(draft.text, OPENING_CHARS)):
            return CheckResult(self.name, True, self.hedge_penalty, f"hedging: {m.group(0)!r}")
        return CheckResult(self.name, True, 1.0)

    def check_partial(self, request: ValidationRequest, partial: PartialDraft) -> str | None:
        # Only the opening matters, so stop looking once it has streamed past.
        if partial.text_len > OPENING_CHARS + 200 or not partial.text_parts:
            return None
        opening = partial.text[:OPENING_CHARS]
        if m := _REFUSAL_RE.search(opening):
            return f"refusal at start: {m.group(0)!r}"
        return None


class LogprobConfidence(Check):
    """Token-probability confidence (OpenAI-style logprobs); neutral when the provider gives none.

    confidence = 0.5·geometric-mean prob + 0.3·worst-window geometric-mean prob + 0.2·(1 - share of
    tokens under `low_prob`). Fails below `floor`.
    """

    name = "logprob_confidence"

    def __init__(
        self, floor: float = 0.35, window: int = 8, low_prob: float = 0.1, collapse_prob: float = 0.05
    ) -> None:
        self.floor = floor
        self.window = window
        self.low_logprob = math.log(low_prob)
        self.collapse_logprob = math.log(collapse_prob)

    def confidence(self, logprobs: list[float]) -> float:
        logprobs = [_clamp_logprob(lp) for lp in logprobs]
        n = len(logprobs)
        mean = sum(logprobs) / n
        w = min(self.window, n)
        run = sum(logprobs[:w])
        worst = run
        for i in range(w, n):  # sliding window in O(n)
            run += logprobs[i] - logprobs[i - w]
            worst = min(worst, run)
        low = sum(1 for lp in logprobs if lp < self.low_logprob) / n
        return 0.5 * math.exp(mean) + 0.3 * math.exp(worst / w) + 0.2 * (1.0 - low)

    def run(self, request: ValidationRequest, draft: Draft) -> CheckResult:
        if not draft.logprobs:
            return CheckResult(self.name, True, 1.0, "no logprobs (neutral)", neutral=True)
        conf = self.confidence([t.logprob for t in draft.logprobs])
        if conf < self.floor:
            return CheckResult(self.name, False, conf, f"low token confidence {conf:.2f} < {self.floor:.2f}")
        return CheckResult(self.name, True, conf, f"token confidence {conf:.2f}")

    def check_partial(self, request: ValidationRequest, partial: PartialDraft) -> str | None:
        lps = partial.logprobs
        if len(lps) < self.window:
            return None
        recent = sum(_clamp_logprob(t.logprob) for t in lps[-self.window :]) / self.window
        if recent < self.collapse_logprob:
            return f"logprob collapse: mean token prob {math.exp(recent):.3f} over the last {self.window} tokens"
        return None


def _clamp_logprob(lp: float) -> float:
    """A log probability as a usable number: at most 0, NaN or anything unusable counts as the floor."""
    if isinstance(lp, (int, float)) and lp >= _LOGPROB_FLOOR:
        return 0.0 if lp > 0 else float(lp)
    return _LOGPROB_FLOOR


def tools_by_name(tools: list[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Tool definitions keyed by name; accepts universal (`name`/`parameters`) and OpenAI (`function`) shapes."""
    out: dict[str, dict[str, Any]] = {}
    for t in tools or []:
        inner = t.get("function")
        fn: dict[str, Any] = inner if isinstance(inner, dict) else t
        name = fn.get("name")
        if isinstance(name, str):
            out[name] = fn
    return out


def _schema_of(tool: dict[str, Any]) -> dict[str, Any]:
    schema = tool.get("parameters") or tool.get("input_schema") or tool.get("schema") or {}
    return schema if isinstance(schema, dict) else {}


def _call_errors(call: ToolCall, tools: dict[str, dict[str, Any]]) -> list[str]:
    try:
        from ..tools.schema import validate_tool_call
    except ImportError:  # the schema module is optional at import time; jsonschema covers the same ground
        return _fallback_errors(call, tools)
    return list(validate_tool_call(call, tools))


def _fallback_errors(call: ToolCall, tools: dict[str, dict[str, Any]]) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema_of(tools[call.name]))
    return [f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in validator.iter_errors(call.arguments)]


class ToolCallCheck(Check):
    """Tool calls must name an offered tool and have arguments that parse and match its JSON schema."""

    name = "tool_calls"

    def run(self, request: ValidationRequest, draft: Draft) -> CheckResult:
        tools = tools_by_name(request.tools)
        required = request.tool_choice == "required" or isinstance(request.tool_choice, dict)
        if not draft.tool_calls:
            if required and tools:
                return CheckResult(self.name, False, 0.0, "a tool call was required (tool_choice) but none was made")
            return CheckResult(self.name, True, 1.0)
        problems: list[str] = []
        for call in draft.tool_calls:
            if call.name not in tools:
                known = ", ".join(sorted(tools)) or "none offered"
                problems.append(f"unknown tool {call.name!r} (tools: {known})")
            elif call.parse_error:
                problems.append(f"{call.name}: {call.parse_error}")
            else:
                problems.extend(f"{call.name}: {e}" for e in _call_errors(call, tools))
        if isinstance(request.tool_choice, dict):
            want = request.tool_choice.get("name")
            if want and all(c.name != want for c in draft.tool_calls):
                problems.append(f"tool_choice asked for {want!r}")
        if problems:
            return CheckResult(self.name, False, 0.0, "; ".join(problems))
        return CheckResult(self.name, True, 1.0, f"{len(draft.tool_calls)} valid tool call(s)")

    def check_partial(self, request: ValidationRequest, partial: PartialDraft) -> str | None:
        if not partial.tool_names:
            return None
        tools = tools_by_name(request.tools)
        for idx, name in partial.tool_names.items():
            if name not in tools:
                return f"unknown tool {name!r}"
            args = partial.tool_arguments.get(idx)
            if args is None:
                continue
            try:
                from ..tools.schema import partial_arguments_violation
            except ImportError:
                return None
            if why := partial_arguments_violation(name, args, _schema_of(tools[name])):
                return f"{name}: {why}"
        return None


_WORD_RE = re.compile(r"\S+")


class PromptDifficultyPrior(Check):
    """Longer questions are answered wrong more often by small models: scale the score down with length.

    1.0 below `start_words`, falling linearly to `floor` over the next `span_words` words of the last
    user turn (fitted on GSM8K's fit half: Mixtral's error rate rises from 25% to 57% with length).
    Never fails a draft on its own; the threshold decides.
    """

    name = "difficulty_prior"

    def __init__(
        self, start_words: int = 50, span_words: int = 60, floor: float = 0.7, max_chars: int = 20_000
    ) -> None:
        self.start_words = start_words
        self.span_words = span_words
        self.floor = floor
        self.max_chars = max_chars

    def run(self, request: ValidationRequest, draft: Draft) -> CheckResult:
        words = sum(1 for _ in _WORD_RE.finditer(request.query[: self.max_chars]))
        if words <= self.start_words:
            return CheckResult(self.name, True, 1.0)
        f = max(self.floor, 1.0 - (1.0 - self.floor) * (words - self.start_words) / self.span_words)
        return CheckResult(self.name, True, f, f"long question ({words} words)")
