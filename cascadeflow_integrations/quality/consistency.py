"""`ConsistencyCheck`: the draft fails on its own terms (arithmetic that does not hold, an answer it never derived)."""

from __future__ import annotations

import re
from fractions import Fraction

from ._check import Check
from .answer import final_answer, number_value, numbers_in
from .arith import check_text
from .base import CheckResult, Draft, ValidationRequest

_SELF_CORRECTION_RE = re.compile(
    r"\b(?:however|but wait|wait,|actually,|on second thought|let me re-?(?:check|calculate)|assum(?:e|ing)|"
    r"approximately|round(?:ed|ing)?\s+(?:up|down|to))\b",
    re.IGNORECASE,
)
_ANSWER_IS_NUMERIC_RE = re.compile(r"\d")
_GIVEN_NUMBER_RE = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
# A count of things is whole: "how many boxes" answered "1.3" stopped before rounding or went wrong
# (on the GSM8K fit half every such high-scoring draft was wrong). Only the end of the question is read.
_COUNT_QUESTION_RE = re.compile(r"\bhow\s+many\b", re.IGNORECASE)


class ConsistencyCheck(Check):
    """Verifies the arithmetic of a worked answer and that its final answer follows from it.

    Hard fail: any `expr = value` step that does not hold (exact fractions, rounding as written is allowed).
    Soft (score only): inexact results rounded, a final answer never computed in the text, given
    numbers the solution never uses, a fractional answer to a "how many" question, and self-corrections. Penalties were fitted on the GSM8K fit half.
    """

    name = "consistency"

    def __init__(
        self,
        rounded_penalty: float = 0.7,
        underived_penalty: float = 0.6,
        unused_given_penalty: float = 0.8,
        self_correction_penalty: float = 0.8,
        unverified_penalty: float = 0.6,
        thin_penalty: float = 0.9,
        long_penalty: float = 0.8,
        long_chars: int = 600,
        fractional_count_penalty: float = 0.5,
        max_chars: int = 50_000,
    ) -> None:
        self.rounded_penalty = rounded_penalty
        self.underived_penalty = underived_penalty
        self.unused_given_penalty = unused_given_penalty
        self.self_correction_penalty = self_correction_penalty
        self.unverified_penalty = unverified_penalty
        self.thin_penalty = thin_penalty
        self.long_penalty = long_penalty
        self.long_chars = long_chars
        self.fractional_count_penalty = fractional_count_penalty
        self.max_chars = max_chars

    def run(self, request: ValidationRequest, draft: Draft) -> CheckResult:
        text = draft.text[: self.max_chars]  # bound the work; arithmetic past this is not checked
        given = {n.replace(",", "") for n in _GIVEN_NUMBER_RE.findall(request.query[-4000:])}
        steps = check_text(text) if "=" in text else []
        wrong = [s for s in steps if not s.holds]
        if wrong:
            # The same statement often appears twice (prose and a calculator annotation): show it once.
            seen: dict[str, str] = {}
            for s in wrong:
                key = re.sub(r"[\s$]", "", f"{s.lhs}={s.rhs}")
                seen.setdefault(key, f"{_clip(s.lhs)} = {_clip(s.rhs)} (is {_show(s.lhs_value)})")
            shown = ", ".join(list(seen.values())[:3])
            return CheckResult(self.name, False, 0.05, f"arithmetic does not hold: {shown}")
        # The final answer is read only where it is used: with steps, or for a "how many" question
        # (finding it scans the whole text, most of this check's time on a long essay).
        counting = _COUNT_QUESTION_RE.search(request.query[-400:]) is not None
        fa = final_answer(text) if steps or counting else None
        count_factor, count_note = 1.0, ""
        if fa is not None and fa.numbers and counting:
            v = number_value(fa.numbers[0])
            if v is not None and v != int(v):
                count_factor, count_note = self.fractional_count_penalty, f"fractional count {fa.numbers[0]}"
        if not steps:
            # A word problem with several givens answered without any checkable working.
            if len(given) >= 2 and _ANSWER_IS_NUMERIC_RE.search(text[-200:]) and len(text) > 80:
                why = "; ".join(x for x in ("no checkable arithmetic", count_note) if x)
                return CheckResult(self.name, True, self.unverified_penalty * count_factor, why)
            if count_note:
                return CheckResult(self.name, True, count_factor, count_note)
            return CheckResult(self.name, True, 1.0, "no arithmetic to check", neutral=True)
        score, notes = count_factor, [f"{len(steps)} step(s) verified"] + ([count_note] if count_note else [])
        if any(s.rounded for s in steps):
            score *= self.rounded_penalty
            notes.append("an inexact result was rounded")
        if fa is not None and fa.explicit and fa.numbers:
            target = number_value(fa.numbers[0])
            computed = {_float(s.rhs_value) for s in steps} | {_float(s.lhs_value) for s in steps}
            body = text[: text.rfind(fa.text)] if fa.text else text
            mentioned = {number_value(n) for n in numbers_in(body)}
            if target is not None and not _near(target, computed) and not _near(target, mentioned - {None}):
                score *= self.underived_penalty
                notes.append(f"final answer {fa.numbers[0]} is not derived in the solution")
        if len(given) >= 2:
            used = {n.replace(",", "") for n in _GIVEN_NUMBER_RE.findall(text)}
            unused = len(given - used)
            if unused:
                score *= self.unused_given_penalty**unused
                notes.append(f"{unused} given number(s) never used")
            if len({s.rhs_value for s in steps}) < len(given) - 1:
                score *= self.thin_penalty
                notes.append("fewer verified steps than givens")
        if len(text) > self.long_chars:
            score *= self.long_penalty
            notes.append("long worked solution")
        if _SELF_CORRECTION_RE.search(text):
            score *= self.self_correction_penalty
            notes.append("self-correction or approximation")
        return CheckResult(self.name, True, max(score, 0.1), "; ".join(notes))


def _float(v: Fraction) -> float | None:
    """The value as a float; None past float's range (a 309-digit number)."""
    try:
        return float(v)
    except OverflowError:
        return None


def _clip(expr: str, n: int = 60) -> str:
    return expr if len(expr) <= n else expr[: n - 1] + "…"


def _show(v: Fraction) -> str:
    f = _float(v)
    return f"{f:g}" if f is not None else "a number too large to show"


def _near(v: float, values: set[float | None] | set[float]) -> bool:
    return any(x is not None and abs(x - v) <= 1e-6 * max(1.0, abs(v)) for x in values)
