"""Answers in words: normalised short text, option letters (or the option's text), yes/no, unordered sets."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

_ARTICLES_RE = re.compile(r"\b(?:a|an|the)\b")
_NON_WORD_RE = re.compile(r"[^\w\s.-]|(?<!\d)[.-]|[.-](?!\d)")
_SPACE_RE = re.compile(r"\s+")
# Options in a prompt: 'A) Mars', '(B) Jupiter', 'C. Venus', 'D: Earth', one per line or inline '(A) x (B) y'.
_OPTION_LINE_RE = re.compile(r"^\s*\(?([A-J])[).:\]]\s+(\S[^\n]*)$", re.M)
_OPTION_INLINE_RE = re.compile(r"\(([A-J])\)\s*([^()\n]+?)(?=\s*\([A-J]\)|\s*$|\n)")
_LETTER_SPAN_RE = re.compile(
    r"^(?:(?:the\s+)?(?:correct\s+|right\s+|best\s+)?(?:option|choice|answer|letter)\s*(?:is\s*)?:?\s*)?[(\[]?([A-J])(?:[)\].:]|\s|$)")
_OPTION_WORD_RE = re.compile(r"\b(?:option|choice)\s*[(\[]?([A-J])\b(?![a-z'])", re.I)
_ANSWER_LETTER_RE = re.compile(r"(?:answer|option|choice)\s*(?:is|:)?\s*(?:option\s*)?[\s(*]*([A-J])\b(?![a-z'])", re.I)
_LEADING_LETTER_RE = re.compile(r"^\W{0,4}([A-J])(?:[).:\]*]|\s|$)")
_ANY_LETTER_RE = re.compile(r"(?:^|[\s(*\[])([A-J])(?:[).:*\]]|\s|$)")
_YESNO_LEAD_RE = re.compile(r"^\W*(yes|no|true|false|correct|incorrect)\b(?!\s+(?:one|longer|more|less|matter|doubt)\b)", re.I)
_YESNO_WORD_RE = re.compile(r"\b(yes|no)\b", re.I)
_ITEM_SPLIT_RE = re.compile(r"\s*(?:,|;|\n|\band\b|&|\|)\s*(?:and\s+)?", re.I)
_BULLET_RE = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+(.+)$", re.M)


def normalise_text(text: str) -> str:
    """Case, accents, punctuation, articles and whitespace folded: '  The Café, Zürich!' -> 'cafe zurich'."""
    t = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    t = _NON_WORD_RE.sub(" ", t.lower())
    return _SPACE_RE.sub(" ", _ARTICLES_RE.sub(" ", t)).strip()


def options_in(prompt: str) -> dict[str, str]:
    """The options a prompt offers, letter -> normalised text ({} when it offers fewer than two)."""
    found = {m.group(1): m.group(2) for m in _OPTION_LINE_RE.finditer(prompt)}
    if len(found) < 2:
        found = {m.group(1): m.group(2) for m in _OPTION_INLINE_RE.finditer(prompt)}
    if len(found) < 2:
        return {}
    return {k: normalise_text(v) for k, v in found.items()}


def read_choice(span: str, options: Mapping[str, str], allowed: str = "ABCDEFGHIJ") -> str | None:
    """The option the span picks: a letter ('B', '(B)', 'B)', 'option B') or the text of one option."""
    letters = set(options) or set(allowed)
    s = span.strip().lstrip("*_ ")
    if len(bare := s.strip("()[]*. ")) == 1 and bare.upper() in letters:
        return bare.upper()  # 'd', '(b)'
    if (m := _LETTER_SPAN_RE.match(s)) and m.group(1) in letters:
        rest = normalise_text(s[m.end():])
        # 'B) Jupiter' is B; 'A cat' is the text 'a cat', not option A
        if not rest or rest == options.get(m.group(1)) or s[m.end() - 1:m.end()] in ")].:" or \
                m.group(0).strip()[:1] in "([" or len(m.group(0).strip()) > 2:
            return m.group(1)
    if (m := _OPTION_WORD_RE.search(s)) and m.group(1).upper() in letters:
        return m.group(1).upper()
    if options:
        norm = normalise_text(s)
        exact = [k for k, v in options.items() if v and v == norm]
        if len(exact) == 1:
            return exact[0]
        inside = [k for k, v in options.items() if v and re.search(rf"(?:^|\s){re.escape(v)}(?:\s|$)", norm)]
        if len(inside) == 1:
            return inside[0]
    return None


def choice_in_text(text: str, options: Mapping[str, str]) -> str | None:
    """A letter chosen anywhere in a text without a readable final answer (the last one marked)."""
    allowed = set(options) or set("ABCDEFGHIJ")
    head = text[:3000]
    marked = [x.upper() for x in _ANSWER_LETTER_RE.findall(head) if x.upper() in allowed]
    if marked:
        return marked[-1]
    leading = [x.upper() for x in _LEADING_LETTER_RE.findall(head) if x.upper() in allowed]
    if leading:
        return leading[0]
    letters = {x for x in _ANY_LETTER_RE.findall(head) if x in allowed}
    return letters.pop() if len(letters) == 1 else None


def read_yes_no(span: str) -> str | None:
    """'yes' or 'no' when the span starts with yes/no/true/false/correct/incorrect."""
    if m := _YESNO_LEAD_RE.match(span):
        return "yes" if m.group(1).lower() in ("yes", "true", "correct") else "no"
    return None


def first_yes_no(text: str) -> str | None:
    m = _YESNO_WORD_RE.search(text[:300])
    return m.group(1).lower() if m else None


def split_items(span: str) -> list[str]:
    """The items of a listed answer: 'a, b and c', bullets, one per line."""
    bullets = _BULLET_RE.findall(span)
    parts = bullets if len(bullets) >= 2 else _ITEM_SPLIT_RE.split(span)
    return [p.strip() for p in parts if p.strip(" .*")]
