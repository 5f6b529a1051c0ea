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
    ("Yes, Paris is in France.", "Is Paris in France?", Answer("yes_no", "yes")),
    ("No.", "Does water boil at 50 C at sea level?", Answer("yes_no", "no")),
    ("Final answer: false", "True or false: the Moon is a planet.", Answer("yes_no", "no")),
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


def test_merged_reading_serves_both_users() -> None:
    from cascadeflow_integrations.learning import labels
    from cascadeflow_integrations.quality import extract

    # one implementation: the learning names are the quality layer's
    assert labels.agreement is extract.agreement and labels.answer_kind is extract.answer_kind
    assert labels.extract_answer("number", "#### 18") == extract.extract_answer("#### 18", kind="number").text  # type: ignore[union-attr]
    # what the labels brought to AgreementCheck: fractions, containment, JSON, word problems
    q = "What share of the cake is left?"
    assert extract_answer("The answer is 3/4.", q) == Answer("number", 0.75)
    assert extract_answer("The answer is \\boxed{\\frac{3}{4}}", q) == Answer("number", 0.75)
    city = "What is the capital of Australia?"
    assert extract_answer("Canberra", city).agrees(  # type: ignore[union-attr]
        extract_answer("The capital of Australia is Canberra.", city, kind="short"))
    assert not Answer("short", "canberra").agrees(Answer("short", "canberras"))
    js = "Return the result as a JSON object."
    assert extract_answer('{"b": 2, "a": "X "}', js) == extract_answer('```json\n{"a": "x", "b": 2.0}\n```', js)
    word_problem = "Tom has 3 boxes of 12 pens. He gives away 5. Then what does he have?"
    assert extract_answer("He has 3 * 12 - 5 = 31 pens", word_problem) == Answer("number", 31.0)
    # what AgreementCheck brought to the labels: true/false, a marked yes/no over a stray early word
    assert labels.answer_kind("True or false: the Moon is a planet.") == "yes_no"
    assert labels.agreement("yes_no", "Is it? yes or no", "No idea at first. Final answer: yes", "Yes.") == 1.0
    # accents fold, other scripts stay
    assert normalise_text("東京") == "東京" and normalise_text("Ångström") == "angstrom"
    with pytest.raises(ValueError, match="answer kind"):
        extract_answer("x", kind="essay")
