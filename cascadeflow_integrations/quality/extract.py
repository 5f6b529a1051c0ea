"""Final answers: extraction and equivalence. Moved to `quality.answers`; these names stay here too."""

from __future__ import annotations

from .answers import (
    ANSWER_KINDS,
    COMPARABLE_KINDS,
    SHORT_WORDS,
    Answer,
    Span,
    agreement,
    answer_kind,
    answer_text,
    canonical,
    compare_texts,
    extract_answer,
    find_span,
    normalise_number,
    normalise_text,
    number_of,
    tool_answer,
    tool_calls_agree,
)

__all__ = [
    "ANSWER_KINDS",
    "COMPARABLE_KINDS",
    "SHORT_WORDS",
    "Answer",
    "Span",
    "agreement",
    "answer_kind",
    "answer_text",
    "canonical",
    "compare_texts",
    "extract_answer",
    "find_span",
    "normalise_number",
    "normalise_text",
    "number_of",
    "tool_answer",
    "tool_calls_agree",
]
