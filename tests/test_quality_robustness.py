"""Validators never crash a request: the built-in checks on hostile input, and a check that raises anyway.

The property tests call every built-in check directly (not through the safety net), so a check that
raises fails here instead of being hidden as a failed check.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascadeflow_integrations.quality import (
    AllOf,
    AnswerPresenceCheck,
    CompletenessCheck,
    ConsistencyCheck,
    Decision,
    Draft,
    LogprobConfidence,
    PartialDraft,
    PromptDifficultyPrior,
    RefusalCheck,
    ToolCallCheck,
    ValidationRequest,
    Validator,
    WeightedScore,
    as_validator,
    default_validator,
    evaluate_sync,
)
from cascadeflow_integrations.quality.arith import check_text
from cascadeflow_integrations.quality.base import check_partial_safely, validate_safely
from cascadeflow_integrations.quality.judge import parse_verdict
from cascadeflow_integrations.tools.call import ToolCall
from cascadeflow_integrations.types import Message, TokenLogprob

CHECKS = [CompletenessCheck(), RefusalCheck(), ToolCallCheck(), AnswerPresenceCheck(), ConsistencyCheck(),
          LogprobConfidence(), PromptDifficultyPrior()]
HUGE = "9" * 400  # past float's range (309+ digits)

# ---- strategies -------------------------------------------------------------------------------------

_int_text = st.one_of(
    st.integers(min_value=-(10**600), max_value=10**600).map(str),
    st.integers(min_value=0, max_value=10**30).map(lambda n: f"{n:,}"),
    st.integers(min_value=300, max_value=5000).map(lambda n: "9" * n),
)
_float_text = st.floats(allow_nan=True, allow_infinity=True).map(lambda f: repr(f))
numbers = st.one_of(
    _int_text, _float_text,
    st.sampled_from(["inf", "-inf", "nan", "NaN", "Infinity", "1e400", "-1e-400", "1e309", "$" + HUGE,
                     HUGE + "%", HUGE + ".5", "0.000", "1/0", "0/0", "10^64", "2^1000000", "1" + "0" * 4400]),
)
_pieces = st.one_of(
    numbers, st.sampled_from([" + ", " - ", " * ", " / ", " ^ ", " = ", " x ", "×", "÷", "(", ")", "%", "$",
                              "<<", ">>", "####", "\\boxed{", "}", "The answer is ", "Answer: ", "\n", ". ",
                              ", ", "```", "```json\n", "{", "}", "[", "]", '"a": ', "yes", "no", "(A) ", "B) ",
                              "I can't help with that", "I'm not sure", "hours/week", " inches = 1 foot"]),
    st.text(max_size=12),
)
texts = st.one_of(
    st.text(),
    st.lists(_pieces, max_size=40).map("".join),
    # huge inputs: a short piece repeated far past every bound the checks use
    st.tuples(st.lists(_pieces, min_size=1, max_size=6).map("".join), st.integers(1, 30_000)).map(
        lambda t: (t[0] * t[1])[:120_000]),
)
prompts = st.tuples(
    st.sampled_from(["", "How many apples are left? ", "What is the total cost? ", "Answer yes or no. ",
                     "Return it in JSON. ", "Write a function that sorts. ", "In one word: ", "List 5 fruits. ",
                     "(A) red (B) blue (C) green\n", "Calculate ", "What percent is it? ", "How many, in half? "]),
    texts,
).map("".join)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**400), max_value=10**400),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20)),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
TOOLS = [
    {"name": "get_weather", "description": "Weather", "parameters": {
        "type": "object", "properties": {"location": {"type": "string", "maxLength": 50},
                                         "unit": {"type": "string", "enum": ["c", "f"]}},
        "required": ["location"], "additionalProperties": False}},
    {"name": "add", "description": "Add", "parameters": {
        "type": "object", "properties": {"a": {"type": "integer", "maximum": 10**6}, "b": {"type": "number"},
                                         "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3}},
        "required": ["a", "b"]}},
    {"type": "function", "function": {"name": "nested", "parameters": {
        "type": "object", "properties": {"o": {"type": "object", "properties": {"x": {"type": "null"}}}}}}},
]
tool_names = st.one_of(st.sampled_from(["get_weather", "add", "nested"]), st.text(max_size=10))
raw_arguments = st.one_of(
    st.text(max_size=60),
    st.sampled_from(['{"a": ' + "9" * 5000 + ', "b": 1}', "[" * 5000 + "]" * 5000, '{"a": 1e400, "b": NaN}',
                     '{"location": "' + "x" * 10_000 + '"}', "null", "[]", '"str"', "{"]),
    json_values.map(lambda v: __import__("json").dumps(v, allow_nan=True)),
)
tool_calls = st.lists(
    st.builds(lambda n, args: ToolCall(id="c1", name=n, arguments=args), tool_names,
              st.one_of(raw_arguments, st.dictionaries(st.text(max_size=8), json_values, max_size=4))),
    max_size=3,
)
logprobs = st.one_of(st.none(), st.lists(
    st.builds(TokenLogprob, st.text(max_size=3),
              st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**400), 10**400))),
    max_size=40))
tool_choices = st.sampled_from([None, "auto", "required", "none", {"name": "add"}, {"name": "missing"}])


@st.composite
def cases(draw: Any) -> tuple[ValidationRequest, Draft]:
    messages = [Message("user", draw(prompts))]
    if draw(st.booleans()):
        messages.append(Message("assistant", draw(texts)))
        messages.append(Message("user", draw(prompts)))
    request = ValidationRequest(messages, tools=draw(st.sampled_from([None, TOOLS, TOOLS[:1]])),
                                complexity=draw(st.sampled_from(["trivial", "simple", "moderate", "hard", "expert"])),
                                tool_choice=draw(tool_choices))
    draft = Draft(text=draw(texts), tool_calls=draw(tool_calls),
                  finish_reason=draw(st.sampled_from([None, "stop", "length", "tool_calls", "content_filter"])),
                  logprobs=draw(logprobs))
    return request, draft


@st.composite
def partials(draw: Any) -> PartialDraft:
    parts = draw(st.lists(texts, max_size=5))
    names = draw(st.dictionaries(st.integers(0, 3), tool_names, max_size=3))
    args = {i: draw(json_values) for i in names}
    return PartialDraft(text_parts=parts, text_len=sum(map(len, parts)), tool_names=names, tool_arguments=args,
                        logprobs=draw(logprobs) or [], chunks=len(parts))


PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                            HealthCheck.data_too_large])


# ---- the built-in checks never raise ------------------------------------------------------------


@PROPERTY
@given(cases())
def test_every_builtin_check_never_raises(case: tuple[ValidationRequest, Draft]) -> None:
    request, draft = case
    for check in CHECKS:
        r = check.run(request, draft)  # directly: an exception must surface here
        assert r.error is None and 0.0 <= r.score <= 1.0, (check.name, r)


@PROPERTY
@given(cases())
def test_default_validator_never_raises_and_decides(case: tuple[ValidationRequest, Draft]) -> None:
    request, draft = case
    d = asyncio.run(default_validator().validate(request, draft, 0.8))
    assert isinstance(d, Decision) and 0.0 <= d.score <= 1.0
    assert [c.name for c in d.checks if c.error] == []  # nothing was caught by the safety net


@PROPERTY
@given(cases(), partials())
def test_every_check_partial_never_raises(case: tuple[ValidationRequest, Draft], partial: PartialDraft) -> None:
    request, _ = case
    for check in [*CHECKS, default_validator()]:
        why = check.check_partial(request, partial)
        assert why is None or isinstance(why, str)


@PROPERTY
@given(texts)
def test_arithmetic_and_judge_parsing_never_raise(text: str) -> None:
    for s in check_text(text):
        assert isinstance(s.holds, bool)
    parse_verdict(text)


@settings(max_examples=60, deadline=None)
@given(raw_arguments)
def test_tool_call_arguments_never_raise(raw: str) -> None:
    call = ToolCall(id="c", name="add", arguments=raw)
    assert isinstance(call.arguments, dict) and (call.parse_error is None or isinstance(call.parse_error, str))


@pytest.mark.parametrize("prompt,draft", [
    ("What is 2+2?", HUGE),
    ("How many apples are left?", "The answer is " + HUGE),
    ("How many apples are left?", "#### " + HUGE + ".5"),
    ("What is the total?", f"{HUGE} * 3 = 3\n#### 3"),
    ("What is the total?", f"<<1/{HUGE}={HUGE}>> so 5"),
    ("What is the total?", f"2 * 3 = 6\n#### {HUGE}"),
])
def test_numbers_past_float_range_are_judged_not_raised(prompt: str, draft: str) -> None:
    d = evaluate_sync(prompt, draft)
    assert all(c.error is None for c in d.checks), d.reason
    assert "raised" not in d.reason


def test_a_wrong_step_with_a_huge_number_is_named_briefly() -> None:
    d = evaluate_sync("What is the total?", f"{HUGE} * 3 = 3\n#### 3")
    assert not d.accepted and "consistency failed: arithmetic does not hold" in d.reason
    assert len(d.reason) < 300  # the 400-digit operand is clipped in the reason


# ---- a check that raises anyway is a failed check -----------------------------------------------------


REQ = ValidationRequest.from_prompt("q?")
DRAFT = Draft(text="An answer.", finish_reason="stop")


def boom_sync(request: Any, draft: Any) -> bool:
    raise ZeroDivisionError("user check divided by zero")


async def boom_async(request: Any, draft: Any) -> bool:
    raise KeyError("missing")


class BoomValidator(Validator):
    name = "boom_class"

    async def validate(self, request: Any, draft: Any, threshold: float) -> Decision:
        raise RuntimeError("validator exploded")

    def check_partial(self, request: Any, partial: Any) -> str | None:
        raise OverflowError("partial exploded")


class NotADecision(Validator):
    name = "not_a_decision"

    async def validate(self, request: Any, draft: Any, threshold: float) -> Any:
        return True


@pytest.mark.parametrize("validator,name,error", [
    (boom_sync, "boom_sync", "ZeroDivisionError: user check divided by zero"),
    (boom_async, "boom_async", "KeyError: 'missing'"),
    (BoomValidator(), "boom_class", "RuntimeError: validator exploded"),
    (NotADecision(), "not_a_decision", "TypeError: validate() returned bool, expected a Decision"),
])
@pytest.mark.parametrize("compose", ["alone", "all_of", "weighted"])
def test_a_raising_validator_is_a_failed_check_named_and_logged_once(validator: Any, name: str, error: str,
                                                                     compose: str, caplog: Any) -> None:
    v = {"alone": lambda: as_validator(validator),
         "all_of": lambda: AllOf([CompletenessCheck(), validator, RefusalCheck()], short_circuit=False),
         "weighted": lambda: WeightedScore([CompletenessCheck(), validator], weights=[10, 1])}[compose]()
    with caplog.at_level(logging.WARNING, logger="cascadeflow_integrations"):
        d = evaluate_sync("q?", "An answer.", validator=v, threshold=0.0)
    assert d.accepted is False
    assert f"{name} failed: raised {error}" in d.reason
    assert error in [c.error for c in d.checks]
    if compose == "all_of":  # the other checks still ran
        assert [c.name for c in d.checks] == ["completeness", name, "refusal"]
    records = [r for r in caplog.records if r.name == "cascadeflow_integrations" and name in r.getMessage()]
    assert len(records) == 1 and records[0].exc_info is not None


def test_a_raising_check_partial_is_a_reason_to_abort(caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, logger="cascadeflow_integrations"):
        why = check_partial_safely(AllOf([RefusalCheck(), BoomValidator()]), REQ, PartialDraft(["Hi"], 2))
        alone = check_partial_safely(BoomValidator(), REQ, PartialDraft(["Hi"], 2))
    assert why == alone == "boom_class raised OverflowError: partial exploded"
    assert len([r for r in caplog.records if "boom_class" in r.getMessage()]) == 2  # once per call


def test_the_error_message_is_bounded() -> None:
    def chatty(request: Any, draft: Any) -> bool:
        raise ValueError("x" * 10_000)

    d = asyncio.run(validate_safely(AllOf([chatty]), REQ, DRAFT, 0.5))
    assert d.accepted is False and len(d.reason) < 400


def test_cancellation_is_not_swallowed() -> None:
    async def cancelled(request: Any, draft: Any) -> bool:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(validate_safely(AllOf([cancelled]), REQ, DRAFT, 0.5))
