"""Final answers read the way a person reads them: found by their marker, read by kind, compared.

`extract_answer` / `Answer.compare` / `agreement` are used by `AgreementCheck` (samples against the
draft) and the learning package's free labels (the draft against a stronger answer).
"""

from .core import (
    ANSWER_KINDS,
    COMPARABLE_KINDS,
    SHORT_WORDS,
    Answer,
    agreement,
    answer_kind,
    answer_text,
    canonical,
    compare_texts,
    extract_answer,
    normalise_number,
    number_of,
    read,
    read_span,
    tool_answer,
    tool_calls_agree,
)
from .mathexpr import load_math_verify_async
from .span import Span, find_span
from .text import normalise_text

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
    "load_math_verify_async",
    "normalise_number",
    "normalise_text",
    "number_of",
    "read",
    "read_span",
    "tool_answer",
    "tool_calls_agree",
]
