"""The judge validator, with a scripted grader function standing in for the judge model."""

from __future__ import annotations

import pytest

from cascadeflow_integrations.config import ModelConfig
from cascadeflow_integrations.quality import AllOf, Draft, JudgeValidator, ValidationRequest, default_validator
from cascadeflow_integrations.quality.judge import parse_verdict
from cascadeflow_integrations.types import ChatRequest, Completion, Usage

FACTS = {"capital of australia": "canberra"}


async def grader(request: ChatRequest) -> Completion:
    """Plays a judge model: knows a few facts, answers in the required format."""
    prompt = request.messages[-1].text.lower()
    answer = prompt.split("answer to grade:")[1]
    correct = all(v in answer for k, v in FACTS.items() if k in prompt)
    text = "VERDICT: CORRECT\nGRADE: 9" if correct else "VERDICT: INCORRECT\nGRADE: 2"
    return Completion(text=text, usage=Usage(input_tokens=100, output_tokens=10))


JUDGE_MODEL = ModelConfig(name="judge-model", input_cost=0.001, output_cost=0.002)


async def test_judge_fails_sydney_passes_canberra() -> None:
    judge = JudgeValidator(model=JUDGE_MODEL, complete=grader)
    req = ValidationRequest.from_prompt("What is the capital of Australia?")
    sydney = await judge.validate(req, Draft("The capital of Australia is Sydney."), 0.7)
    canberra = await judge.validate(req, Draft("Canberra."), 0.7)
    assert not sydney.accepted and "INCORRECT" in sydney.reason
    assert canberra.accepted and canberra.score == pytest.approx(0.9)
    # The judge's own call is costed: 100 * 0.001/1K + 10 * 0.002/1K.
    assert canberra.cost == pytest.approx(0.1 / 1000 + 0.02 / 1000)
    assert canberra.usage == Usage(100, 10)


async def test_judge_composed_after_free_checks() -> None:
    calls = 0

    async def counting(request: ChatRequest) -> Completion:
        nonlocal calls
        calls += 1
        return await grader(request)

    v = AllOf([default_validator(), JudgeValidator(complete=counting)])
    req = ValidationRequest.from_prompt("What is the capital of Australia?")
    d = await v.validate(req, Draft("The capital of Australia is Sydney."), 0.5)
    assert not d.accepted and "judge" in d.reason and calls == 1
    # A draft the free checks already reject never reaches (or pays for) the judge.
    await v.validate(req, Draft("I can't help with that."), 0.5)
    assert calls == 1


async def test_judge_unparseable_reply_escalates() -> None:
    async def rambling(request: ChatRequest) -> Completion:
        return Completion(text="Well, it depends.")

    d = await JudgeValidator(complete=rambling).validate(ValidationRequest.from_prompt("q"), Draft("a"), 0.1)
    assert not d.accepted and "unparseable" in d.reason


def test_parse_verdict() -> None:
    assert parse_verdict("VERDICT: CORRECT\nGRADE: 10") == (True, 10)
    assert parse_verdict("**VERDICT:** INCORRECT\nGRADE: 3/10") == (False, 3)
    assert parse_verdict("no idea") == (None, None)


def test_judge_needs_model_or_function() -> None:
    with pytest.raises(ValueError):
        JudgeValidator()
