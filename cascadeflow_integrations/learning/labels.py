"""Free labels: the kind of answer a prompt asks for, its normalised final answer, and whether a draft
agrees with a stronger model's answer. One implementation, in `quality.extract` (shared with
`AgreementCheck`); these are its names as the learning package uses them."""

from __future__ import annotations

from ..quality.extract import (
    ANSWER_KINDS,
    COMPARABLE_KINDS,
    agreement,
    answer_kind,
    normalise_number,
    normalise_text,
    tool_calls_agree,
)
from ..quality.extract import answer_text as extract_answer

__all__ = [
    "ANSWER_KINDS",
    "COMPARABLE_KINDS",
    "agreement",
    "answer_kind",
    "extract_answer",
    "normalise_number",
    "normalise_text",
    "tool_calls_agree",
]
