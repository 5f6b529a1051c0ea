"""Arithmetic written as prose: spaced expressions, sentences, unit words, parentheticals, chains."""

from __future__ import annotations

import pytest

from cascadeflow_integrations.quality import evaluate_sync
from cascadeflow_integrations.quality.arith import check_text

PIZZA = (
    "Marie ordered one chicken meal that costs $12, 5 packs of milk that costs $3 each, 4 apples that cost $1.50 "
    "each, and some boxes of pizza. Marie paid a total of $50. How many boxes of pizza did Marie order if each box "
    "costs $8.50?"
)


def _wrong(text: str) -> list[str]:
    return [f"{s.lhs} = {s.rhs}" for s in check_text(text) if not s.holds]


@pytest.mark.parametrize(
    "text",
    [
        "12 + 5 * 3 + 4 * 1.5 = 39. 50 - 39 = 11. 11 / 8.5 = 1.3, so 1 box.",
        "12 (chicken meal) + 5 * 3 (milk) + 4 * 1.5 (apples) = $39",
        "She spent $12 + $15 + $6 = $39 in all.",
        "1,200 × 3 = 3,000",
        "12 ÷ 4 = 4",
        "3 x 4 = 13",
        "20 hours (meditation) + 20 hours (yoga) = 45 hours",
        "3 apples x 4 = 13 apples",
        "The total is 3 + 4 = 7 = 8.",
    ],
)
def test_wrong_prose_arithmetic_is_caught(text: str) -> None:
    assert _wrong(text), text


@pytest.mark.parametrize(
    "text",
    [
        "12 + 5 * 3 + 4 * 1.5 = 33. 50 - 33 = 17. 17 / 8.5 = 2, so 2 boxes.",
        "12 (chicken meal) + 5 * 3 (milk) + 4 * 1.5 (apples) = $33",
        "$1,200 x 3 = $3,600, and 2,000 × 3 = 6,000.",
        "12 ÷ 4 = 3",
        "5 hours/week * 4 weeks = 20 hours",
        "1,000 pineapples * 4 harvests = 4,000 pineapples",
        "a = 3 + 4 = 7 = 7",
        "11 / 8.5 = 1.29",
        "Total: $12 + $15 = $27 = 27 dollars",
    ],
)
def test_right_prose_arithmetic_passes(text: str) -> None:
    steps = check_text(text)
    assert steps and all(s.holds for s in steps), [(s.lhs, s.rhs) for s in steps]


@pytest.mark.parametrize(
    "text",
    [
        "It takes 5-10 minutes = about 7 minutes.",  # a range, not a subtraction
        "She left at 3:30 + 2 hours = 5:30.",  # times
        "At 3:30 + 15 = 45 minutes later",
        "On 2024-01-15 = Monday",  # a date
        "1. 3 + 4 = 7\n2. 10 - 3 = 7",  # list numbering
        "1/2 of the cake = 4 slices",  # a fraction in prose
        "The ratio is 1:2 = 0.5",
        "2 * 6 inches = 12 inches = 1 foot",  # a unit conversion
        "1 year / 3 months = 4 times",
        "Rozanne used 4 dozens + 2 = 4*12 + 2 = 50 eggs.",
        "he will need 4 cups / 1/6 cup/lemon = 4 * 6 = 24 lemons",
    ],
)
def test_no_false_flags(text: str) -> None:
    assert not _wrong(text), text


def test_spaced_statement_rejects_draft_like_the_annotation() -> None:
    spaced = evaluate_sync(PIZZA, "12 + 5 * 3 + 4 * 1.5 = 39. 50 - 39 = 11. 11 / 8.5 = 1.3, so 1 box.")
    annotated = evaluate_sync(PIZZA, "12+5*3+4*1.5 = <<12+5*3+4*1.5=39>>39. 50-39 = <<50-39=11>>11, so 1 box.")
    assert not spaced.accepted and not annotated.accepted
    assert "arithmetic does not hold" in spaced.reason and "(is 33)" in spaced.reason


def test_fractional_count_lowers_the_score() -> None:
    whole = evaluate_sync(PIZZA, "12 + 5 * 3 + 4 * 1.5 = 33. 50 - 33 = 17. 17 / 8.5 = 2\n#### 2")
    fractional = evaluate_sync(PIZZA, "12 + 5 * 3 + 4 * 1.5 = 33. 50 - 33 = 17. 17 / 8 = 2.125\n#### 2.125")
    assert fractional.score < whole.score
    assert any("fractional count" in c.detail for c in fractional.checks)


def test_final_answer_read_without_working_only_for_a_count_question() -> None:
    """Without arithmetic the final answer matters only to a "how many" question (it is read only then)."""
    from cascadeflow_integrations.quality.base import Draft, ValidationRequest
    from cascadeflow_integrations.quality.consistency import ConsistencyCheck
    from cascadeflow_integrations.types import Message

    def run(question: str, text: str):  # type: ignore[no-untyped-def]
        return ConsistencyCheck().run(ValidationRequest([Message("user", question)], None, "moderate"),
                                      Draft(text=text))

    counted = run(PIZZA, "Marie ordered some boxes of pizza.\n#### 1.5")
    assert counted.passed and counted.score < 1.0 and "fractional count 1.5" in counted.detail
    essay = run("Write about Paris.", "Paris grew from a settlement into a capital, 1.5 million then. " * 50)
    assert essay.passed and essay.score == 1.0 and essay.neutral and essay.detail == "no arithmetic to check"


def test_a_chain_of_rates_reads_the_same_under_every_hash_seed() -> None:
    """Unit cancelling iterated a set, so whether a statement was checked followed PYTHONHASHSEED."""
    import os
    import subprocess
    import sys

    code = ("from cascadeflow_integrations.quality.arith import _strip_units;"
            "print(_strip_units('9 rides * 2 tickets/ride * 2 dollars/ticket = 36 dollars'))")
    seen = set()
    for seed in ("0", "1", "2", "3", "4", "5"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout.strip()
        seen.add(out)
    assert seen == {"9 * 2 * 2 = 36 dollars"}
