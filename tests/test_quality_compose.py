"""Composition, custom validators, thresholds."""

from __future__ import annotations

import pytest

from cascadeflow_integrations.quality import (
    AllOf,
    CompletenessCheck,
    ConsistencyCheck,
    Decision,
    Draft,
    PartialDraft,
    RefusalCheck,
    Thresholds,
    ValidationRequest,
    WeightedScore,
    as_validator,
    default_validator,
)

Q = ValidationRequest.from_prompt


async def test_all_of_names_failing_check() -> None:
    v = AllOf([CompletenessCheck(), ConsistencyCheck(), RefusalCheck()])
    d = await v.validate(Q("What is 17*23?"), Draft("17 * 23 = 381"), 0.5)
    assert not d.accepted and d.reason.startswith("consistency failed")
    assert [c.name for c in d.checks][:2] == ["completeness", "consistency"]  # short-circuits after the failure
    ok = await v.validate(Q("What is 17*23?"), Draft("17 * 23 = 391"), 0.5)
    assert ok.accepted and ok.confidence == pytest.approx(1.0)


async def test_all_of_product_and_min() -> None:
    half = as_validator(lambda r, d: Decision(True, 0.5, 0.5, "half", 0.0))
    assert (await AllOf([half, half]).validate(Q("q"), Draft("a"), 0.3)).score == pytest.approx(0.25)
    d = await AllOf([half, half], combine="min").validate(Q("q"), Draft("a"), 0.3)
    assert d.score == pytest.approx(0.5) and d.accepted
    low = await AllOf([half, half]).validate(Q("q"), Draft("a"), 0.3)
    assert not low.accepted and "below threshold" in low.reason


async def test_weighted_score() -> None:
    yes = as_validator(lambda r, d: True)
    no = as_validator(lambda r, d: False)
    v = WeightedScore([yes, no], [3, 1])
    d = await v.validate(Q("q"), Draft("a"), 0.7)
    assert d.accepted and d.score == pytest.approx(0.75)
    d2 = await v.validate(Q("q"), Draft("a"), 0.8)
    assert not d2.accepted and "below" in d2.reason
    with pytest.raises(ValueError):
        WeightedScore([yes, no], [1])


async def test_custom_sync_and_async_functions() -> None:
    def must_mention_paris(req: ValidationRequest, draft: Draft) -> bool:
        return "paris" in draft.text.lower()

    async def not_too_long(req: ValidationRequest, draft: Draft) -> bool:
        return len(draft.text) < 50

    v = AllOf([must_mention_paris, not_too_long, default_validator()])
    assert (await v.validate(Q("Capital of France?"), Draft("Paris."), 0.5)).accepted
    d = await v.validate(Q("Capital of France?"), Draft("Lyon."), 0.5)
    assert not d.accepted and "must_mention_paris" in d.reason


def test_check_partial_composes_first_reason() -> None:
    v = default_validator()
    p = PartialDraft(text_parts=["As an AI language model I cannot"], text_len=33)
    assert "refusal" in (v.check_partial(Q("q"), p) or "")
    assert v.check_partial(Q("q"), PartialDraft(text_parts=["Paris"], text_len=5)) is None


async def test_default_validator_is_free_and_typed() -> None:
    d = await default_validator().validate(Q("Capital of France?"), Draft("Paris is the capital."), 0.8)
    assert d.accepted and d.cost == 0.0 and d.usage is None
    assert {c.name for c in d.checks} >= {"completeness", "refusal", "consistency", "answer_presence"}
    assert "judge" not in {c.name for c in d.checks}


def test_thresholds_per_complexity_and_overrides() -> None:
    t = Thresholds()
    levels = [t.for_(c) for c in ("trivial", "simple", "moderate", "hard", "expert")]
    assert levels == sorted(levels)
    agent = t.override({"hard": 0.5})
    assert agent.for_("hard") == 0.5 and agent.for_("moderate") == t.for_("moderate")
    call = agent.override(0.9)
    assert all(call.for_(c) == 0.9 for c in ("trivial", "expert"))
    assert t.override(None) is t
    with pytest.raises(ValueError, match="unknown complexity"):
        t.for_("impossible")
    with pytest.raises(ValueError, match="unknown complexity"):
        t.override({"medium": 0.3})
    with pytest.raises(ValueError):
        Thresholds(moderate=1.5)
