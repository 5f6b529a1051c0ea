"""Free labels: the kind of answer a prompt asks for, its normalised final answer, and whether a draft
agrees with a stronger model's answer.

The kinds reuse the prompt patterns of `quality.answer` (the `AnswerPresenceCheck`), so "the prompt
asks for a number" means the same thing to the check and to the label. Agreement is decided only
where an answer can be extracted and compared (numbers, choices, yes/no, short answers, JSON, tool
calls); for code, lists and free text `agreement` returns None: a judge model or the user labels those.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from ..quality.answer import (
    _ASKS_CODE_RE,
    _ASKS_JSON_RE,
    _ASKS_LIST_RE,
    _ASKS_NUMBER_RE,
    _ASKS_ONE_WORD_RE,
    _ASKS_YESNO_RE,
    _OPTION_RE,
    final_answer,
    numbers_in,
)

ANSWER_KINDS = ("number", "choice", "yes_no", "short", "code", "json", "list", "free_text", "tool_call")
#: Kinds whose answers can be compared without a model.
COMPARABLE_KINDS = frozenset({"number", "choice", "yes_no", "short", "json", "tool_call"})

_YESNO_Q_RE = re.compile(
    r"^\s*(?:is|are|was|were|do|does|did|can|could|will|would|should|has|have|had)\b[^?]{0,300}\?\s*$", re.I
)
_SHORT_Q_RE = re.compile(r"^\s*(?:who|where|when|(?:what|which)\s+(?:is|was|year|city|country)|name)\b[^?]*\??\s*$", re.I)
_SHORT_Q_MAX_WORDS = 15
# A word problem: several givens and a closing what/how question ("... what's her annual salary?").
_LAST_Q_RE = re.compile(r"(?:^|[.!?]\s)[^.!?]*\b(?:what|how|which)\b[^.!?]*\?\s*$", re.I | re.S)
_ANSWER_LETTER_RE = re.compile(
    r"(?:answer|option|choice)\s*(?:is|:)?\s*(?:option\s*)?[\s(*]*([A-J])\b(?![a-z'])", re.I
)
_LEADING_LETTER_RE = re.compile(r"^\W{0,4}([A-J])(?:[).:\]*]|\s|$)")
_ANY_LETTER_RE = re.compile(r"(?:^|[\s(*\[])([A-J])(?:[).:*\]]|\s|$)")
_YESNO_WORD_RE = re.compile(r"\b(yes|no)\b", re.I)
_ARTICLES_RE = re.compile(r"\b(?:the|a|an)\b")
_NON_WORD_RE = re.compile(r"[^\w\s.-]+")
_SPACE_RE = re.compile(r"\s+")
_BOXED_RE = re.compile(r"\\boxed\{([^{}]*)\}")
_TEXT_FRAC_RE = re.compile(r"\\d?frac\{(-?\d+)\}\{(-?\d+)\}")
_FRACTION_RE = re.compile(r"(?<![\d.])(-?\d+)\s*/\s*(\d+)(?![\d.])")
_FIRST_SENTENCE_RE = re.compile(r"^(.{1,200}?)(?:[.!?](?:\s|$)|\n|$)", re.S)


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
    if _ASKS_YESNO_RE.search(head) or _YESNO_Q_RE.match(head):
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


def normalise_number(s: str) -> str | None:
    """'$1,234.50' -> '1234.5', '18 km' -> '18', '50%' -> '50', '3/4' -> '0.75'."""
    s = s.strip()
    m = _TEXT_FRAC_RE.search(s) or _FRACTION_RE.fullmatch(s)
    if m:
        den = float(m.group(2))
        return _fmt(float(m.group(1)) / den) if den else None
    nums = numbers_in(s)
    if not nums:
        return None
    raw = nums[0].replace("$", "").replace(",", "").replace("%", "").strip()
    try:
        return _fmt(float(raw))
    except ValueError:
        return None


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return str(v)
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.6g}"


def normalise_text(s: str) -> str:
    """Case, accents, punctuation, articles and whitespace folded: 'The  Canberra.' -> 'canberra'."""
    s = unicodedata.normalize("NFKC", s).lower()
    s = _NON_WORD_RE.sub(" ", s)
    s = _ARTICLES_RE.sub(" ", s)
    return _SPACE_RE.sub(" ", s).strip(" .-")


def _options(prompt: str) -> set[str]:
    return set(_OPTION_RE.findall(prompt))


def extract_answer(kind: str, text: str, prompt: str = "") -> str | None:
    """The normalised final answer of `text` for a prompt of `kind`, or None when none can be found."""
    if kind not in ANSWER_KINDS:
        raise ValueError(f"unknown answer kind {kind!r}: use one of {', '.join(ANSWER_KINDS)}")
    text = text.strip()
    if not text:
        return None
    if kind == "number":
        boxed = _BOXED_RE.findall(text)
        if boxed:
            return normalise_number(boxed[-1])
        fa = final_answer(text)
        if fa is None or not fa.numbers:
            return None
        # A marked answer ("#### 18", "the answer is $18 (9 eggs)") leads with its number; an
        # unmarked last line ("... so she makes 9 * $2 = $18") ends with it.
        pick = fa.numbers[0] if fa.explicit else fa.numbers[-1]
        if fa.explicit and (frac := _FRACTION_RE.search(fa.text) or _TEXT_FRAC_RE.search(fa.text)):
            return normalise_number(frac.group(0))
        return normalise_number(pick)
    if kind == "choice":
        allowed = _options(prompt) or set("ABCDEFGHIJ")
        for rx in (_ANSWER_LETTER_RE, _LEADING_LETTER_RE):
            found = [x.upper() for x in rx.findall(text[:3000]) if x.upper() in allowed]
            if found:
                return found[-1] if rx is _ANSWER_LETTER_RE else found[0]
        letters = {x for x in _ANY_LETTER_RE.findall(text[:3000]) if x in allowed}
        return letters.pop() if len(letters) == 1 else None
    if kind == "yes_no":
        m = _YESNO_WORD_RE.search(text[:300])
        return m.group(1).lower() if m else None
    if kind == "short":
        boxed = _BOXED_RE.findall(text)
        fa = final_answer(text)
        if boxed:
            ans = boxed[-1]
        elif fa is not None and fa.explicit:
            ans = fa.text
        else:
            m = _FIRST_SENTENCE_RE.match(text)
            ans = m.group(1) if m else text[:200]
        return normalise_text(ans) or None
    if kind == "json":
        value = _json_value(text)
        return None if value is None else json.dumps(_canon(value), sort_keys=True, separators=(",", ":"))
    if kind == "tool_call":
        return None  # tool calls are compared as calls (`tool_calls_agree`), not as text
    # code, list, free_text: nothing short and canonical to extract
    return None


def _json_value(text: str) -> Any:
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    candidates = [fenced.group(1)] if fenced else []
    candidates.append(text)
    for open_c, close_c in (("{", "}"), ("[", "]")):
        i, j = text.find(open_c), text.rfind(close_c)
        if 0 <= i < j:
            candidates.append(text[i : j + 1])
    for c in candidates:
        try:
            return json.loads(c)
        except ValueError:
            continue
    return None


def _canon(v: Any) -> Any:
    """Arguments compared up to key order, case and whitespace of strings, number formatting, null keys."""
    if isinstance(v, Mapping):
        return {str(k): _canon(x) for k, x in v.items() if x is not None}
    if isinstance(v, (list, tuple)):
        return [_canon(x) for x in v]
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float)):
        return _fmt(float(v))
    if isinstance(v, str):
        n = normalise_number(v) if re.fullmatch(r"\s*[-$]?[\d,.]+%?\s*", v) else None
        return n if n is not None else _SPACE_RE.sub(" ", v.strip().lower())
    return v


def _call_parts(call: Any) -> tuple[str, Any]:
    if isinstance(call, Mapping):
        name, args = call.get("name", ""), call.get("arguments", {})
    else:
        name, args = getattr(call, "name", ""), getattr(call, "arguments", {})
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return str(name), ("<unparsed>", args)
    return str(name), _canon(args)


def tool_calls_agree(a: Sequence[Any], b: Sequence[Any]) -> bool:
    """The same tools with equivalent arguments (order of the calls and of keys does not matter)."""
    pa = sorted((json.dumps(p, sort_keys=True) for p in map(_call_parts, a)))
    pb = sorted((json.dumps(p, sort_keys=True) for p in map(_call_parts, b)))
    return bool(pa) and pa == pb


def answers_agree(kind: str, a: str | None, b: str | None) -> bool | None:
    """Whether two normalised answers (from `extract_answer`) agree; None when the strong one is missing."""
    if b is None:
        return None
    if a is None:
        return False
    if kind == "number":
        try:
            x, y = float(a), float(b)
        except ValueError:
            return a == b
        return math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9)
    if kind == "short":
        if a == b:
            return True
        # "canberra" agrees with "capital of australia is canberra": the shorter, as whole words, in the longer
        short, long_ = sorted((a, b), key=len)
        return bool(short) and re.search(rf"(?:^|\s){re.escape(short)}(?:\s|$)", long_) is not None
    return a == b


def agreement(
    kind: str,
    prompt: str,
    draft: str,
    strong: str,
    draft_tool_calls: Sequence[Any] | None = None,
    strong_tool_calls: Sequence[Any] | None = None,
) -> float | None:
    """1.0 if the draft agrees with the stronger answer, 0.0 if not, None if it cannot be told without a model."""
    if kind == "tool_call" or draft_tool_calls or strong_tool_calls:
        if strong_tool_calls:
            return 1.0 if tool_calls_agree(draft_tool_calls or [], strong_tool_calls) else 0.0
        if draft_tool_calls:
            return 0.0  # the stronger model answered in text where the draft called a tool
        kind = answer_kind(prompt)  # tools were offered but neither called one: compare the text
    if kind not in COMPARABLE_KINDS:
        return None
    ok = answers_agree(kind, extract_answer(kind, draft, prompt), extract_answer(kind, strong, prompt))
    return None if ok is None else float(ok)
