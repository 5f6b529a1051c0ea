"""Router: complexity classes, last-turn-only classification, overrides."""

from __future__ import annotations

import pytest

from cascadeflow_integrations.routing import Router, RoutingDecision, classify
from cascadeflow_integrations.types import Message


def u(text: str) -> list[Message]:
    return [Message("user", text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi", "trivial"),
        ("What is the capital of France?", "trivial"),
        ("What is 17*23?", "simple"),
        ("Write a Python function to merge two sorted lists and explain its complexity.", "moderate"),
        (
            "Prove formally that consensus is impossible in an asynchronous distributed system with one faulty "
            "process, derive the consequences for Byzantine fault tolerance and compare the asymptotic message "
            "complexity of the protocols.",
            "expert",
        ),
    ],
)
def test_classes(text: str, expected: str) -> None:
    assert classify(text)[0] == expected


def test_ordering_by_difficulty() -> None:
    order = ["trivial", "simple", "moderate", "hard", "expert"]
    easy = classify("Thanks!")[0]
    harder = classify("Explain why quicksort is O(n log n) on average and compare it with mergesort in detail.")[0]
    assert order.index(easy) < order.index(harder)


def test_default_strategy_and_expert_direct() -> None:
    r = Router()
    d = r.route(u("hi"))
    assert isinstance(d, RoutingDecision) and d.strategy == "cascade" and d.complexity == "trivial"
    assert r.route(u("anything"), complexity_hint="expert").strategy == "direct"
    assert r.route(u("anything"), complexity_hint="hard").strategy == "cascade"
    assert Router(direct_complexities={"hard", "expert"}).route(u("x"), complexity_hint="hard").strategy == "direct"


def test_only_last_user_turn_is_classified() -> None:
    msgs = [
        Message("system", "You are an expert in quantum cryptography, formal proofs and distributed consensus."),
        Message("user", "Prove the theorem about Byzantine consensus formally and derive the asymptotic bound."),
        Message("assistant", "..."),
        Message("user", "thanks"),
    ]
    assert Router().route(msgs).complexity == "trivial"


def test_overrides_and_errors() -> None:
    r = Router()
    d = r.route(u("hi"), force_direct=True)
    assert d.strategy == "direct" and d.reason == "force_direct"
    hinted = r.route(u("Prove the theorem formally."), complexity_hint="simple")
    assert hinted.complexity == "simple" and "complexity_hint" in hinted.reason
    with pytest.raises(ValueError, match="trivial, simple, moderate, hard, expert"):
        r.route(u("hi"), complexity_hint="medium")
    with pytest.raises(ValueError):
        Router(direct_complexities={"huge"})


def test_long_prompt_and_empty() -> None:
    level, feats = classify("word " * 5000)
    assert level in ("moderate", "hard") and feats["words"] >= 5000
    assert Router().route([]).complexity == "trivial"
