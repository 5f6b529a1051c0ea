"""Final answers extracted and normalised, so two answers to one question can be compared.

Kinds: `tool` (tool name + canonical arguments), `choice` (an option letter), `yesno`, `number`,
`short` (a few words, normalised). Free text with no such answer gives None.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..tools.call import ToolCall
from .answer import _ASKS_NUMBER_RE, _OPTION_RE, final_answer, number_value, numbers_in

#: A short answer has at most this many words once normalised.
SHORT_WORDS = 6

_MARKED_CHOICE_RE = re.compile(
    r"(?:answer|option|choice)\s*(?:is|:)?\s*[:\-]?\s*\(?\**([A-E])\**\)?(?![\w])", re.IGNORECASE)
_LEADING_CHOICE_RE = re.compile(r"^\W*\(?([A-E])(?:[).:\]]|\s*$|\s+[-–—]|\s*\*\*)")
_YESNO_Q_RE = re.compile(
    r"^\s*(?:is|are|was|were|do|does|did|can|could|will|would|should|has|have|had|may|must)\b"
    r"|\byes\s+or\s+no\b|\byes/no\b|\btrue\s+or\s+false\b", re.IGNORECASE | re.MULTILINE)
_YESNO_RE = re.compile(r"^\W*(yes|no|true|false)\b", re.IGNORECASE)
_PREFIX_RE = re.compile(
    r"^\s*(?:the\s+)?(?:final\s+)?(?:short\s+)?answer\s*(?:is|:)\s*|^\s*\**answer\**\s*:\s*", re.IGNORECASE)
_ARTICLES_RE = re.compile(r"\b(?:a|an|the)\b")
_NON_WORD_RE = re.compile(r"[^\w\s.-]|(?<!\d)[.-]|[.-](?!\d)")
_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Answer:
    kind: str
    value: Any

    def agrees(self, other: Answer | None) -> bool:
        if other is None or other.kind != self.kind:
            return False
        if self.kind == "number":
            return math.isclose(self.value, other.value, rel_tol=1e-6, abs_tol=1e-9)
        return bool(self.value == other.value)


def normalise_text(text: str) -> str:
    """Lower case, accents and punctuation dropped, articles dropped, spaces collapsed."""
    t = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    t = _NON_WORD_RE.sub(" ", t.lower())
    return _SPACE_RE.sub(" ", _ARTICLES_RE.sub(" ", t)).strip()


def canonical(value: Any) -> Any:
    """Arguments in a form where equivalent ones are equal: keys sorted, strings folded, numbers as floats."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), canonical(v)) for k, v in value.items() if v is not None))
    if isinstance(value, (list, tuple)):
        return tuple(canonical(v) for v in value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return round(float(value), 9)
    if isinstance(value, str):
        return _SPACE_RE.sub(" ", value.strip().casefold())
    return repr(value)


def tool_answer(calls: Sequence[ToolCall]) -> Answer:
    def args(c: ToolCall) -> Any:
        a = c.arguments
        if isinstance(a, str):
            try:
                a = json.loads(a) if a.strip() else {}
            except ValueError:
                return ("unparsed", a.strip())
        return canonical(a)

    return Answer("tool", tuple(sorted((c.name, repr(args(c))) for c in calls)))


def question_kind(question: str) -> str | None:
    """The kind of answer a question asks for, when the question says: choice, yesno or number."""
    if len(set(_OPTION_RE.findall(question))) >= 2:
        return "choice"
    if _ASKS_NUMBER_RE.search(question[-2000:]):
        return "number"
    if _YESNO_Q_RE.search(question[-500:]):
        return "yesno"
    return None


def _choice(text: str) -> Answer | None:
    marked = None
    for marked in _MARKED_CHOICE_RE.finditer(text):
        pass
    if marked is not None:
        return Answer("choice", marked.group(1).upper())
    for line in text.strip().splitlines()[:3]:
        if m := _LEADING_CHOICE_RE.match(line):
            return Answer("choice", m.group(1).upper())
    return None


def _yesno(text: str) -> Answer | None:
    fa = final_answer(text)
    for candidate in ([fa.text] if fa and fa.explicit else []) + [text]:
        if m := _YESNO_RE.match(_PREFIX_RE.sub("", candidate)):
            word = m.group(1).lower()
            return Answer("yesno", "yes" if word in ("yes", "true") else "no")
    return None


def _number(text: str) -> Answer | None:
    fa = final_answer(text)
    if fa is None or not fa.numbers:
        return None
    # A marked answer states its number first ("#### 18", "the answer is 18 eggs"); an inferred last
    # line usually ends on it ("so she makes 9 * 2 = 18").
    raw = fa.numbers[0] if fa.explicit else fa.numbers[-1]
    v = number_value(raw)
    return Answer("number", v) if v is not None else None


def _short(text: str) -> Answer | None:
    fa = final_answer(text)
    candidate = fa.text if fa is not None and fa.explicit else text
    norm = normalise_text(_PREFIX_RE.sub("", candidate.strip().splitlines()[0] if candidate.strip() else ""))
    if norm and len(norm.split()) <= SHORT_WORDS and len(candidate.strip().splitlines()) <= 2:
        nums = numbers_in(norm)
        if nums and len(nums) == 1 and norm.replace(nums[0], "").strip() == "":
            v = number_value(nums[0])
            if v is not None:
                return Answer("number", v)
        return Answer("short", norm)
    return None


_BY_KIND = {"choice": _choice, "yesno": _yesno, "number": _number, "short": _short}


def extract_answer(text: str, question: str = "", tool_calls: Sequence[ToolCall] = (),
                   kind: str | None = None) -> Answer | None:
    """The final answer of `text` to `question`, or None for free text with no extractable answer.

    With `kind`, only that kind is looked for (to read samples the way the draft was read).
    """
    if kind == "tool" or (kind is None and tool_calls):
        return tool_answer(tool_calls) if tool_calls else None
    if kind is not None:
        return _BY_KIND[kind](text)
    asked = question_kind(question)
    if asked is not None and (a := _BY_KIND[asked](text)) is not None:
        return a
    fa = final_answer(text)
    if fa is not None and fa.explicit and fa.numbers:
        return _number(text)
    return _short(text)
