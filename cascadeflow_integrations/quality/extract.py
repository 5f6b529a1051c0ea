"""Final answers: the kind a prompt asks for, extracted and normalised, and whether two answers agree.

One implementation for `AgreementCheck` (samples against the draft) and the learning package's free
labels (the draft against a stronger answer). `answer_kind` names what a prompt asks for (one of
`ANSWER_KINDS`, reusing the prompt patterns of `AnswerPresenceCheck`, so "asks for a number" means
the same thing to the check and to the label); `extract_answer` gives an `Answer` (kind and normalised
value), or None where there is nothing to compare without a model (code, lists, free text);
`Answer.agrees` compares two; `agreement` labels a draft against a stronger answer.

Normalised: case, accents, whitespace, articles, punctuation; numbers with units, currency and
percent signs, `#### 18`, `\\boxed{18}`, fractions; JSON up to key order; tool calls by name and
equivalent arguments. A short answer agrees with a longer one that holds it as whole words.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .answer import (
    _ASKS_CODE_RE,
    _ASKS_JSON_RE,
    _ASKS_LIST_RE,
    _ASKS_NUMBER_RE,
    _ASKS_ONE_WORD_RE,
    _ASKS_YESNO_RE,
    _OPTION_RE,
    final_answer,
    json_candidates,
    number_value,
    numbers_in,
)

ANSWER_KINDS = ("number", "choice", "yes_no", "short", "code", "json", "list", "free_text", "tool_call")
#: Kinds whose answers can be compared without a model.
COMPARABLE_KINDS = frozenset({"number", "choice", "yes_no", "short", "json", "tool_call"})
#: Read from any text whose kind was not given, a short answer has at most this many words.
SHORT_WORDS = 6

_YESNO_Q_RE = re.compile(
    r"^\s*(?:is|are|was|were|do|does|did|can|could|will|would|should|has|have|had)\b[^?]{0,300}\?\s*$", re.I
)
_TRUE_FALSE_RE = re.compile(r"\btrue\s+or\s+false\b", re.I)
_SHORT_Q_RE = re.compile(r"^\s*(?:who|where|when|(?:what|which)\s+(?:is|was|year|city|country)|name)\b[^?]*\??\s*$", re.I)
_SHORT_Q_MAX_WORDS = 15
# A word problem: several givens and a closing what/how question ("... what's her annual salary?").
_LAST_Q_RE = re.compile(r"(?:^|[.!?]\s)[^.!?]*\b(?:what|how|which)\b[^.!?]*\?\s*$", re.I | re.S)
_ANSWER_LETTER_RE = re.compile(
    r"(?:answer|option|choice)\s*(?:is|:)?\s*(?:option\s*)?[\s(*]*([A-J])\b(?![a-z'])", re.I
)
_LEADING_LETTER_RE = re.compile(r"^\W{0,4}([A-J])(?:[).:\]*]|\s|$)")
_ANY_LETTER_RE = re.compile(r"(?:^|[\s(*\[])([A-J])(?:[).:*\]]|\s|$)")
_LEADING_YESNO_RE = re.compile(r"^\W*(yes|no|true|false)\b", re.I)
_YESNO_WORD_RE = re.compile(r"\b(yes|no)\b", re.I)
_PREFIX_RE = re.compile(
    r"^\s*(?:the\s+)?(?:final\s+)?(?:short\s+)?answer\s*(?:is|:)\s*|^\s*\**answer\**\s*:\s*", re.I)
_ARTICLES_RE = re.compile(r"\b(?:a|an|the)\b")
_NON_WORD_RE = re.compile(r"[^\w\s.-]|(?<!\d)[.-]|[.-](?!\d)")
_SPACE_RE = re.compile(r"\s+")
_BOXED_RE = re.compile(r"\\boxed\{([^{}]*)\}")
_TEXT_FRAC_RE = re.compile(r"\\d?frac\{(-?\d+)\}\{(-?\d+)\}")
_FRACTION_RE = re.compile(r"(?<![\d.])(-?\d+)\s*/\s*(\d+)(?!\.?\d)")  # "3/4." ends a sentence; "3/4.5" is no fraction
_FIRST_SENTENCE_RE = re.compile(r"^(.{1,200}?)(?:[.!?](?:\s|$)|\n|$)", re.S)
_NUMERIC_STR_RE = re.compile(r"\s*[-$]?[\d,.]+%?\s*")


@dataclass(frozen=True, slots=True)
class Answer:
    """A normalised final answer. `kind` is one of `COMPARABLE_KINDS`; `value` a float for numbers,
    an option letter, "yes"/"no", normalised text, canonical JSON text, or sorted canonical calls."""

    kind: str
    value: Any

    def agrees(self, other: Answer | None) -> bool:
        if other is None or other.kind != self.kind:
            return False
        if self.kind == "number":
            return math.isclose(self.value, other.value, rel_tol=1e-6, abs_tol=1e-9)
        if self.kind == "short" and self.value != other.value:
            # "canberra" agrees with "capital of australia is canberra": the shorter, as whole words, in the longer
            short, long_ = sorted((self.value, other.value), key=len)
            return bool(short) and re.search(rf"(?:^|\s){re.escape(short)}(?:\s|$)", long_) is not None
        return bool(self.value == other.value)

    @property
    def text(self) -> str:
        """The value as text: what the decision log stores."""
        if self.kind == "number":
            return _fmt(self.value)
        if self.kind == "tool_call":
            return json.dumps(list(self.value))
        return str(self.value)


def answer_kind(prompt: str, tools: Sequence[Any] | None = None) -> str:
    """The kind of answer the prompt asks for: one of `ANSWER_KINDS`.

    Decided from the last ~2,000 characters (where instructions sit), most specific kind first.
    """
    if tools:
        return "tool_call"
    head = prompt[-2000:]
    if _ASKS_JSON_RE.search(head):
        return "json"
    if _ASKS_CODE_RE.search(head):
        return "code"
    if len(set(_OPTION_RE.findall(prompt))) >= 2:
        return "choice"
    if _ASKS_YESNO_RE.search(head) or _TRUE_FALSE_RE.search(head) or _YESNO_Q_RE.match(head):
        return "yes_no"
    if _ASKS_LIST_RE.search(head):
        return "list"
    if _ASKS_NUMBER_RE.search(head):
        return "number"
    if len(numbers_in(head)) >= 2 and _LAST_Q_RE.search(head[-400:]):
        return "number"
    if _ASKS_ONE_WORD_RE.search(head):
        return "short"
    if len(head.split()) <= _SHORT_Q_MAX_WORDS and _SHORT_Q_RE.match(head):
        return "short"
    return "free_text"


def number_of(s: str) -> float | None:
    """'$1,234.50' -> 1234.5, '18 km' -> 18, '50%' -> 50, '3/4' and '\\frac{3}{4}' -> 0.75."""
    s = s.strip()
    m = _TEXT_FRAC_RE.search(s) or _FRACTION_RE.fullmatch(s)
    if m:
        den = float(m.group(2))
        return float(m.group(1)) / den if den else None
    nums = numbers_in(s)
    return number_value(nums[0]) if nums else None


def normalise_number(s: str) -> str | None:
    """The number in `s` as canonical text: '$1,234.50' -> '1234.5', '18 km' -> '18', '3/4' -> '0.75'."""
    v = number_of(s)
    return None if v is None else _fmt(v)


def _fmt(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.12g}"


def normalise_text(text: str) -> str:
    """Case, accents, punctuation, articles and whitespace folded: '  The Café, Zürich!' -> 'cafe zurich'."""
    t = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    t = _NON_WORD_RE.sub(" ", t.lower())
    return _SPACE_RE.sub(" ", _ARTICLES_RE.sub(" ", t)).strip()


def canonical(v: Any) -> Any:
    """JSON values and tool arguments where equivalent ones are equal: null keys dropped, strings folded,
    numbers (and numeric strings) as canonical number text."""
    if isinstance(v, Mapping):
        return {str(k): canonical(x) for k, x in v.items() if x is not None}
    if isinstance(v, (list, tuple)):
        return [canonical(x) for x in v]
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float)):
        return _fmt(float(v)) if math.isfinite(v) else str(v)
    if isinstance(v, str):
        n = normalise_number(v) if _NUMERIC_STR_RE.fullmatch(v) else None
        return n if n is not None else _SPACE_RE.sub(" ", v.strip().casefold())
    return repr(v)


def _call_parts(call: Any) -> tuple[str, Any]:
    if isinstance(call, Mapping):
        name, args = call.get("name", ""), call.get("arguments", {})
    else:
        name, args = getattr(call, "name", ""), getattr(call, "arguments", {})
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return str(name), ["<unparsed>", args.strip()]
    return str(name), canonical(args)


def tool_answer(calls: Sequence[Any]) -> Answer:
    """Tool calls (`ToolCall`s or dicts with name and arguments) as one answer; the order of calls and keys does not matter."""
    return Answer("tool_call", tuple(sorted(json.dumps(p, sort_keys=True) for p in map(_call_parts, calls))))


def tool_calls_agree(a: Sequence[Any], b: Sequence[Any]) -> bool:
    """The same tools with equivalent arguments (no calls at all do not agree)."""
    return bool(a) and tool_answer(a).agrees(tool_answer(b))


# ---- one reader per comparable kind ----------------------------------------------------------


def _number(text: str, prompt: str = "") -> Answer | None:
    boxed = _BOXED_RE.findall(text)
    if boxed:
        v = number_of(boxed[-1])
    else:
        fa = final_answer(text)
        if fa is None or not fa.numbers:
            return None
        frac = (_FRACTION_RE.search(fa.text) or _TEXT_FRAC_RE.search(fa.text)) if fa.explicit else None
        # A marked answer ("#### 18", "the answer is $18 (9 eggs)") leads with its number; an
        # unmarked last line ("... so she makes 9 * $2 = $18") ends with it.
        v = number_of(frac.group(0) if frac else fa.numbers[0] if fa.explicit else fa.numbers[-1])
    return None if v is None else Answer("number", v)


def _choice(text: str, prompt: str = "") -> Answer | None:
    allowed = set(_OPTION_RE.findall(prompt)) or set("ABCDEFGHIJ")
    head = text[:3000]
    marked = [x.upper() for x in _ANSWER_LETTER_RE.findall(head) if x.upper() in allowed]
    if marked:
        return Answer("choice", marked[-1])
    leading = [x.upper() for x in _LEADING_LETTER_RE.findall(head) if x.upper() in allowed]
    if leading:
        return Answer("choice", leading[0])
    letters = {x for x in _ANY_LETTER_RE.findall(head) if x in allowed}
    return Answer("choice", letters.pop()) if len(letters) == 1 else None


def _yes_no(text: str, prompt: str = "") -> Answer | None:
    fa = final_answer(text)
    for candidate in ([fa.text] if fa and fa.explicit else []) + [text]:
        if m := _LEADING_YESNO_RE.match(_PREFIX_RE.sub("", candidate)):
            return Answer("yes_no", "yes" if m.group(1).lower() in ("yes", "true") else "no")
    m = _YESNO_WORD_RE.search(text[:300])
    return Answer("yes_no", m.group(1).lower()) if m else None


def _short(text: str, prompt: str = "", strict: bool = False) -> Answer | None:
    """The boxed or marked answer, else the first sentence. `strict` (kind not given): only a few words
    on at most two lines count, so a paragraph of free text is not taken for an answer."""
    boxed = _BOXED_RE.findall(text)
    fa = final_answer(text)
    if boxed:
        ans = boxed[-1]
    elif fa is not None and fa.explicit:
        ans = fa.text
    elif strict:
        lines = text.strip().splitlines()
        if not lines or len(lines) > 2:
            return None
        ans = lines[0]
    else:
        m = _FIRST_SENTENCE_RE.match(text.strip())
        ans = m.group(1) if m else text[:200]
    norm = normalise_text(_PREFIX_RE.sub("", ans))
    if not norm or (strict and len(norm.split()) > SHORT_WORDS):
        return None
    return Answer("short", norm)


def _json_value(text: str) -> Any:
    for c in (text, *json_candidates(text)):  # the whole text first: '[1, {"a": 2}]' is the list
        try:
            return json.loads(c)
        except ValueError:
            continue
    return None


def _json(text: str, prompt: str = "") -> Answer | None:
    value = _json_value(text)
    return None if value is None else Answer("json", json.dumps(canonical(value), sort_keys=True, separators=(",", ":")))


_BY_KIND = {"number": _number, "choice": _choice, "yes_no": _yes_no, "short": _short, "json": _json}
#: Kinds a prompt can ask for that are read as such when the kind is not given.
_ASKED = frozenset({"number", "choice", "yes_no", "json"})


def extract_answer(text: str, question: str = "", tool_calls: Sequence[Any] = (),
                   kind: str | None = None) -> Answer | None:
    """The final answer of `text` to `question`, or None where there is nothing to compare.

    With `kind` (one of `ANSWER_KINDS`) only that kind is read, e.g. samples the way the draft was read.
    Without, the kind the question asks for is tried, then a marked number, then a short answer.
    """
    if kind is not None and kind not in ANSWER_KINDS:
        raise ValueError(f"unknown answer kind {kind!r}: use one of {', '.join(ANSWER_KINDS)}")
    if kind == "tool_call" or (kind is None and tool_calls):
        return tool_answer(tool_calls) if tool_calls else None
    text = text.strip()
    if not text:
        return None
    if kind is not None:
        read = _BY_KIND.get(kind)
        return read(text, question) if read is not None else None
    asked = answer_kind(question)
    if asked in _ASKED and (a := _BY_KIND[asked](text, question)) is not None:
        return a
    fa = final_answer(text)
    if fa is not None and fa.explicit and fa.numbers:
        return _number(text)
    a = _short(text, strict=True)
    if a is not None and (nums := numbers_in(a.value)) and len(nums) == 1 and not a.value.replace(nums[0], "").strip():
        v = number_value(nums[0])
        return Answer("number", v) if v is not None else a
    return a


def answer_text(kind: str, text: str, prompt: str = "") -> str | None:
    """The normalised final answer of `text` for a prompt of `kind`, as text; None when none can be found."""
    a = extract_answer(text, prompt, kind=kind)
    return None if a is None else a.text


def agreement(
    kind: str,
    prompt: str,
    draft: str,
    strong: str,
    draft_tool_calls: Sequence[Any] | None = None,
    strong_tool_calls: Sequence[Any] | None = None,
) -> float | None:
    """1.0 if the draft agrees with the stronger answer, 0.0 if not, None if it cannot be told without a
    model (code, lists, free text, or no answer found in the stronger text)."""
    if kind == "tool_call" or draft_tool_calls or strong_tool_calls:
        if strong_tool_calls:
            return 1.0 if tool_calls_agree(draft_tool_calls or [], strong_tool_calls) else 0.0
        if draft_tool_calls:
            return 0.0  # the stronger model answered in text where the draft called a tool
        kind = answer_kind(prompt)  # tools were offered but neither called one: compare the text
    if kind not in COMPARABLE_KINDS:
        return None
    b = extract_answer(strong, prompt, kind=kind)
    if b is None:
        return None
    return 1.0 if b.agrees(extract_answer(draft, prompt, kind=kind)) else 0.0
