"""Certified operating points on synthetic data with known truth, the live guarantee check, label checks.

The truth: a draft with score u (uniform) is right with probability g(u); the strong answer is right with
probability 0.9, independently. The quality share of "accept when u >= t" is known in closed form, so a
fit's promise can be checked against the truth rather than against another sample.
"""

from __future__ import annotations

import logging
import math
import random
import statistics

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascadeflow_integrations.learning import Policy, fit
from cascadeflow_integrations.learning.certify import GuaranteeMonitor, certify_threshold
from cascadeflow_integrations.learning.fit import Example, fit_examples
from cascadeflow_integrations.learning.live import Learner
from cascadeflow_integrations.learning.model import ConstantModel, SignalModel
from cascadeflow_integrations.learning.policy import Group
from cascadeflow_integrations.quality.base import Draft, ValidationRequest
from cascadeflow_integrations.quality.calibrate import Item, calibrate_scored
from cascadeflow_integrations.stores.memory import MemoryStore
from learning_fixtures import records

STRONG_RIGHT = 0.9
DRAFT_COST, STRONG_COST = 0.05, 1.0


def g(u: float, steep: float = 12.0, mid: float = 0.45) -> float:
    return 1.0 / (1.0 + math.exp(-steep * (u - mid)))


def true_share(t: float, steep: float = 12.0, mid: float = 0.45, grid: int = 4000) -> float:
    """Quality share of accepting u >= t, exactly (numeric integral over u): draft and strong independent."""
    if t > 1.0:
        return 1.0
    lo = max(0.0, t)
    du = (1.0 - lo) / grid
    acc_draft = sum(g(lo + (k + 0.5) * du, steep, mid) for k in range(grid)) * du
    return (acc_draft + lo * STRONG_RIGHT) / STRONG_RIGHT


def draw(n: int, rnd: random.Random, steep: float = 12.0, mid: float = 0.45) -> list[Example]:
    out = []
    for _ in range(n):
        u = rnd.random()
        d = float(rnd.random() < g(u, steep, mid))
        s = float(rnd.random() < STRONG_RIGHT)
        out.append(Example("number", {"checks_product": u}, {}, d, s, DRAFT_COST, STRONG_COST))
    return out


def certified(exs: list[Example], target: float = 0.95, confidence: float = 0.9) -> Policy:
    # the single signal only: the fit's scorer selection and certification, without a model to fit
    return fit_examples(exs, target, confidence=confidence, capacities=(), skip=False, report_folds=0)


def threshold_of(p: Policy) -> float:
    grp = p.groups["*"]
    return grp.threshold_value() if grp.threshold != "escalate_all" else 2.0


def test_violation_rate_at_confidence_090_is_at_most_010() -> None:
    rnd = random.Random(7)
    violations = saved = 0
    runs = 200
    for _ in range(runs):
        p = certified(draw(400, rnd))
        t = threshold_of(p)
        violations += true_share(t) < 0.95
        saved += t <= 1.0 and p.skip is None
    rate = violations / runs
    # 0.1 plus three standard errors of a 200-draw estimate
    assert rate <= 0.1 + 3 * math.sqrt(0.1 * 0.9 / runs), rate
    # a saving exists (accepting u >= 0.75 keeps about 97% at a fraction of the cost): it is found
    assert true_share(0.75) > 0.965 and saved >= 0.8 * runs


def test_nothing_certified_escalates_everything_and_says_how_many_labels() -> None:
    rnd = random.Random(3)
    # for 99%, even one accepted wrong draft in 134 right strong answers is too many to certify
    p = certified(draw(150, rnd, steep=2.0, mid=0.95), target=0.99)
    assert p.groups["*"].threshold == "escalate_all" and p.skip is not None and p.skip.threshold == "always"
    assert p.report["chosen"] == "direct"
    note = " ".join(p.report["notes"])
    assert "nothing certifies a saving" in note
    need = p.report["labels_needed"]
    assert need is None or need > 150


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steep=st.floats(6.0, 16.0), mid=st.floats(0.3, 0.55), seed=st.integers(0, 10_000))
def test_more_labels_never_cost_more_on_average(steep: float, mid: float, seed: int) -> None:
    rnd = random.Random(seed)

    def cost(n: int) -> float:
        out = []
        for _ in range(12):
            t = threshold_of(certified(draw(n, rnd, steep, mid)))
            accept = max(0.0, 1.0 - t) if t <= 1.0 else 0.0
            out.append(DRAFT_COST + (1.0 - accept) * STRONG_COST if t <= 1.0 else STRONG_COST)
        return statistics.mean(out)

    assert cost(1200) <= cost(200) + 0.02


def test_calibrate_and_fit_certify_through_the_same_code() -> None:
    import numpy as np

    rnd = random.Random(11)
    exs = draw(600, rnd)
    items = [Item("q", "d", e.draft_quality, e.strong_quality, DRAFT_COST, STRONG_COST) for e in exs]
    scores = [e.feats["checks_product"] for e in exs]  # type: ignore[index]
    res = calibrate_scored(items, scores, 0.95)
    arr = [np.asarray(v, dtype=float) for v in ([e.draft_quality for e in exs], [e.strong_quality for e in exs],
                                                 [1.0] * len(exs), [DRAFT_COST] * len(exs), [STRONG_COST] * len(exs))]
    direct = certify_threshold(np.asarray(scores), *arr, 0.95, 0.1)
    assert direct.threshold is not None and res.threshold == direct.threshold
    assert res.fit_quality_lower >= 0.95 and res.heldout.quality_share >= 0.93


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("draft_score", 7, "draft_score=7 is not a score in"),
        ("draft_score", float("nan"), "draft_score=nan"),
        ("strong_score", -0.5, "strong_score=-0.5"),
        ("draft_correct", "maybe", "draft_correct='maybe' is not a label"),
        ("strong_correct", "banana", "strong_correct='banana' is not a label"),
        ("draft_correct", 2, "draft_correct=2 is not a label"),
    ],
)
def test_malformed_labels_are_refused_naming_the_record(field: str, value: object, match: str) -> None:
    recs = records(150)
    recs[17] = {**recs[17], field: value}
    if field.endswith("_score"):
        recs[17].pop(field.replace("_score", "_correct"), None)
    with pytest.raises(ValueError, match=match) as e:
        fit(recs)
    assert "record 17" in str(e.value)


# ---- the guarantee on live traffic -----------------------------------------------------------------


def test_monitor_raises_no_alarm_while_the_promise_holds() -> None:
    """Anytime validity: over streams where the promise holds, an alarm at any time in at most delta of them."""
    rnd = random.Random(5)
    alarms = 0
    runs = 150
    for _ in range(runs):
        m = GuaranteeMonitor(0.95, 0.1, max_weight=10.0)
        for _ in range(600):
            if rnd.random() < 0.4:  # escalated: labelled for free
                m.update(False, 0.0, 1.0)
            elif rnd.random() < 0.1:  # an accepted draft with a shadow label (rate 0.1): wrong 4% of the time
                m.update(True, float(rnd.random() >= 0.04 / 0.6), 1.0, 10.0)
        alarms += m.alarm
    assert alarms / runs <= 0.1 + 3 * math.sqrt(0.09 / runs)


def _policy(threshold: float) -> Policy:
    return Policy(groups={"*": Group(SignalModel("checks_product"), threshold, 100)},
                  skip=None, target_quality=0.95, confidence=0.9, name="certified")


async def test_drift_alarm_on_a_stream_whose_second_half_is_harder(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    policy = _policy(0.5)
    learner = Learner(store, owns_store=True, shadow_rate=0.2, log_prompts=False, policy=policy, shadow_call=None)
    rnd = random.Random(2)
    at = None
    with caplog.at_level(logging.WARNING, logger="cascadeflow_integrations"):
        for i in range(3000):
            hard = i >= 1500
            u = rnd.random()
            accepted = policy.groups["*"].accepts(u)
            right = rnd.random() < (0.4 if hard else 0.99) if accepted else True
            if not accepted:
                learner._observe(False, 0.0)  # an escalation labels itself
            elif rnd.random() < 0.2:  # a shadow label of an accepted draft
                learner._observe(True, float(right), 1 / 0.2)
            if at is None and learner.monitor is not None and learner.monitor.alarm:
                at = i
    assert at is not None and at >= 1500, "no alarm on the easy half, an alarm on the hard one"
    assert at < 2200, "and soon: within a few hundred requests of the shift"
    warnings = [r for r in caplog.records if "no longer holds" in r.getMessage()]
    assert len(warnings) == 1
    assert store.stats.guarantee_alarms == 1 and policy.report["guarantee_alarm"]["alarm"] is True
    # every draft escalates until a refit certifies again
    assert learner.validator is not None and learner.validator.hold is not None
    good = Draft(text="12 + 30 = 42.\n#### 42", finish_reason="stop")
    req = ValidationRequest.from_prompt("Tom has 12 apples and buys 30 more. How many?")
    assert (await learner.validator.validate(req, good, 0.0)).accepted is False
    learner.swap(_policy(0.6))  # the next certified policy starts its own check
    assert learner.validator.hold is None and learner.monitor is not None and not learner.monitor.alarm
    await learner.aclose()


def test_direct_policy_is_constant_and_round_trips(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = Policy(groups={"*": Group(ConstantModel(0.0), "escalate_all", 0)}, name="direct")
    path = tmp_path / "p.json"
    p.save(path)
    assert Policy.load(path).groups["*"].threshold == "escalate_all"
    sig = _policy(0.7)
    sig.save(path)
    back = Policy.load(path)
    assert isinstance(back.groups["*"].model, SignalModel) and back.decide("What is 2+2?", "#### 4").policy
