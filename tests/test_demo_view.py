"""The demo shows a check as failed when it decided a rejection, in both views."""

from __future__ import annotations

import io

from cascadeflow_integrations.demo import recordings as rec
from cascadeflow_integrations.demo.run import MODEL_CHECK_SCENARIOS, models
from cascadeflow_integrations.demo.view import PlainView, RichView, ScenarioState, shown_checks
from cascadeflow_integrations.agent import CascadeAgent
from cascadeflow_integrations.replay import ReplayServer


async def _scenario_7(view_cls: type[PlainView], pace: float) -> str:
    server = ReplayServer().start()
    try:
        rec.load(server, frameworks=False, pace=pace)
        out = io.StringIO()
        view = view_cls(out)
        async with CascadeAgent(models(server.openai_url, "replay-no-key-needed")) as agent:
            row = await MODEL_CHECK_SCENARIOS[0](agent, view)
        view.close()
    finally:
        server.stop()
    assert row.outcome == "escalated" and row.ok
    return out.getvalue()


async def test_scenario_7_shows_the_agreement_that_rejected_the_draft_as_failed() -> None:
    out = await _scenario_7(PlainView, pace=1.0)  # as `make demo` paces it
    assert "decision: rejected" in out and "below threshold" in out
    line = next(x.strip() for x in out.splitlines() if x.strip().startswith(("PASS agreement", "FAIL agreement")))
    assert line.startswith("FAIL agreement"), out
    assert "score 0.33 below threshold" in line
    assert "PASS agreement" not in out


async def test_scenario_7_rich_view_marks_it_failed() -> None:
    out = await _scenario_7(RichView, pace=0.0)
    assert "✗ agreement" in out and "✓ agreement" not in out, out


def test_checks_shown_as_decided() -> None:
    soft = {"name": "agreement", "passed": True, "score": 0.33, "detail": "1 of 3 samples agree"}
    other = {"name": "format", "passed": True, "score": 1.0, "detail": ""}
    rejected = {"accepted": False, "threshold": 0.6, "checks": [soft, other]}
    assert shown_checks(rejected) == [
        ("agreement", False, "score 0.33 below threshold 0.60 (1 of 3 samples agree)"), ("format", True, "")]
    # accepted: nothing is turned into a failure
    assert shown_checks({**rejected, "accepted": True, "threshold": 0.3})[0] == ("agreement", True,
                                                                                 "1 of 3 samples agree")
    # a hard failure decided it: the soft one is shown as it is
    hard = {"name": "consistency", "passed": False, "score": 0.0, "detail": "39 (is 33)"}
    assert shown_checks({**rejected, "checks": [hard, soft]}) == [
        ("consistency", False, "39 (is 33)"), ("agreement", True, "1 of 3 samples agree")]
    # the budget kept a draft the validator rejected: the check still decided the validator's verdict
    kept = {**rejected, "accepted": True, "validator_accepted": False}
    assert shown_checks(kept)[0][1] is False
    # a neutral check had nothing to say: never shown as the reason
    assert shown_checks({**rejected, "checks": [{**soft, "neutral": True}]})[0][1] is True
    st = ScenarioState("t", "q", decision="rejected", checks=shown_checks(rejected))
    out = io.StringIO()
    PlainView(out).decision(st)
    assert "  FAIL agreement: score 0.33 below threshold 0.60 (1 of 3 samples agree)\n" in out.getvalue()
