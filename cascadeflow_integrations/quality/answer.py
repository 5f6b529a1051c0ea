"""`AnswerPresenceCheck`: when the prompt asks for a specific kind of answer, the draft must contain one."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from ._check import Check
from .base import CheckResult, Draft, ValidationRequest

_NUMBER_RE = re.compile(r"(?<![\w.])-?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?")
_NUMBER_WORDS = "zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million"
_NUMBER_WORD_RE = re.compile(rf"\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
_ASKS_NUMBER_RE = re.compile(
    r"\bhow\s+(?:many|much|long|far|old|fast|often|tall|big|heavy)\b|\bwhat\s+(?:percent(?:age)?|is\s+the\s+(?:total|sum|"
    r"product|number|value|cost|price|average|area|probability))\b|\b(?:calculate|compute)\b|\bwhat\s+is\s+[-\d(]",
    re.IGNORECASE,
)
_ASKS_COUNT_RE = re.compile(r"\bhow\s+many\b", re.IGNORECASE)
_ASKS_YESNO_RE = re.compile(r"\b(?:yes\s+or\s+no|yes/no)\b", re.IGNORECASE)
_YESNO_RE = re.compile(r"\b(?:yes|no)\b", re.IGNORECASE)
_ASKS_JSON_RE = re.compile(
    r"\b(?:in|as|return|output|respond\s+with|valid)\s+(?:a\s+)?JSON\b|\bJSON\s+(?:object|array|format)\b", re.I
)
_ASKS_CODE_RE = re.compile(
    r"\b(?:write|implement|create|give\s+me)\s+(?:a|an|the|some)?\s*(?:\w+\s+)?(?:function|script|program|class|code|snippet)\b"
    r"|\bcode\s+block\b",
    re.IGNORECASE,
)
_CODE_RE = re.compile(r"```|^(?: {4}|\t)\S|\b(?:def|class|function|return|import|const|let|public)\b", re.MULTILINE)
_ASKS_ONE_WORD_RE = re.compile(r"\b(?:in\s+)?(?:one|a\s+single|single)\s+word\b", re.IGNORECASE)
_OPTION_RE = re.compile(r"(?:^|\s)\(?([A-E])[).:]\s+\S", re.MULTILINE)
_LETTER_ANSWER_RE = re.compile(r"(?:^|[\s(*])([A-E])(?:[).:*\s]|$)")
_ASKS_LIST_RE = re.compile(
    r"\b(?:list|give|name|suggest|provide|write)\s+(?:me\s+)?(\d+|two|three|four|five|six|seven|eight|nine|ten)\b", re.I
)
_WORD_INT = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_LIST_ITEM_RE = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+\S", re.MULTILINE)


@dataclass(slots=True)
class FinalAnswer:
    """The answer a worked solution commits to."""

    text: str
    explicit: bool  # marked (####, \\boxed{}, "the answer is") rather than inferred from the last line
    numbers: list[str]


def numbers_in(text: str) -> list[str]:
    return [n for n in _NUMBER_RE.findall(text)]


def number_value(s: str) -> float | None:
    """The number as a float; None when it does not parse or is too large for one (309+ digits)."""
    s = s.replace("$", "").replace(",", "").replace("%", "").strip()
    try:
        v = float(s)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def final_answer(text: str) -> FinalAnswer | None:
    """The marked final answer (found as `quality.answers` finds it), else the last line that holds a number."""
    from .answers.span import find_span  # here, not at the top: quality.answers imports this module

    span = find_span(text)
    if span is not None and span.explicit:
        return FinalAnswer(span.text, True, numbers_in(span.text))
    for line in reversed(text.strip().splitlines()):
        nums = numbers_in(line)
        if nums:
            return FinalAnswer(line.strip(), False, nums)
    return None


def json_candidates(text: str) -> list[str]:
    """Where a JSON value may stand in `text`: a fenced block, then the outermost `{...}` and `[...]`."""
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    candidates = [fenced.group(1)] if fenced else []
    for open_c, close_c in (("{", "}"), ("[", "]")):
        i, j = text.find(open_c), text.rfind(close_c)
        if 0 <= i < j:
            candidates.append(text[i : j + 1])
    return candidates


def _find_json(text: str) -> bool:
    for c in json_candidates(text):
        try:
            json.loads(c)
            return True
        except ValueError:
            continue
    return False


class AnswerPresenceCheck(Check):
    """The draft holds the kind of answer asked for: number, yes/no, option letter, JSON, code, one word, N items.

    For number questions answered with a worked solution, an explicit final answer raises the score, and
    a fractional answer to a whole-number "how many" question lowers it (both measured on GSM8K fit data).
    """

    name = "answer_presence"

    def __init__(
        self, unmarked_penalty: float = 0.7, fractional_count_penalty: float = 0.3, ambiguous_penalty: float = 0.4
    ) -> None:
        self.unmarked_penalty = unmarked_penalty
        self.fractional_count_penalty = fractional_count_penalty
        self.ambiguous_penalty = ambiguous_penalty

    def run(self, request: ValidationRequest, draft: Draft) -> CheckResult:
        if draft.tool_calls and not draft.text.strip():
            return CheckResult(self.name, True, 1.0, "tool call")
        q, text = request.query, draft.text
        q_head = q[-2000:]  # instructions sit at the end of long prompts; bound the scan
        if _ASKS_JSON_RE.search(q_head) and not _find_json(text):
            return CheckResult(self.name, False, 0.0, "JSON was asked for but the draft holds no valid JSON")
        if _ASKS_CODE_RE.search(q_head) and not _CODE_RE.search(text):
            return CheckResult(self.name, False, 0.0, "code was asked for but the draft holds none")
        if _ASKS_YESNO_RE.search(q_head) and not _YESNO_RE.search(text[:500]):
            return CheckResult(self.name, False, 0.0, "a yes/no answer was asked for")
        if _ASKS_ONE_WORD_RE.search(q_head) and len(re.findall(r"\w+", text)) > 3:
            return CheckResult(self.name, False, 0.2, "a one-word answer was asked for")
        options = set(_OPTION_RE.findall(q))
        if len(options) >= 2 and not (set(_LETTER_ANSWER_RE.findall(text[:2000])) & options):
            return CheckResult(self.name, False, 0.0, f"no option ({', '.join(sorted(options))}) chosen")
        if m := _ASKS_LIST_RE.search(q_head):
            n = int(m.group(1)) if m.group(1).isdigit() else _WORD_INT[m.group(1).lower()]
            items = len(_LIST_ITEM_RE.findall(text))
            if 0 < items < n:
                return CheckResult(self.name, False, 0.2, f"{n} items were asked for, the draft lists {items}")
        if _ASKS_NUMBER_RE.search(q_head):
            return self._number(q, text)
        return CheckResult(self.name, True, 1.0)

    def _number(self, q: str, text: str) -> CheckResult:
        fa = final_answer(text)
        if fa is None or not fa.numbers:
            if _NUMBER_WORD_RE.search(text):
                return CheckResult(self.name, True, self.unmarked_penalty, "number given in words")
            return CheckResult(self.name, False, 0.0, "a number was asked for but the draft gives none")
        score, notes = 1.0, []
        short = len(text) < 80 and "\n" not in text.strip()
        if not fa.explicit and not short:
            score *= self.unmarked_penalty
            notes.append("no explicit final answer")
        distinct = {number_value(n) for n in fa.numbers} - {None}
        if fa.explicit and len(distinct) > 1:
            score *= self.ambiguous_penalty
            notes.append(f"final answer is ambiguous: {fa.text[:60]!r}")
        first = fa.numbers[0]
        v = number_value(first)
        q_has_fraction = bool(re.search(r"\d\.\d|\d/\d|%|half|quarter|third", q))
        if _ASKS_COUNT_RE.search(q) and v is not None and v != int(v) and not q_has_fraction:
            score *= self.fractional_count_penalty
            notes.append(f"fractional answer {first} to a whole-number question")
        elif v is not None and v != int(v) and "$" not in first and not q_has_fraction and fa.explicit:
            # A rounded decimal where the givens are whole numbers usually means a wrong path.
            score *= self.fractional_count_penalty
            notes.append(f"fractional answer {first} from whole-number givens")
        return CheckResult(self.name, True, score, "; ".join(notes))
