"""Offline replay of recorded traffic as a stream: start from the shipped defaults with an empty log,
collect labels as a live agent would (escalations, shadow calls at `shadow_rate`), refit every N
labels, and measure cumulative quality and cost (shadow calls included) against always-strong.

Used by `bench/learning.py` and the demo. Each record carries two labels: what the learner may see
(`learn`: agreement with the strong answer, a judge score, or a recorded label) and the truth the
results are scored on (`truth`: the recorded correctness or judge score).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..quality.thresholds import Thresholds
from .fit import Example, NotEnoughLabels, RecordView, fit_examples, read_record
from .policy import Policy


@dataclass(slots=True)
class StreamItem:
    view: RecordView
    #: what a label says about the draft and the strong answer (None: no label can be had for free)
    learn: tuple[float, float] | None
    #: the recorded truth (draft quality, strong quality) the results are scored on
    truth: tuple[float, float]
    default_accept: bool
    default_direct: bool


@dataclass
class ReplayResult:
    #: per request: cumulative (quality share, cost share) of always-strong, for the learner and the defaults
    learned: list[tuple[float, float]] = field(default_factory=list)
    static: list[tuple[float, float]] = field(default_factory=list)
    #: (request index, policy) after each successful refit
    policies: list[tuple[int, Policy]] = field(default_factory=list)
    labels: list[Example] = field(default_factory=list)
    shadow_cost: float = 0.0
    shadow_calls: int = 0
    refit_refusals: int = 0

    @property
    def final(self) -> Policy | None:
        return self.policies[-1][1] if self.policies else None

    def policy_at(self, i: int) -> Policy | None:
        """The policy in force after `i` requests."""
        out = None
        for j, p in self.policies:
            if j <= i:
                out = p
        return out


def prepare(
    records: Sequence[Mapping[str, Any]],
    learn: Callable[[Mapping[str, Any], RecordView], tuple[float, float] | None],
    truth: Callable[[Mapping[str, Any]], tuple[float, float]],
    thresholds: Thresholds | None = None,
    direct: Sequence[str] = ("expert",),
) -> list[StreamItem]:
    """Read every record once, with the static default decision (`default_validator()` and `Thresholds()`)."""
    th = thresholds or Thresholds()
    out = []
    for rec in records:
        v = read_record(rec)
        ok = bool(v.checks) and all(c.passed for c in v.checks)
        score = math.prod(max(0.0, min(1.0, c.score)) for c in v.checks)
        out.append(StreamItem(v, learn(rec, v), truth(rec), ok and score >= th.for_(v.complexity),
                              v.complexity in direct))
    return out


def decide(policy: Policy | None, it: StreamItem) -> tuple[bool, bool]:
    """(skipped the draft, draft accepted) for one request under a policy (None: the static defaults)."""
    v = it.view
    if policy is None:
        if it.default_direct:
            return True, False
        return False, v.feats is None or it.default_accept
    if policy.skip is not None and policy.skip.skips(policy.skip.model.predict(v.prompt_feats)):
        return True, False
    if v.feats is None:
        return False, True
    return False, policy.decide_features(v.kind, v.checks, v.feats).accepted


def score(policy: Policy | None, items: Sequence[StreamItem], as_learned: bool = False) -> dict[str, float]:
    """Quality and cost shares of always-strong on `items` (no shadow calls: a held-out tail).

    Quality is the recorded truth, or with `as_learned` what the learner's labels say (items without one skipped).
    """
    q = c = sq = sc = esc = sk = 0.0
    if as_learned:
        items = [it for it in items if it.learn is not None]
    for it in items:
        skipped, accepted = decide(policy, it)
        dq, tq = it.learn if as_learned and it.learn is not None else it.truth
        v = it.view
        sq, sc = sq + tq, sc + v.strong_cost
        if skipped:
            q, c, sk = q + tq, c + v.strong_cost, sk + 1
        elif accepted:
            q, c = q + dq, c + v.draft_cost
        else:
            q, c, esc = q + tq, c + v.draft_cost + v.strong_cost, esc + 1
    n = max(1, len(items))
    return {"quality_share": q / (sq or 1.0), "cost_share": c / (sc or 1.0), "escalation_share": esc / n,
            "skip_share": sk / n, "n": len(items)}


def oracle(items: Sequence[StreamItem]) -> dict[str, float]:
    """Accept exactly the drafts at least as good as the strong answer (it needs the truth, so it is a bound)."""
    q = c = sq = sc = 0.0
    for it in items:
        dq, tq = it.truth
        sq, sc = sq + tq, sc + it.view.strong_cost
        if dq >= tq:
            q, c = q + dq, c + it.view.draft_cost
        else:
            q, c = q + tq, c + it.view.draft_cost + it.view.strong_cost
    return {"quality_share": q / (sq or 1.0), "cost_share": c / (sc or 1.0)}


def replay(
    items: Sequence[StreamItem],
    target_quality: float = 0.95,
    shadow_rate: float = 0.05,
    refit_every: int = 100,
    seed: int = 0,
    **fit_kw: Any,
) -> ReplayResult:
    """Serve `items` in order as a live agent with `decision_log`, `shadow_rate` and refits would."""
    rnd = random.Random(seed)
    fit_kw.setdefault("report_folds", 0)  # a refit inside a replay needs no nested report of its own
    out = ReplayResult()
    policy: Policy | None = None
    q = c = sq = sc = 0.0
    qs = cs = 0.0
    since = 0
    for i, it in enumerate(items):
        v = it.view
        dq, tq = it.truth
        sq, sc = sq + tq, sc + v.strong_cost
        # the static defaults, for the comparison curve
        s_skip, s_acc = decide(None, it)
        if s_skip:
            qs, cs = qs + tq, cs + v.strong_cost
        elif s_acc:
            qs, cs = qs + dq, cs + v.draft_cost
        else:
            qs, cs = qs + tq, cs + v.draft_cost + v.strong_cost
        skipped, accepted = decide(policy, it)
        label: Example | None = None
        if skipped:
            q, c = q + tq, c + v.strong_cost
            # A request routed direct has no draft to label; a shadow draft keeps the skip rule honest
            # (without it, what is skipped would never be learned again).
            if shadow_rate > 0 and rnd.random() < shadow_rate:
                out.shadow_calls += 1
                out.shadow_cost += v.draft_cost
                c += v.draft_cost
                if it.learn is not None:
                    label = _example(it, 1.0 / shadow_rate, False)
        elif accepted:
            q, c = q + dq, c + v.draft_cost
            if shadow_rate > 0 and rnd.random() < shadow_rate:
                out.shadow_calls += 1
                out.shadow_cost += v.strong_cost
                c += v.strong_cost  # shadow cost counts against the cascade here
                if it.learn is not None:
                    label = _example(it, 1.0 / shadow_rate, True)
        else:
            q, c = q + tq, c + v.draft_cost + v.strong_cost
            if it.learn is not None:
                label = _example(it, 1.0, False)
        out.learned.append((q / (sq or 1.0), c / (sc or 1.0)))
        out.static.append((qs / (sq or 1.0), cs / (sc or 1.0)))
        if label is not None:
            out.labels.append(label)
            since += 1
        if since >= refit_every:
            since = 0
            try:
                policy = fit_examples(out.labels, target_quality, seed=seed, **fit_kw)
                out.policies.append((i + 1, policy))
            except NotEnoughLabels:
                out.refit_refusals += 1
    return out


def _example(it: StreamItem, weight: float, accepted: bool) -> Example:
    v = it.view
    assert it.learn is not None
    dq, sq = it.learn
    return Example(v.kind, v.feats, v.prompt_feats, dq, sq, v.draft_cost, v.strong_cost, v.vetoed, weight=weight,
                   served_accepted=accepted)


def synthetic_records(n: int = 800, seed: int = 0) -> list[dict[str, Any]]:
    """A made-up stream for the demo when the recorded data is not beside the repo: word problems whose
    drafts slip on the harder ones (more numbers), and a strong model that is always right."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        k = rnd.randint(2, 6)
        nums = [rnd.randint(2, 60) for _ in range(k)]
        total = sum(nums)
        prompt = (f"A shop sells {', '.join(map(str, nums[:-1]))} and {nums[-1]} items on {k} days of week {i}. "
                  "How many items does it sell in total?")
        wrong = rnd.random() < 0.08 * k
        shown = total + rnd.choice((-2, -1, 1, 3)) if wrong else total
        if wrong and rnd.random() < 0.5:
            draft = f"Adding them: {' + '.join(map(str, nums))} = {shown}.\n#### {shown}"
        elif wrong:
            draft = f"It sells about {shown} items, I think."
        else:
            draft = f"{' + '.join(map(str, nums))} = {total}.\n#### {total}"
        out.append({"prompt": prompt, "draft": draft, "strong": f"The total is {total}.\n#### {total}",
                    "draft_correct": not wrong, "strong_correct": True,
                    "input_tokens": 20 + 3 * k, "draft_tokens": 8 + 4 * k, "strong_tokens": 10 + 4 * k})
    return out
