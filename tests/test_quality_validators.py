"""Built-in validators on hand-made positive and negative cases."""

from __future__ import annotations

import math

import pytest

from cascadeflow_integrations.quality import (
    AnswerPresenceCheck,
    CompletenessCheck,
    ConsistencyCheck,
    Draft,
    LogprobConfidence,
    PartialDraft,
    RefusalCheck,
    Thresholds,
    ToolCallCheck,
    ValidationRequest,
    evaluate,
    evaluate_sync,
)
from cascadeflow_integrations.quality.arith import ParseError, check_text, evaluate_expression
from cascadeflow_integrations.tools.call import ToolCall
from cascadeflow_integrations.types import TokenLogprob

Q = ValidationRequest.from_prompt


async def run(check, prompt: str, text: str = "", **draft_kw):  # type: ignore[no-untyped-def]
    return await check.validate(Q(prompt), Draft(text=text, **draft_kw), 0.5)


# ---- arithmetic ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "value"),
    [("17 * 23", 391), ("$1,200 × 3", 3600), ("10 ÷ 4", 2.5), ("2^10", 1024), ("(3 + 4) * 2", 14), ("50%", 0.5)],
)
def test_evaluate_expression(expr: str, value: float) -> None:
    assert float(evaluate_expression(expr)) == value


@pytest.mark.parametrize("bad", ["__import__('os')", "2 ** 99999999", "10 ^ 100000", "abc", "1 / 0"])
def test_evaluate_expression_rejects_non_arithmetic(bad: str) -> None:
    with pytest.raises(ParseError):
        evaluate_expression(bad)


async def test_consistency_wrong_vs_right_arithmetic() -> None:
    bad = await run(ConsistencyCheck(), "What is 17*23?", "17 * 23 = 381")
    good = await run(ConsistencyCheck(), "What is 17*23?", "17 * 23 = 391")
    assert not bad.accepted and "17 * 23 = 381" in bad.reason and "consistency" in bad.reason
    assert good.accepted


@pytest.mark.parametrize(
    "text",
    ["3 + 4 = 8", "So 3 + 4 = 7 = 8 apples.", "She pays 3 x $1,200 = $3,700.", "20% of 60 = 15", "<<9*2=17>>17"],
)
async def test_consistency_catches_errors(text: str) -> None:
    assert not (await run(ConsistencyCheck(), "How much?", text)).accepted


@pytest.mark.parametrize(
    "text",
    [
        "2 + 1/2 = 5/2 = 2.5 bolts",
        "each gets 8 / 3 = 2.67 gallons",  # rounding as written is not an error
        "6 x 6 = 36 / 12 = 3",  # running computation
        "18 videos/week * 4 minutes/video = 72 minutes",  # units: skipped, never guessed
        "Let 2x + 3 = 7, so x = 2",
        "0.15 * 100 = 15%",
    ],
)
def test_arithmetic_no_false_errors(text: str) -> None:
    assert all(s.holds for s in check_text(text))


async def test_consistency_soft_signals_lower_score() -> None:
    d = await run(
        ConsistencyCheck(),
        "Fred has 8 gallons and 3 friends. How many gallons each?",
        "8 / 3 = 2.67 gallons each.\n#### 2.67",
    )
    assert d.accepted is False or d.score < 1.0
    assert d.score < 1.0 and "rounded" in d.checks[0].detail


# ---- completeness -----------------------------------------------------------------------


async def test_completeness() -> None:
    c = CompletenessCheck()
    assert not (await run(c, "hi")).accepted
    assert "truncated" in (await run(c, "hi", "Hello, I", finish_reason="length")).reason
    assert not (await run(c, "sum?", "So the total is 4 + 5 =")).accepted
    assert (await run(c, "hi", "Hello!", finish_reason="stop")).accepted
    call = ToolCall("c1", "get_weather", {"city": "Paris"})
    assert (await run(c, "weather?", "", tool_calls=[call])).accepted


# ---- refusal ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I can't help with that.",
        "As an AI language model, I cannot browse.",
        "I'm not sure.",
        "I don't know the answer.",
    ],
)
async def test_refusal_fails(text: str) -> None:
    d = await run(RefusalCheck(), "What is the capital of Australia?", text)
    assert not d.accepted and "refusal" in d.reason


async def test_refusal_passes_normal_answer() -> None:
    assert (await run(RefusalCheck(), "Capital of Australia?", "Canberra is the capital of Australia.")).accepted


def test_hedging_is_found_anywhere_in_a_long_draft_in_any_case() -> None:
    """The hedge pattern's leading `(?=i)` (a faster scan) finds exactly what the pattern without it finds."""
    import re

    from cascadeflow_integrations.quality.validators import _HEDGE_RE

    plain = re.compile(_HEDGE_RE.pattern.removeprefix("(?=i)"), _HEDGE_RE.flags)
    samples = ["I'm not sure", "IT'S UNCLEAR which", "i dont know", "İ don't know", "ı can't verify", "Is it's hard to say",
               "I do not have enough data", "nothing here", "hi I can't determine", "sit's unclear", "I am not certain"]
    for s in samples:
        text = "Paris grew. " * 40 + s + " and more."
        assert [m.span() for m in _HEDGE_RE.finditer(text)] == [m.span() for m in plain.finditer(text)], s
    d = RefusalCheck().run(Q("x"), Draft(text="Canberra is the capital. " * 30 + "It's hard to say why."))
    assert d.passed and d.score == 0.75 and "hedging" in d.detail


def test_refusal_check_partial_aborts_at_start() -> None:
    p = PartialDraft(text_parts=["I'm sorry, but I ", "can't help with that"], text_len=38)
    assert "refusal" in (RefusalCheck().check_partial(Q("x"), p) or "")
    ok = PartialDraft(text_parts=["Canberra is"], text_len=11)
    assert RefusalCheck().check_partial(Q("x"), ok) is None


# ---- logprobs ---------------------------------------------------------------------------


def _lps(probs: list[float]) -> list[TokenLogprob]:
    return [TokenLogprob(f"t{i}", math.log(p)) for i, p in enumerate(probs)]


async def test_logprob_confidence() -> None:
    c = LogprobConfidence()
    hi = await run(c, "q", "a", logprobs=_lps([0.95] * 30))
    lo = await run(c, "q", "a", logprobs=_lps([0.02] * 30))
    neutral = await run(c, "q", "a")
    assert hi.accepted and hi.confidence > 0.9
    assert not lo.accepted and "low token confidence" in lo.reason
    assert neutral.accepted and neutral.score == 1.0 and "neutral" in neutral.checks[0].detail


def test_logprob_check_partial_collapse() -> None:
    c = LogprobConfidence(window=8)
    steady = PartialDraft(logprobs=_lps([0.9] * 20))
    assert c.check_partial(Q("q"), steady) is None
    collapsed = PartialDraft(logprobs=_lps([0.9] * 20 + [0.01] * 8))
    assert "logprob collapse" in (c.check_partial(Q("q"), collapsed) or "")


# ---- answer presence --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "good", "bad"),
    [
        ("How many legs does a spider have?", "A spider has 8 legs.", "Spiders are arachnids."),
        ("Answer yes or no: is 7 prime?", "Yes.", "Primes are interesting."),
        ("Which is largest?\nA) 3\nB) 7\nC) 5", "B) 7", "The largest one."),
        ('Return the result as JSON with key "n".', '```json\n{"n": 3}\n```', "n is 3"),
        (
            "Write a Python function that adds two numbers.",
            "```python\ndef add(a, b):\n    return a + b\n```",
            "Just add them.",
        ),
        ("Describe Paris in one word.", "Romantic", "Paris is a romantic city full of history and art."),
        ("List 3 fruits.", "- apple\n- pear\n- plum", "- apple\n- pear"),
    ],
)
async def test_answer_presence(prompt: str, good: str, bad: str) -> None:
    assert (await run(AnswerPresenceCheck(), prompt, good)).accepted
    d = await run(AnswerPresenceCheck(), prompt, bad)
    assert not d.accepted and "answer_presence" in d.reason


async def test_answer_presence_fractional_count_lowers_score() -> None:
    d = await AnswerPresenceCheck().validate(
        Q("How many bags can Jean fill with 28 lollipops, 3 per bag?"), Draft("28 / 3 = 9.33\n#### 9.33"), 0.0
    )
    assert d.score < 0.5


# ---- tool calls -------------------------------------------------------------------------

TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"],
        },
    }
]


async def _tool(calls: list[ToolCall], text: str = "", tool_choice: str | None = None):  # type: ignore[no-untyped-def]
    req = ValidationRequest.from_prompt("Weather in Paris?", tools=TOOLS, tool_choice=tool_choice)
    return await ToolCallCheck().validate(req, Draft(text=text, tool_calls=calls), 0.5)


async def test_tool_call_check() -> None:
    assert (await _tool([ToolCall("1", "get_weather", {"city": "Paris"})])).accepted
    unknown = await _tool([ToolCall("1", "get_wether", {"city": "Paris"})])
    assert not unknown.accepted and "unknown tool" in unknown.reason and "tool_calls" in unknown.reason
    missing = await _tool([ToolCall("1", "get_weather", {"unit": "c"})])
    assert not missing.accepted and "city" in missing.reason
    enum = await _tool([ToolCall("1", "get_weather", {"city": "Paris", "unit": "kelvin"})])
    assert not enum.accepted
    broken = await _tool([ToolCall("1", "get_weather", '{"city": "Par')])
    assert not broken.accepted and "JSON" in broken.reason
    # Tools optional: a text answer is fine; required: it is not.
    assert (await _tool([], text="It is sunny in Paris.")).accepted
    assert not (await _tool([], text="It is sunny.", tool_choice="required")).accepted


def test_tool_check_partial_unknown_name() -> None:
    req = ValidationRequest.from_prompt("Weather?", tools=TOOLS)
    assert "unknown tool" in (ToolCallCheck().check_partial(req, PartialDraft(tool_names={0: "nope"})) or "")
    assert ToolCallCheck().check_partial(req, PartialDraft(tool_names={0: "get_weather"})) is None


# ---- offline ----------------------------------------------------------------------------


async def test_evaluate_offline() -> None:
    d = await evaluate("What is 17*23?", "17 * 23 = 381")
    assert not d.accepted and d.checks and 0.0 <= d.confidence <= 1.0
    assert (await evaluate("What is 17*23?", "17 * 23 = 391")).accepted


def test_evaluate_sync_with_logprobs() -> None:
    d = evaluate_sync("Capital of France?", "Paris.", logprobs=[-0.01, -0.02], complexity="simple")
    assert d.accepted and d.threshold == Thresholds().simple
