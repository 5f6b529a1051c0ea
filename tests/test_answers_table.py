"""Final answers on the hand-written table of pairs (tests/answer_cases.py), each checked both ways."""

from __future__ import annotations

import pytest

from cascadeflow_integrations.quality.answers import compare_texts

from answer_cases import CASES


def test_the_table_is_large_and_covers_every_verdict() -> None:
    assert len(CASES) >= 400
    assert {c[3] for c in CASES} == {True, False, None}
    assert len(set(CASES)) == len(CASES)  # no pair twice


@pytest.mark.parametrize(("prompt", "a", "b", "same"), CASES, ids=[f"{i}:{c[1][:20]}|{c[2][:20]}" for i, c in enumerate(CASES)])
def test_pair(prompt: str, a: str, b: str, same: bool | None) -> None:
    assert compare_texts(a, b, prompt) is same
    assert compare_texts(b, a, prompt) is same
