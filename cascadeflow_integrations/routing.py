"""Pre-routing: classify the last user turn's complexity and pick cascade or direct.

Only the last user turn is classified: system prompts and history describe the conversation, not
the difficulty of this request. Features come from a bounded window plus cheap counts, so a long
prompt costs microseconds, not the reference's 240 ms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import ConfigError
from .types import COMPLEXITIES, Message

Strategy = Literal["cascade", "direct"]

#: Features are read from at most this many characters at each end of the turn (instructions and
#: the question sit at the ends; the middle of a long prompt is usually pasted context).
WINDOW = 700

_GREETING_RE = re.compile(
    r"^\s*(?:hi|hello|hey|thanks|thank you|good (?:morning|evening)|ok(?:ay)?|yes|no)\b[\s!.?]*$", re.I
)
# Bytes table: everything but letters, hyphen and apostrophe becomes a space, so `bytes.split`
# (C speed) yields the words; str.translate with a dict is ~10x slower.
_WORD_BYTES = bytes(c if (97 <= c <= 122 or c in b"-'") else 32 for c in range(256))
_ARITH_RE = re.compile(r"\d\s*[-+*/^×÷=]\s*\d")
_PART_RE = re.compile(r"(?m)^[ \t]*(?:\d+[.)]|[-*•])[ \t]+\S")

# Keyword lookups by set membership: one pass over the words, no per-position regex alternation.
_KEYWORDS: dict[str, str] = {}
for _cat, _words in {
    "math": "solve equation equations integral derivative probability calculate compute percent percentage average "
    "sum product",
    "code": "def class function import return select async await implement refactor debug compile regex algorithm "
    "exception python javascript typescript rust golang sql api bug code script",
    "reasoning": "why explain compare analyze analyse evaluate justify tradeoff tradeoffs trade-off trade-offs design",
    "expert": "prove proof theorem lemma derive formal formally rigorous asymptotic np-hard byzantine quantum eigenvalue "
    "eigenvalues eigenvector manifold topology topological cryptography cryptographic compiler kernel concurrency "
    "lock-free linearizable linearizability diagnose diagnosis diagnostic pharmacology statute jurisdiction",
}.items():
    for _w in _words.split():
        _KEYWORDS[_w] = _cat
_KEYWORD_BYTES = {k.encode(): v for k, v in _KEYWORDS.items()}
_PHRASES: dict[str, str] = {
    "how many": "math",
    "how much": "math",
    "sum of": "math",
    "stack trace": "code",
    "pros and": "reasoning",
    "distributed system": "expert",
    "distributed consensus": "expert",
    "consensus protocol": "expert",
    "complexity class": "expert",
    "differential equation": "expert",
    "legal advice": "expert",
}


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    strategy: Strategy
    complexity: str
    reason: str
    features: dict[str, Any] = field(default_factory=dict, compare=False)


def last_user_text(messages: Iterable[Message]) -> str:
    text = ""
    for m in messages:
        if m.role == "user":
            text = m.text
    return text


def classify(text: str) -> tuple[str, dict[str, Any]]:
    """(complexity, features) for one user turn."""
    words = text.count(" ") + 1 if text.strip() else 0  # one C-speed count over the whole turn
    window = text if len(text) <= 2 * WINDOW else text[:WINDOW] + "\n" + text[-WINDOW:]
    if words <= 6 and _GREETING_RE.match(window):
        return "trivial", {"words": words, "greeting": True}
    low = window.lower()
    counts = {"math": len(_ARITH_RE.findall(window)), "code": window.count("```"), "reasoning": 0, "expert": 0}
    for w in set(low.encode("ascii", "ignore").translate(_WORD_BYTES).split()).intersection(_KEYWORD_BYTES):
        counts[_KEYWORD_BYTES[w]] += 1  # distinct keywords: repeats of one word are not more signal
    for phrase, cat in _PHRASES.items():
        if phrase in low:
            counts[cat] += 1
    parts = window.count("?") + len(_PART_RE.findall(window))
    math, code, reasoning, expert = counts["math"], counts["code"], counts["reasoning"], counts["expert"]
    # Length alone tops out at 3: long pasted context does not make a request expert-level.
    points = 0 if words < 8 else 1 if words < 30 else 2 if words < 120 else 3
    points += min(math, 2) + min(code, 2) + min(reasoning, 2) + 2 * min(expert, 3) + (1 if parts >= 3 else 0)
    level = (
        "trivial"
        if points == 0
        else "simple"
        if points <= 2
        else "moderate"
        if points <= 4
        else "hard"
        if points <= 6
        else "expert"
    )
    feats = {
        "words": words,
        "math": math,
        "code": code,
        "reasoning": reasoning,
        "expert_terms": expert,
        "parts": parts,
        "points": points,
    }
    return level, feats


class Router:
    """Cascade by default; send the complexities in `direct_complexities` straight to the strong model."""

    def __init__(self, direct_complexities: Iterable[str] = ("expert",)) -> None:
        direct = set(direct_complexities)
        if bad := direct - set(COMPLEXITIES):
            raise ConfigError(f"unknown complexity {sorted(bad)} in direct_complexities: use {', '.join(COMPLEXITIES)}")
        self.direct_complexities = frozenset(direct)

    def route(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        complexity_hint: str | None = None,
        force_direct: bool = False,
    ) -> RoutingDecision:
        """Classify the last user turn and pick a strategy. `tools` do not change the strategy."""
        if complexity_hint is not None and complexity_hint not in COMPLEXITIES:
            raise ConfigError(f"invalid complexity_hint {complexity_hint!r}: use one of {', '.join(COMPLEXITIES)}")
        feats: dict[str, Any]
        if complexity_hint is not None:
            complexity, feats, why = complexity_hint, {}, f"complexity_hint={complexity_hint}"
        else:
            complexity, feats = classify(last_user_text(messages))
            why = f"classified {complexity} ({', '.join(f'{k}={v}' for k, v in feats.items())})"
        if force_direct:
            return RoutingDecision("direct", complexity, "force_direct", feats)
        strategy: Strategy = "direct" if complexity in self.direct_complexities else "cascade"
        return RoutingDecision(strategy, complexity, f"{why} -> {strategy}", feats)
