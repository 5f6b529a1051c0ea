"""Final answers: the kind a prompt asks for, the answer found and read, and whether two answers agree.

`answer_kind(prompt)` names what a prompt asks for; `extract_answer(text, prompt)` finds the final
answer's span (`span.find_span`) and reads it by what it holds (`Answer`: kind, normalised value,
how it was found); `Answer.compare` says True, False, or None ("unknown": different kinds, or a value
that cannot be told equal without a model); `agreement` labels a draft against a stronger answer.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..answer import (
    _ASKS_CODE_RE,
    _ASKS_JSON_RE,
    _ASKS_LIST_RE,
    _ASKS_NUMBER_RE,
    _ASKS_ONE_WORD_RE,
    _ASKS_YESNO_RE,
    json_candidates,
    number_value,
    numbers_in,
)
from . import mathexpr
from .numbers import MEASURES, Quantity, close, fmt, last_number, parse_number, read_number, same_quantity, strip_calc
from .span import CONFIDENCE, Span, clean, find_span
from .text import (
    choice_in_text,
    first_yes_no,
    normalise_text,
    options_in,
    read_choice,
    read_yes_no,
    split_items,
)
from .when import asks_date, asks_time, day_first, read_date, read_time, same_date, same_time

ANSWER_KINDS = ("number", "choice", "yes_no", "short", "code", "json", "list", "free_text", "tool_call",
                "date", "time", "set", "math")
#: Kinds whose answers can be compared without a model.
COMPARABLE_KINDS = frozenset({"number", "choice", "yes_no", "short", "json", "tool_call", "date", "time", "set",
                              "math"})
#: Read from any text whose kind was not given, a short answer has at most this many words.
SHORT_WORDS = 6
#: Kinds that compare with each other: a number and an expression with a value.
_NUMERIC = frozenset({"number", "math"})

_YESNO_Q_RE = re.compile(
    r"^\s*(?:is|are|was|were|do|does|did|can|could|will|would|should|has|have|had)\b[^?]{0,300}\?\s*$", re.I
)
_TRUE_FALSE_RE = re.compile(r"\btrue\s+or\s+false\b", re.I)
_TRUE_FALSE_LOW_RE = re.compile(r"\btrue\s+or\s+false\b")
_SHORT_Q_RE = re.compile(r"^\s*(?:who|where|when|(?:what|which)\s+(?:is|was|year|city|country)|which\s+\w+\s+(?:is|was|has|had)"
                         r"|name)\b[^?]*\??\s*$", re.I)
_SHORT_Q_MAX_WORDS = 15
_LAST_Q_RE = re.compile(r"(?:^|[.!?]\s)[^.!?]*\b(?:what|how|which)\b[^.!?]*\?\s*$", re.I | re.S)
# The same patterns, case-sensitive on the lowered prompt: several times faster than re.I on long prompts.
_ASKS_NUMBER_LOW_RE = re.compile(_ASKS_NUMBER_RE.pattern)
_ASKS_JSON_LOW_RE = re.compile(_ASKS_JSON_RE.pattern.replace("JSON", "json"))
_ASKS_CODE_LOW_RE = re.compile(_ASKS_CODE_RE.pattern)
_ASKS_LIST_LOW_RE = re.compile(_ASKS_LIST_RE.pattern)
_ASKS_ONE_WORD_LOW_RE = re.compile(_ASKS_ONE_WORD_RE.pattern)
_ASKS_YESNO_LOW_RE = re.compile(_ASKS_YESNO_RE.pattern)
_BOUNDARY_RE = re.compile(r"[.!?]\s")
_QWORD_RE = re.compile(r"\b(?:what|how|which)\b")
_NUMBER_START_RE = re.compile(r"(?<![\w.,])-?\$?\s?\d")


def _closing_question(tail: str) -> bool:
    """A word problem's closing what/how/which question (what `_LAST_Q_RE` matches, without backtracking)."""
    t = tail.rstrip()
    if not t.endswith("?"):
        return False
    last = _BOUNDARY_RE.split(t[:-1])[-1]
    return not any(c in last for c in ".!?") and _QWORD_RE.search(last.lower()) is not None


def _two_numbers(text: str) -> bool:
    it = _NUMBER_START_RE.finditer(text)
    return next(it, None) is not None and next(it, None) is not None
_ASKS_SET_RE = re.compile(
    r"\b(?:list|name|give|find|identify|select|choose|enumerate)\s+(?:me\s+)?(?:all|every)\b|\ball\s+(?:that|which)\s+apply\b|"
    r"\bwhat\s+are\s+(?:all\s+)?the\s+(?:\w+\s+){0,3}(?:solutions|roots|factors|divisors|members|elements)\b|"
    r"\bwhich\s+(?:\w+\s+){0,3}are\s+(?:all\s+)?(?:prime|even|odd|correct|true)\b")  # on the lowered prompt
_ASKS_MATH_RE = re.compile(r"\\(?:frac|sqrt|int|sum)|\$[^$\n]{0,40}[\\^_{][^$\n]{0,40}\$|\bsimplify\b|\bsolve\s+for\b|\bin\s+simplest\s+"
                           r"(?:radical\s+)?form\b|\bexpress\s+your\s+answer\b")  # on the lowered prompt
_PREFIX_RE = re.compile(
    r"^\s*(?:the\s+)?(?:final\s+)?(?:short\s+)?answer\s*(?:is|:)\s*|^\s*\**answer\**\s*:\s*", re.I)
_DATE_SHAPE_RE = re.compile(r"(?<![\d/])\d{1,2}[/.-]\d{1,2}[/.-]\d{4}(?!\d)|(?<!\d)\d{4}-\d{1,2}-\d{1,2}(?!\d)")
_BULLET_RE = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+(.+)$", re.M)
_FIRST_SENTENCE_RE = re.compile(r"^(.{1,200}?)(?:[.!?](?:\s|$)|\n|$)", re.S)
_NUMERIC_STR_RE = re.compile(r"\s*[-$]?[\d,.]+%?\s*")
_TEXT_FRAC_RE = re.compile(r"\\d?frac\{(-?\d+)\}\{(-?\d+)\}")
_FRACTION_RE = re.compile(r"(?<![\d.])(-?\d+)\s*/\s*(\d+)(?!\.?\d)")


@dataclass(frozen=True, slots=True)
class Answer:
    """A normalised final answer.

    `kind` is one of `COMPARABLE_KINDS`; `value` a float for numbers (in the base of its unit), an option
    letter, "yes"/"no", an ISO date ('2021-05-01'), a 24-hour time ('15:45'; '3:45?' when written without
    am/pm), normalised text, a sorted tuple for sets, folded LaTeX for math, canonical JSON text, or sorted
    canonical calls. `unit` is a number's unit as written, by its canonical name ('$', 'km', '%', '' for none); `num` a math
    expression's value when it has one; `marker` how the answer was found and `confidence` how sure that
    reading is (`span.CONFIDENCE`: lower for the last line, lowest for the last number of the whole text).
    """

    kind: str
    value: Any
    unit: str = field(default="", compare=False)
    num: float | None = field(default=None, compare=False)
    marker: str = field(default="", compare=False)
    confidence: float = field(default=1.0, compare=False)

    def compare(self, other: Answer | None) -> bool | None:
        """True when both give the same answer, False when they differ, None when it cannot be told
        (different kinds, or expressions no reading can decide). No answer at all differs."""
        if other is None:
            return False
        a, b = self, other
        if a.kind != b.kind:
            if a.kind in _NUMERIC and b.kind in _NUMERIC:
                m, n = (a, b) if a.kind == "math" else (b, a)
                if m.num is None or n.unit not in ("", "%"):
                    return None
                return close(m.num, n.value)
            return None
        if a.kind == "number":
            return same_quantity(Quantity(a.value, a.unit), Quantity(b.value, b.unit))
        if a.kind == "math":
            return mathexpr.same_math(a.value, b.value, a.num, b.num)
        if a.kind == "date":
            return same_date(a.value, b.value)
        if a.kind == "time":
            return same_time(a.value, b.value)
        if a.kind == "short" and a.value != b.value:
            # "canberra" agrees with "capital of australia is canberra": the shorter, as whole words, in the longer
            short, long_ = sorted((a.value, b.value), key=len)
            return bool(short) and re.search(rf"(?:^|\s){re.escape(short)}(?:\s|$)", long_) is not None
        return bool(a.value == b.value)

    def agrees(self, other: Answer | None) -> bool:
        """True only when `compare` is sure they are the same."""
        return self.compare(other) is True

    @property
    def text(self) -> str:
        """The value as text: what the decision log stores."""
        if self.kind == "number":
            # currencies and percentages stay bare ('$18' -> '18'); measures name their base unit
            return fmt(self.value) + (f" {self.unit}" if self.unit in MEASURES else "")
        if self.kind == "tool_call":
            return json.dumps(list(self.value))
        if self.kind == "set":
            return ", ".join(self.value)
        return str(self.value)


# ---- what the prompt asks for ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Context:
    options: Mapping[str, str]
    dayfirst: bool | None
    asked: str
    asks_set: bool


@functools.lru_cache(maxsize=512)
def _context(prompt: str) -> _Context:
    kind = _kind_of(prompt)
    low = prompt.lower()
    order = day_first(prompt) if ("dd" in low or "day/" in low or "day-" in low or "day " in low) else None
    return _Context(options_in(prompt) if kind == "choice" else {}, order, kind, kind == "set")


def answer_kind(prompt: str, tools: Sequence[Any] | None = None) -> str:
    """The kind of answer the prompt asks for: one of `ANSWER_KINDS`.

    Decided from the last ~2,000 characters (where instructions sit), most specific kind first.
    """
    if tools:
        return "tool_call"
    return _context(prompt).asked


def _kind_of(prompt: str) -> str:
    head = prompt[-2000:]
    low = head.lower()

    def has(*words: str) -> bool:  # a substring test first: the patterns are costly on long prompts
        return any(w in low for w in words)

    if "json" in low and _ASKS_JSON_LOW_RE.search(low):
        return "json"
    if has("function", "script", "program", "class", "code", "snippet") and _ASKS_CODE_LOW_RE.search(low):
        return "code"
    if len(options_in(prompt)) >= 2:
        return "choice"
    if has("date", "mm/dd", "dd/mm", "mm-dd", "dd-mm", "what day") and asks_date(low):
        return "date"
    if has("what time", "hh:mm", "when will") and asks_time(low):
        return "time"
    if has("yes", "true") and (_ASKS_YESNO_LOW_RE.search(low) or _TRUE_FALSE_LOW_RE.search(low)) or _YESNO_Q_RE.match(head):
        return "yes_no"
    if (has(" all", " every") or "what are" in low or ("which" in low and " are " in low)) and _ASKS_SET_RE.search(low):
        return "set"
    if has("list", "give", "name", "suggest", "provide", "write") and _ASKS_LIST_LOW_RE.search(low):
        return "list"
    if has("\\", "^", "{", "simplif", "solve for", "simplest", "express your") and _ASKS_MATH_RE.search(low):
        return "math"
    if _ASKS_NUMBER_LOW_RE.search(low):
        return "number"
    if _closing_question(head[-400:]) and _two_numbers(head):
        return "number"
    if "word" in low and _ASKS_ONE_WORD_LOW_RE.search(low):
        return "short"
    if len(head.split()) <= _SHORT_Q_MAX_WORDS and _SHORT_Q_RE.match(head):
        return "short"
    return "free_text"


# ---- numbers and text kept from the first version (public names) --------------------------------


def number_of(s: str) -> float | None:
    """'$1,234.50' -> 1234.5, '18 km' -> 18, '50%' -> 50, '3/4' and '\\frac{3}{4}' -> 0.75."""
    s = s.strip()
    m = _TEXT_FRAC_RE.search(s) or _FRACTION_RE.fullmatch(s)
    if m:
        den = float(m.group(2))
        return float(m.group(1)) / den if den else None
    p = parse_number(s)
    if p is not None:
        return p[0]
    nums = numbers_in(s)
    return number_value(nums[0]) if nums else None


def normalise_number(s: str) -> str | None:
    """The number in `s` as canonical text: '$1,234.50' -> '1234.5', '18 km' -> '18', '3/4' -> '0.75'."""
    v = number_of(s)
    return None if v is None else fmt(v)


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
        return fmt(float(v)) if math.isfinite(v) else str(v)
    if isinstance(v, str):
        n = normalise_number(v) if _NUMERIC_STR_RE.fullmatch(v) else None
        return n if n is not None else re.sub(r"\s+", " ", v.strip().casefold())
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


# ---- reading a span by what it holds -----------------------------------------------------------


def _number_answer(q: Quantity, marker: str) -> Answer:
    return Answer("number", q.value, unit=q.unit, marker=marker, confidence=_conf(marker))


def _conf(marker: str) -> float:
    return CONFIDENCE.get(marker, 1.0)


def _mk(kind: str, value: Any, marker: str, **kw: Any) -> Answer:
    return Answer(kind, value, marker=marker, confidence=_conf(marker), **kw)


def _after_equals(s: str) -> str:
    # '2 + 3 = 5' is 5; 'x = -3/4' is -3/4 (an equation answer is its right-hand side)
    if "=" in s and not s.rstrip().endswith("="):
        return s.rsplit("=", 1)[1].strip()
    return s


def read_span(s: str, prompt: str = "", kind: str | None = None, marker: str = "answer is") -> Answer | None:
    """The span `s` (a final answer already found) read as the kind it holds, `kind` (what the prompt asks
    for) tried first; None when it cannot be read."""
    ctx = _context(prompt) if prompt else _EMPTY
    s = strip_calc(s).strip()
    if not s:
        return None
    if ctx.options or kind == "choice":
        if (c := read_choice(s, ctx.options)) is not None:
            return _mk("choice", c, marker)
        if kind == "choice":
            return None
    if kind == "json":
        return _json(s)
    if kind in ("yes_no", None, "short") and (yn := read_yes_no(s)) is not None and (kind == "yes_no" or len(s.split()) <= SHORT_WORDS):
        return _mk("yes_no", yn, marker)
    if kind == "set" or (ctx.asks_set and kind is None):
        if (marker != "last line" or "," in s or ";" in s) and (items := split_items(s)):
            return _set(items, marker)
    if (d := read_date(s, ctx.dayfirst)) is not None:
        return _mk("date", d, marker)
    if _DATE_SHAPE_RE.search(s):
        return None  # '02/29/2017' is no date and no fraction: unreadable
    if (t := read_time(s)) is not None:
        return _mk("time", t, marker)
    rhs = _after_equals(s)
    if (q := read_number(rhs, words_ok=kind in _NUMERIC)) is not None:
        return _number_answer(q, marker)
    if mathexpr.looks_like_math(rhs) and (marker != "last line" or len(rhs) <= 40):
        folded = mathexpr.fold(rhs)
        return _mk("math", folded, marker, num=mathexpr.numeric(folded))
    if kind in (None, "short") and (yn := read_yes_no(s)) is not None:  # 'Yes, Paris is the capital of France'
        return _mk("yes_no", yn, marker)
    if kind in ("number", "math", "date", "time", "yes_no"):
        return None
    norm = normalise_text(_PREFIX_RE.sub("", s))
    if not norm or (kind is None and len(norm.split()) > SHORT_WORDS):
        return None
    return _mk("short", norm, marker)


def _set(items: list[str], marker: str) -> Answer:
    vals = []
    for it in items:
        q = read_number(it)
        vals.append(fmt(q.value) if q is not None else normalise_text(it))
    return _mk("set", tuple(sorted({v for v in vals if v})), marker)


_EMPTY = _Context({}, None, "free_text", False)
_ANY_DATE_KINDS = frozenset({"date", "time"})
#: asked kinds whose answers are one of a closed set: a stronger answer of another kind labels nothing
_CLOSED = frozenset({"yes_no", "choice", "json"})


def _json(text: str) -> Answer | None:
    for c in (text, *json_candidates(text)):  # the whole text first: '[1, {"a": 2}]' is the list
        try:
            value = json.loads(c)
        except ValueError:
            continue
        return Answer("json", json.dumps(canonical(value), sort_keys=True, separators=(",", ":")))
    return None


def read(text: str, prompt: str = "", kind: str | None = None) -> tuple[Answer | None, Span | None]:
    """The final answer of `text` and the span it was read from (None, span when a span was found but
    could not be read; None, None when there is no answer to read)."""
    text = text.strip()
    if not text:
        return None, None
    if kind == "json":
        return _json(text), None
    ctx = _context(prompt) if prompt else _EMPTY
    span = find_span(text)
    if span is None:
        return None, None
    # a short answer without a marker is the first sentence ('Canberra. It has been the capital since 1913.')
    # a short answer or a set on an unmarked last line is read below (first sentence, bullets)
    a = read_span(span.text, prompt, kind, span.marker) if kind not in ("short", "set") or span.marker != "last line" \
        else None
    if a is not None or span.explicit and kind not in ("choice", "yes_no"):
        return a, span
    # No marked answer could be read: the last line, then (by kind) the whole text, each less sure.
    if kind == "choice" or (ctx.options and kind is None):
        line = clean(span.text) if span.marker != "last line" else clean(text.splitlines()[-1])
        if (c := read_choice(line, ctx.options)) is not None:
            return _mk("choice", c, "last line"), span
        if (c := choice_in_text(text, ctx.options)) is not None:
            return _mk("choice", c, "last number"), span
        return None, span
    if kind == "yes_no":
        for cand, marker in ((span.text, span.marker), (text, "last line")):
            if (yn := read_yes_no(_PREFIX_RE.sub("", cand))) is not None:
                return _mk("yes_no", yn, marker), span
        yn = first_yes_no(text)
        return (_mk("yes_no", yn, "last number") if yn else None), span
    if kind in ("number", "math"):
        line = span.text
        for marker, sub in (("last line", last_number(line)), ("last number", last_number(strip_calc(text[-2000:])))):
            if sub is not None and (q := read_number(sub, whole=False)) is not None:
                return _number_answer(q, marker), span
        return None, span
    if kind in _ANY_DATE_KINDS:
        tail = text[-2000:]
        for marker, src in (("last line", span.text), ("last number", tail)):
            v = read_date(src, ctx.dayfirst, whole=False) if kind == "date" else read_time(src, whole=False)
            if v is not None:
                return _mk(kind, v, marker), span
        return None, span
    if kind == "short":
        # one paragraph: its first sentence ('Canberra. It has been the capital since 1913.'); else the last line
        lines = text.splitlines()
        src = lines[-1] if len(lines) > 1 else text
        m = _FIRST_SENTENCE_RE.match(src.strip())
        return read_span(clean(m.group(1) if m else src[:200]), prompt, "short", "last line"), span
    if kind == "set":
        block = text.rsplit("\n\n", 1)[-1]
        bullets = _BULLET_RE.findall(block)
        items = bullets if len(bullets) >= 2 else split_items(text.splitlines()[-1])
        return (_set(items, "last line") if items else None), span
    return None, span


def extract_answer(text: str, question: str = "", tool_calls: Sequence[Any] = (),
                   kind: str | None = None) -> Answer | None:
    """The final answer of `text` to `question`, or None where there is nothing to compare.

    With `kind` (one of `ANSWER_KINDS`) that kind is read first, e.g. samples the way the draft was read;
    the span is still read by what it holds (a date stays a date). Without, the kind the question asks
    for is tried first, then whatever the marked answer holds.
    """
    if kind is not None and kind not in ANSWER_KINDS:
        raise ValueError(f"unknown answer kind {kind!r}: use one of {', '.join(ANSWER_KINDS)}")
    if kind == "tool_call" or (kind is None and tool_calls):
        return tool_answer(tool_calls) if tool_calls else None
    if kind is not None and kind not in COMPARABLE_KINDS:
        return None
    if kind is None:
        asked = answer_kind(question) if question else "free_text"
        if asked in COMPARABLE_KINDS and asked != "short":
            return read(text, question, asked)[0]
        a, span = read(text, question, None)
        if a is None and asked == "short":
            return read(text, question, "short")[0]
        if a is not None and span is not None and span.marker == "last line" and len(text.strip().splitlines()) > 2:
            return None  # the last line of free text is no answer
        return a
    return read(text, question, kind)[0]


def read_pair(a: str, b: str, prompt: str = "", kind: str | None = None
              ) -> tuple[tuple[Answer | None, Span | None], tuple[Answer | None, Span | None]]:
    """Two answers to one prompt, each read the way the other was when their kinds differ: '#### 2:00 pm'
    makes '... so she starts at 2:00 pm.' a time too, though the prompt asked 'how long'."""
    ra, rb = read(a, prompt, kind), read(b, prompt, kind)
    x, y = ra[0], rb[0]
    if x is not None and y is not None and x.kind == y.kind:
        return ra, rb
    if x is not None and (y is None or x.confidence >= y.confidence) and x.kind != kind:
        again = read(b, prompt, x.kind)
        if again[0] is not None and again[0].kind == x.kind:
            rb = again
    elif y is not None and y.kind != kind:
        again = read(a, prompt, y.kind)
        if again[0] is not None and again[0].kind == y.kind:
            ra = again
    return ra, rb


def compare_texts(a: str, b: str, prompt: str = "", kind: str | None = None) -> bool | None:
    """Whether two answer texts to `prompt` give the same final answer: True, False, or None (unknown:
    different kinds, no answer in either, or one has a marked answer that cannot be read). Symmetric."""
    (ra, sa), (rb, sb) = read_pair(a, b, prompt, kind or _asked(prompt))
    if ra is None or rb is None:
        if ra is None and rb is None:
            return None
        missing = sa if ra is None else sb
        return None if missing is not None and missing.explicit else False
    return ra.compare(rb)


def _asked(prompt: str) -> str | None:
    k = answer_kind(prompt) if prompt else None
    return k if k in COMPARABLE_KINDS and k != "short" else None


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
    """1.0 if the draft agrees with the stronger answer, 0.0 if not, None when it cannot be told without a
    model: code, lists, free text, no answer in the stronger text, answers of different kinds, or a
    marked draft answer that cannot be read."""
    if kind == "tool_call" or draft_tool_calls or strong_tool_calls:
        if strong_tool_calls:
            return 1.0 if tool_calls_agree(draft_tool_calls or [], strong_tool_calls) else 0.0
        if draft_tool_calls:
            return 0.0  # the stronger model answered in text where the draft called a tool
        kind = answer_kind(prompt)  # tools were offered but neither called one: compare the text
    if kind not in COMPARABLE_KINDS:
        return None
    (a, span), (b, _) = read_pair(draft, strong, prompt, kind)
    if b is None or (kind in _CLOSED and b.kind != kind):
        return None  # 'The answer is 42.' to a yes/no question gives no label
    if a is None and span is not None and span.explicit:
        return None
    c = b.compare(a)
    return None if c is None else (1.0 if c else 0.0)
