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


# ---- issue 20: answers read the way a person reads them ----------------------------------------

DATE_Q = "Today is 3/31/2021. What is the date tomorrow in MM/DD/YYYY?"


def test_the_misreadings_named_in_issue_20() -> None:
    from cascadeflow_integrations.quality.answers import compare_texts

    # a date is no longer the number 2021: samples with different dates disagree
    assert extract_answer("Step by step.\nA: 04/01/2021", DATE_Q) == Answer("date", "2021-04-01")
    assert compare_texts("A: 04/01/2021", "A: 04/02/2021", DATE_Q) is False
    assert extract_answer("The answer is 3:45 pm.", "What time is it?") == Answer("time", "15:45")
    assert extract_answer("It is $1,250.50", "How much does it cost?") == Answer("number", 1250.5)
    assert extract_answer("x = -3/4", "Solve for x: 4x + 3 = 0.") == Answer("number", -0.75)
    assert extract_answer("24 2/3", "How many cups?") == Answer("number", 24 + 2 / 3)
    italy = "Which city is the capital of Italy?\n(A) Paris\n(B) Rome\n(C) Madrid"
    assert compare_texts("Answer: B", "The correct answer is Rome.", italy) is True
    assert compare_texts("She has twelve apples.", "12", "How many apples does she have?") is True
    # a number in the reasoning does not stand for a marked answer; the last number is a last resort, less sure
    marked = extract_answer("In 2019 she had 3 bags.\nThe answer is 12.", "How many apples?")
    assert marked is not None and marked.value == 12.0 and marked.marker == "answer is"
    last = extract_answer("She had 3 bags of 4 and sold 2, which leaves her with 10 today to", "How many apples?",
                          kind="number")
    assert last is not None and last.value == 10.0 and last.confidence < marked.confidence


def test_unknown_is_neither_a_match_nor_a_label() -> None:
    from cascadeflow_integrations.learning.labels import agreement as label

    assert label("number", "How many apples?", "#### 3", "#### 3:00 pm") is None  # a number against a time
    assert label("date", DATE_Q, "A: the day after", "A: 04/01/2021") is None  # a marked answer that cannot be read
    assert label("date", DATE_Q, "I have no idea.", "A: 04/01/2021") == 0.0  # no answer at all is wrong
    assert label("date", DATE_Q, "A: 4/1/2021", "April 1, 2021") == 1.0
    assert label("number", "How far?", "5 km", "5 miles") == 0.0


async def test_agreement_check_leaves_unknown_samples_out_and_names_the_values() -> None:
    from cascadeflow_integrations.quality import AgreementCheck
    from cascadeflow_integrations.quality.base import Draft, ValidationRequest

    req = ValidationRequest.from_prompt(DATE_Q, samples=[
        "So it is 04/01/2021.\nA: 04/01/2021", "The answer is 04/02/2021.", "A: 2021", "A: no idea", "Not sure."])
    r = await AgreementCheck().score(req, Draft("Tomorrow.\nA: 04/01/2021"))
    # 'A: 2021' (a number) and 'A: no idea' are unknown; 'Not sure.' gives no answer and counts against
    assert r.score == pytest.approx(1 / 3) and not r.neutral
    assert "1/3 recorded samples agree on date '2021-04-01'" in r.detail
    assert "'2021-04-02'" in r.detail and "2 unknown" in r.detail
    only_unknown = ValidationRequest.from_prompt(DATE_Q, samples=["A: 2021", "#### 7"])
    n = await AgreementCheck().score(only_unknown, Draft("A: 04/01/2021"))
    assert n.neutral and "2/2 recorded samples unknown" in n.detail


def test_math_expressions_with_math_verify_and_the_plain_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    from cascadeflow_integrations.quality.answers import compare_texts, mathexpr

    q = "Simplify $(x+1)^2$."
    assert compare_texts("\\boxed{2\\sqrt{3}}", "\\sqrt{12}", q) is True  # numeric: either way
    assert compare_texts("\\boxed{2\\sqrt{3}}", "\\boxed{3\\sqrt{2}}", q) is False
    pytest.importorskip("math_verify")
    assert compare_texts("\\boxed{(x+1)^2}", "\\boxed{x^2+2x+1}", q) is True
    assert compare_texts("\\boxed{(x+1)^2}", "\\boxed{x^2+2x+2}", q) is False
    monkeypatch.setitem(mathexpr._STATE, "mod", None)  # as without the [math] extra
    assert compare_texts("\\boxed{(x+1)^2}", "\\boxed{x^2+2x+1}", q) is None  # cannot tell: unknown, not a mismatch
    assert compare_texts("\\boxed{(x+1)^2}", "\\boxed{(x + 1)^2}", q) is True  # folded notation still matches
    assert compare_texts("\\boxed{2\\sqrt{3}}", "\\sqrt{12}", q) is True


def test_costly_expressions_are_not_sent_to_math_verify() -> None:
    import time

    from cascadeflow_integrations.quality.answers import compare_texts

    q = "Simplify $x^2$."
    t0 = time.perf_counter()
    assert compare_texts("\\boxed{2^{99999999}}", "\\boxed{2^{99999998} \\cdot 2}", q) is None
    assert compare_texts("\\boxed{(9^9)^{9^9}}", "\\boxed{9^{9^{10}}}", q) is None
    assert compare_texts("\\boxed{1000!}", "\\boxed{999! \\cdot 1000}", q) is None
    assert time.perf_counter() - t0 < 30  # generous: unbounded sympy work would not return at all
    pytest.importorskip("math_verify")
    assert compare_texts("\\boxed{x^2+y^2}", "\\boxed{y^2+x^2}", q) is True  # two powers are no tower
