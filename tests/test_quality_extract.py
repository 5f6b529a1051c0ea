"""Answer extraction and normalisation on hand-made cases (what AgreementCheck compares)."""

from __future__ import annotations

import pytest

from cascadeflow_integrations.quality.extract import Answer, extract_answer, normalise_text, tool_answer
from cascadeflow_integrations.tools.call import ToolCall

MC = "Which planet is largest?\nA) Mars\nB) Jupiter\nC) Venus\nD) Earth"


@pytest.mark.parametrize(("text", "question", "expected"), [
    ("16 - 3 - 4 = 9\n9 * 2 = 18\n#### 18", "How much does she make?", Answer("number", 18.0)),
    ("The answer is $1,234.50.", "What is the total cost?", Answer("number", 1234.5)),
    ("So she makes 9 * 2 = 18 dollars", "How much does she make?", Answer("number", 18.0)),
    ("\\boxed{42}", "Compute 6 * 7.", Answer("number", 42.0)),
    ("B) Jupiter is the largest.", MC, Answer("choice", "B")),
    ("Jupiter is by far the largest, so the answer is (B).", MC, Answer("choice", "B")),
    ("**B**", MC, Answer("choice", "B")),
    ("Yes, Paris is in France.", "Is Paris in France?", Answer("yesno", "yes")),
    ("No.", "Does water boil at 50 C at sea level?", Answer("yesno", "no")),
    ("Final answer: false", "True or false: the Moon is a planet.", Answer("yesno", "no")),
    ("Canberra.", "What is the capital of Australia?", Answer("short", "canberra")),
    ("The Beatles", "Which band recorded Abbey Road?", Answer("short", "beatles")),
])
def test_extracted(text: str, question: str, expected: Answer) -> None:
    assert extract_answer(text, question) == expected


def test_free_text_has_no_answer() -> None:
    essay = ("Autumn is a season of change. The leaves turn and fall, the air cools, and the days shorten "
             "as the year turns toward winter.")
    assert extract_answer(essay, "Write a paragraph about autumn.") is None


def test_agreement_rules() -> None:
    q = "How many apples are left?"
    assert extract_answer("#### 18", q).agrees(extract_answer("There are 18.0 apples left.", q))  # type: ignore[union-attr]
    assert not extract_answer("#### 18", q).agrees(extract_answer("#### 19", q))  # type: ignore[union-attr]
    assert extract_answer("Canberra", "Capital of Australia?").agrees(  # type: ignore[union-attr]
        extract_answer("canberra!", "Capital of Australia?"))
    assert not Answer("number", 18.0).agrees(Answer("short", "18"))
    assert normalise_text("  The Café, Zürich!  ") == "cafe zurich"


def test_tool_calls_with_equivalent_arguments_agree() -> None:
    a = tool_answer([ToolCall("1", "get_weather", {"city": "Paris", "days": 3})])
    b = tool_answer([ToolCall("2", "get_weather", '{"days": 3.0, "city": " paris"}')])
    c = tool_answer([ToolCall("3", "get_weather", {"city": "Rome", "days": 3})])
    d = tool_answer([ToolCall("4", "get_time", {"city": "Paris", "days": 3})])
    assert a.agrees(b) and not a.agrees(c) and not a.agrees(d)
    assert extract_answer("", "q", [ToolCall("1", "f", {})]) == tool_answer([ToolCall("9", "f", "{}")])
