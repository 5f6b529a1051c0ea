"""Where the final answer is: the span a person would read as the answer, found by its marker.

Markers, most explicit first: `\\boxed{}`, `####`, "final answer", "the answer is", a line starting
`A:` / `Answer:`, a bold phrase in the last lines, else the last line. Each is taken at its last
occurrence (a draft that corrects itself ends with its answer). The span is cut at the end of its
sentence or at a clause that explains it ("(9 eggs)", "because ...").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: how sure the reading is that the span is the answer, by marker
CONFIDENCE = {"boxed": 1.0, "####": 1.0, "final answer": 0.95, "answer is": 0.9, "answer:": 0.9, "bold": 0.8,
              "last line": 0.6, "last number": 0.3}
EXPLICIT = frozenset({"boxed", "####", "final answer", "answer is", "answer:"})
#: only the end of a long text is searched: answers sit there, and it bounds the work
TAIL = 4000

_HASH_RE = re.compile(r"####\s*([^\n]*)")
# Markers match only the marker: the answer runs from its end to the end of the line.
_FINAL_RE = re.compile(r"\bfinal\s+answer\b\s*(?:is\b|=)?\s*[:\-]?\s*(?:\*\*)?\s*:?[ \t]*", re.I)
_IS_RE = re.compile(
    r"\banswer\s*(?:\*\*)?\s*(?:is|would\s+be|will\s+be|should\s+be|must\s+be|=)(?:\b|(?<==))\s*:?[ \t]*", re.I)
_LINE_RE = re.compile(r"^[ \t>#*_-]*(?:A|Ans|Answer|Short\s+answer)\s*(?:\*\*)?\s*[:\uff1a]\s*(?:\*\*)?\s*([^\n]*)",
                      re.I | re.M)
_BOLD_RE = re.compile(r"\*\*([^*\n]{1,80})\*\*|__([^_\n]{1,80})__")
# The end of the answer's sentence: '.', '!' or '?' then a space (not inside 'p.m.', 'e.g.' or '3.5').
_END_RE = re.compile(r"(?<!\b[ap]\.m)(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)[.!?](?=\s|$)|\s+\((?!\d+\)|[a-e]\))|\s+[-\u2013\u2014]\s"
                     r"|;\s|\s+(?:because|since|as|which|so|given|due\s+to|per|for\s+(?:the|a|each))\b|,\s+(?:so|which|as|because|since|and\s+(?:so|this|that))\b",
                     re.I)
_WRAP_RE = re.compile(r"^[\s*_`\"'\u201c\u2018:]+|[\s*_`\"'\u201d\u2019:.,!]+$")
_TEX_WRAP_RE = re.compile(r"^\$\$?(?=.*\$$)|(?<=.)\$\$?$|^\\\(|\\\)$|^\\\[|\\\]$|\\text\{([^{}]*)\}|\\mathrm\{([^{}]*)\}|\\[,;!]",
                          re.S)


@dataclass(frozen=True, slots=True)
class Span:
    """The text read as the answer, and how it was found (`marker`, one of `CONFIDENCE`'s keys)."""

    text: str
    marker: str

    @property
    def confidence(self) -> float:
        return CONFIDENCE[self.marker]

    @property
    def explicit(self) -> bool:
        return self.marker in EXPLICIT


def boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` (braces balanced), or None."""
    i = text.rfind("\\boxed")
    if i < 0:
        return None
    j = text.find("{", i)
    if j < 0 or j > i + 8:
        return None
    depth = 0
    for k in range(j, min(len(text), j + 500)):
        c = text[k]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[j + 1:k]
    return None


def clean(span: str, cut: bool = True) -> str:
    """The span without its wrappers (bold, quotes, `$...$`, `\\text{}`), cut at the end of its sentence."""
    s = span.strip().replace("\\$", "$").replace("\\%", "%")
    if cut and (m := _END_RE.search(s)) and m.start() > 0:
        s = s[:m.start()]
    s = _WRAP_RE.sub("", s)
    s = _TEX_WRAP_RE.sub(lambda m: m.group(1) or m.group(2) or "", s).strip()
    return _WRAP_RE.sub("", s)


def _last(rx: re.Pattern[str], text: str) -> re.Match[str] | None:
    found = None
    for found in rx.finditer(text):
        pass
    return found


def find_span(text: str) -> Span | None:
    """The final answer's span in `text`, or None for an empty text."""
    tail = text[-TAIL:]
    if (b := boxed(tail)) is not None and b.strip():
        return Span(clean(b, cut=False), "boxed")
    if (m := _last(_HASH_RE, tail)) and m.group(1).strip():
        return Span(clean(m.group(1)), "####")
    for rx, marker in ((_FINAL_RE, "final answer"), (_IS_RE, "answer is"), (_LINE_RE, "answer:")):
        m = _last(rx, tail)
        if m is None:
            continue
        end = tail.find("\n", m.end())
        s = (m.group(1) if m.groups() else tail[m.end():end if end >= 0 else None]).strip()
        if not s:  # 'Final answer:' with the answer on the next line
            nxt = tail[m.end():].strip().split("\n", 1)[0]
            s = nxt
        if s := clean(s):
            return Span(s, marker)
    lines = [ln for ln in tail.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    for ln in lines[-2:][::-1]:
        if (m := _last(_BOLD_RE, ln)) and (s := clean(m.group(1) or m.group(2))):
            return Span(s, "bold")
    return Span(clean(lines[-1], cut=False), "last line")
