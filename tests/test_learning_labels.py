"""Label extraction on hand-made cases of each answer kind: kinds, normalised answers, agreement."""

from __future__ import annotations

import pytest

from cascadeflow_integrations.learning.labels import (
    ANSWER_KINDS,
    agreement,
    answer_kind,
    extract_answer,
    normalise_number,
    tool_calls_agree,
)
from cascadeflow_integrations.tools.call import ToolCall

MC = "Which planet is largest?\nA. Mars\nB. Jupiter\nC. Venus\nD. Earth\nAnswer:"


@pytest.mark.parametrize(
    ("prompt", "kind"),
    [
        ("Janet has 16 eggs and eats 3. She sells the rest for $2 each. How much does she make?", "number"),
        ("A shop sells 3 pens for $4. Tom buys 12 pens. What's the total he pays?", "number"),
        (MC, "choice"),
        ("Is Paris the capital of France? Answer yes or no.", "yes_no"),
        ("Does water boil at 100 C at sea level?", "yes_no"),
        ("Who wrote Hamlet?", "short"),
        ("Answer in one word: what colour is the sky?", "short"),
        ("Write a Python function that reverses a string.", "code"),
        ("Return the names as a JSON object with keys name and age.", "json"),
        ("List 5 fruits that are red.", "list"),
        ("Tell me about the history of the Roman empire and its legacy in Europe.", "free_text"),
    ],
)
def test_answer_kind(prompt: str, kind: str) -> None:
    assert answer_kind(prompt) == kind


def test_tools_make_a_tool_call_kind() -> None:
    assert answer_kind("What is the weather in Paris?", tools=[{"name": "get_weather"}]) == "tool_call"
    assert set(ANSWER_KINDS) >= {"number", "choice", "yes_no", "short", "code", "json", "list", "free_text", "tool_call"}


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("She sells 9 eggs for 9 * $2 = $<<9*2=18>>18.\n#### 18", "18"),
        ("So the total is \\boxed{18}.", "18"),
        ("The answer is $1,234.50 in total.", "1234.5"),
        ("Final answer: 18 dollars", "18"),
        ("9 eggs at $2 each.\nShe makes 9 * $2 = $18 every day.", "18"),
        ("The answer is 3/4 of the cake.", "0.75"),
        ("The answer is \\boxed{\\frac{1}{2}}", "0.5"),
        ("The answer is 50%.", "50"),
        ("18.0", "18"),
        ("I do not know.", None),
    ],
)
def test_number_answers_normalised(text: str, want: str | None) -> None:
    assert extract_answer("number", text) == want


def test_normalise_number_units_and_case() -> None:
    assert normalise_number("18 km") == "18"
    assert normalise_number("$ 2,000") == "2000"
    assert normalise_number("-3.50") == "-3.5"
    assert normalise_number("none") is None


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("B. Jupiter", "B"),
        ("The answer is (B).", "B"),
        ("Answer: b", "B"),
        ("Jupiter is the largest, so B", "B"),
        ("**B** Jupiter is the biggest planet.", "B"),
        ("I think it's either A or C.", None),
        ("Jupiter", "B"),  # the option's text (issue 20: it was read as no answer)
    ],
)
def test_choice_answers(text: str, want: str | None) -> None:
    assert extract_answer("choice", text, MC) == want


def test_yes_no_and_short_answers() -> None:
    assert extract_answer("yes_no", "Yes, it is.") == "yes"
    assert extract_answer("yes_no", "  NO. It boils at a lower temperature.") == "no"
    assert extract_answer("yes_no", "It depends on the altitude.") is None
    assert extract_answer("short", "  The   Canberra. It has been the capital since 1913.") == "canberra"
    assert extract_answer("short", "William Shakespeare wrote it.") == "william shakespeare wrote it"
    assert extract_answer("short", "Final answer: Blue") == "blue"


def test_json_answers_are_canonical() -> None:
    a = extract_answer("json", 'Here it is:\n```json\n{"b": 2, "a": "X "}\n```')
    b = extract_answer("json", '{"a": "x", "b": 2.0}')
    assert a == b == '{"a":"x","b":"2"}'
    assert extract_answer("json", "no json here") is None


def test_free_text_code_and_list_have_no_extracted_answer() -> None:
    assert extract_answer("free_text", "Rome rose and fell.") is None
    assert extract_answer("code", "```python\ndef f(): pass\n```") is None
    with pytest.raises(ValueError, match="answer kind"):
        extract_answer("essay", "x")


@pytest.mark.parametrize(
    ("kind", "prompt", "draft", "strong", "want"),
    [
        ("number", "How many eggs?", "#### 18", "She makes 9 * $2 = $18 every day.", 1.0),
        ("number", "How many eggs?", "#### 20", "She makes 9 * $2 = $18 every day.", 0.0),
        ("number", "How many eggs?", "I cannot tell.", "#### 18", 0.0),
        ("number", "How many eggs?", "#### 18", "I cannot tell.", None),
        ("choice", MC, "B", "The answer is (B) Jupiter.", 1.0),
        ("choice", MC, "A. Mars", "The answer is (B) Jupiter.", 0.0),
        ("yes_no", "Is it? yes or no", "Yes.", "yes, definitely", 1.0),
        ("yes_no", "Is it? yes or no", "No.", "yes, definitely", 0.0),
        ("short", "Capital of Australia?", "Canberra.", "The capital of Australia is Canberra.", 1.0),
        ("short", "Capital of Australia?", "Sydney.", "Canberra.", 0.0),
        ("json", "as JSON", '{"a": 1}', '```json\n{"a": 1.0}\n```', 1.0),
        ("json", "as JSON", '{"a": 1}', '{"a": 2}', 0.0),
        ("free_text", "Tell me a story.", "Once upon a time.", "Long ago.", None),
        ("code", "Write a function.", "def f(): ...", "def g(): ...", None),
    ],
)
def test_agreement(kind: str, prompt: str, draft: str, strong: str, want: float | None) -> None:
    assert agreement(kind, prompt, draft, strong) == want


def test_tool_calls_agree_on_equivalent_arguments() -> None:
    a = [ToolCall(id="1", name="get_weather", arguments='{"city": "Paris ", "days": 3}')]
    b = [{"name": "get_weather", "arguments": {"days": "3", "city": "paris", "unit": None}}]
    c = [{"name": "get_weather", "arguments": {"city": "London", "days": 3}}]
    d = [{"name": "get_time", "arguments": {"city": "Paris", "days": 3}}]
    assert tool_calls_agree(a, b)
    assert not tool_calls_agree(a, c) and not tool_calls_agree(a, d)
    assert not tool_calls_agree([], [])
    assert agreement("tool_call", "weather?", "", "", a, b) == 1.0
    assert agreement("tool_call", "weather?", "", "", a, c) == 0.0
    assert agreement("tool_call", "weather?", "", "It is sunny.", a, None) == 0.0
    # two calls in another order still agree
    two = [*a, {"name": "get_time", "arguments": {"tz": "CET"}}]
    assert tool_calls_agree(two, [{"name": "get_time", "arguments": {"tz": "cet"}}, *b])
