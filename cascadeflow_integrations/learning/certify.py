"""Certified operating points: Learn-then-Test with betting p-values, and the live check that keeps them true.

For a labelled request i with draft quality d_i, strong quality s_i (in [0, 1]) and weight w_i, a rule
that accepts the draft (a_i = 1) or not has the loss

    L_i = w_i * (a_i * (s_i - d_i) - (1 - target) * s_i)

and "quality share >= target" is exactly E[L] <= 0. Every threshold of a scorer is one null hypothesis
H0(t): E[L(t)] > 0. Its p-value comes from a betting martingale: the capital of a gambler who bets against
the loss at a fixed fraction lam, averaged over a fixed grid of fractions (an average of test martingales
is one), p = 1 / capital (Markov). This is a Waudby-Smith-Ramdas betting bound with a fixed prior over
bets: valid for any n, no normal approximation, and tight when the loss has little variance (most
requests lose nothing). Thresholds are tested from strict to loose and testing stops at the first that
is not rejected (fixed-sequence testing, Angelopoulos et al. 2021): every threshold passed is certified
at level delta together, with no correction. Several scorers share delta (Bonferroni).

Why not MAPIE's `risk_control`: it certifies a loss averaged per example with Hoeffding-Bentkus or
binomial p-values of a [0, 1] loss; our loss is a signed difference against the strong model (a draft
that beats a wrong strong answer earns credit), weighted by shadow sampling, and the same martingale
must also run live, one label at a time (`GuaranteeMonitor`). The computation is a few numpy lines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: Bet fractions (times 1/max loss): a geometric grid; the average over it loses at most log(len) nats
#: of evidence against the best single fraction in hindsight.
LAMBDA_GRID = tuple(0.9 * 0.72**k for k in range(16))


def _np() -> Any:
    import numpy as np

    return np


def losses(dq: Any, sq: Any, w: Any, acc: Any, target: float, conservative: bool = False) -> Any:
    """(n, T) losses of T accept patterns `acc` (n, T booleans). `conservative`: no credit for a draft
    better than the strong answer, so the bound then holds whatever share is routed direct (skip rule)."""
    np = _np()
    diff = sq - dq
    if conservative:
        diff = np.maximum(diff, 0.0)
    return w[:, None] * (acc * diff[:, None] - (1.0 - target) * sq[:, None])


def log_capital(x: Any, hi: float) -> Any:
    """log of the capital of betting against the loss, averaged over `LAMBDA_GRID` (x: (n, T), x <= hi)."""
    np = _np()
    lams = np.asarray(LAMBDA_GRID) / max(hi, 1e-12)
    # (G, T): sum over examples of log(1 - lam * x); 1 - lam * x >= 0.1 > 0 since lam * x <= 0.9
    logk = np.stack([np.log1p(-lam * x).sum(axis=0) for lam in lams])
    m = logk.max(axis=0)
    return m + np.log(np.exp(logk - m).mean(axis=0))


def pvalues(x: Any, hi: float) -> Any:
    """p-values of H0: E[loss] > 0, one per column of `x`."""
    np = _np()
    return np.minimum(1.0, np.exp(-log_capital(x, hi)))


def fixed_sequence(p: Any, delta: float) -> int:
    """How many hypotheses, tested in order, are rejected at `delta` before the first that is not."""
    for k, v in enumerate(p):
        if v > delta:
            return k
    return len(p)


def labels_needed(x: Any, hi: float, delta: float, have: int) -> int | None:
    """Labels the same loss distribution would need for its p-value to reach `delta` (None: never, it loses)."""
    np = _np()
    lams = np.asarray(LAMBDA_GRID) / max(hi, 1e-12)
    growth = max(float(np.log1p(-lam * x).mean()) for lam in lams)
    if growth <= 0:
        return None
    return max(have + 1, math.ceil((math.log(1.0 / delta) + math.log(len(lams))) / growth))


def lower_bound(dq: Any, sq: Any, w: Any, acc: Any, delta: float, conservative: bool = False) -> float:
    """The largest target the accept pattern `acc` (n,) is certified for at `delta` (bisection on the p-value)."""
    np = _np()
    acc = np.asarray(acc, dtype=float)[:, None]
    lo, hi_t = 0.0, 1.5
    for _ in range(30):
        mid = (lo + hi_t) / 2
        x = losses(dq, sq, w, acc, mid, conservative)
        if float(pvalues(x, loss_cap(w, mid))[0]) <= delta:
            lo = mid
        else:
            hi_t = mid
    return lo


def loss_cap(w: Any, target: float) -> float:
    """The largest loss one request can carry: a weighted accepted draft worth nothing against a perfect answer."""
    return float(max(w)) * max(target, 1e-6) if len(w) else 1.0


def thresholds_for(scores: Any, most: int = 200) -> list[float]:
    """Candidate thresholds from strict to loose: the distinct scores (>= 0), thinned to `most` by quantiles.

    They depend on the scores only, never on the labels, so testing them in this order is a fixed sequence."""
    np = _np()
    s = np.asarray(scores, dtype=float)
    vals = np.unique(s[s >= 0])
    if len(vals) > most:
        vals = np.unique(np.quantile(vals, np.linspace(0.0, 1.0, most)))
    return [float(v) for v in sorted({*vals.tolist(), 0.0}, reverse=True)]


@dataclass
class Certified:
    """The cheapest threshold of one scorer whose promise is certified, and the evidence for it."""

    thresholds: list[float]
    p_values: list[float]
    #: how many thresholds (strict first) are certified; 0: none, the scorer saves nothing safely
    passed: int
    #: index of the cheapest certified threshold (None when none is)
    best: int | None
    costs: list[float]
    labels_needed: int | None = None

    @property
    def threshold(self) -> float | None:
        return None if self.best is None else self.thresholds[self.best]


def certify_threshold(
    scores: Any,
    dq: Any,
    sq: Any,
    w: Any,
    dc: Any,
    sc: Any,
    target: float,
    delta: float,
    *,
    thresholds: Sequence[float] | None = None,
    prompt_mode: bool = False,
    conservative: bool = False,
    mask: Any = None,
) -> Certified:
    """Fixed-sequence testing of "accept when score >= t" from strict to loose, at level `delta`.

    A request with a draft scoring below t escalates (pays draft and strong; `prompt_mode`: goes direct,
    pays strong only). `mask` limits the rule to some requests (one complexity level): the others carry no
    loss here, so certifying each level at delta / levels certifies them all together."""
    np = _np()
    ts = list(thresholds) if thresholds is not None else thresholds_for(scores)
    s = np.asarray(scores, dtype=float)
    acc = s[:, None] >= np.asarray(ts)[None, :]
    x = losses(dq, sq, w, acc, target, conservative)
    if mask is not None:
        x = x * np.asarray(mask, dtype=float)[:, None]
    hi = loss_cap(w, target)
    p = pvalues(x, hi)
    passed = fixed_sequence(p, delta)
    rejected = sc[:, None] if prompt_mode else (dc + sc)[:, None]
    cost_rows = np.where(acc, dc[:, None], rejected)
    if mask is not None:
        cost_rows = cost_rows * np.asarray(mask, dtype=float)[:, None]
    costs = w @ cost_rows
    best = int(np.argmin(costs[:passed])) if passed else None
    needed = None
    if not passed:
        full = float(w @ (sc if mask is None else sc * np.asarray(mask, dtype=float)))  # all sent direct
        for j in range(len(ts)):
            if costs[j] < full:
                m = labels_needed(x[:, j], hi, delta, len(s))
                if m is not None and (needed is None or m < needed):
                    needed = m
    return Certified(ts, [float(v) for v in p], passed, best, [float(c) for c in costs], needed)


# ---- live: the guarantee keeps being true ---------------------------------------------------


@dataclass
class GuaranteeMonitor:
    """An anytime-valid check of a policy's promise on the labels its own decisions produce.

    Each label event adds x = weight * (accepted * (s - d) - (1 - target) * s): an escalated or direct
    request (labelled for free, weight 1), or an accepted draft labelled by a shadow call (weight
    1/shadow_rate, so the events stand for all traffic). Under "the promise holds" (E[x] <= 0) the capital
    of betting *for* the loss is a nonnegative supermartingale, so by Ville's inequality it ever reaches
    1/delta with probability at most delta, however often it is looked at. Reaching it raises the alarm.
    """

    target: float
    delta: float
    #: the most negative x an event can carry (sets the largest safe bet)
    floor: float = 1.0
    n: int = 0
    alarm: bool = False
    _logk: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._logk = [0.0] * len(LAMBDA_GRID)

    def update(self, accepted: bool, draft_quality: float, strong_quality: float, weight: float = 1.0) -> bool:
        """Add one label; True when this label raised the alarm."""
        x = weight * ((strong_quality - draft_quality if accepted else 0.0) - (1.0 - self.target) * strong_quality)
        # x >= -weight: a bet sized by the weight (known before the label) keeps 1 + bet * x > 0
        scale = min(1.0, self.floor / weight) if weight > 0 else 1.0
        self.n += 1
        for k, lam in enumerate(LAMBDA_GRID):
            self._logk[k] += math.log1p(scale * lam * x / self.floor)
        if not self.alarm and self.log_capital() >= math.log(1.0 / self.delta):
            self.alarm = True
            return True
        return False

    def log_capital(self) -> float:
        m = max(self._logk)
        return m + math.log(sum(math.exp(v - m) for v in self._logk) / len(self._logk))

    def state(self) -> dict[str, Any]:
        return {"labels": self.n, "alarm": self.alarm, "evidence": round(math.exp(min(50.0, self.log_capital())), 4),
                "alarm_at": round(1.0 / self.delta, 4), "target_quality": self.target}


def quality_share(dq: Sequence[float], sq: Sequence[float], acc: Sequence[bool], w: Sequence[float]) -> float:
    num = sum(wi * (d if a else s) for d, s, a, wi in zip(dq, sq, acc, w))
    den = sum(wi * s for s, wi in zip(sq, w))
    return num / den if den > 0 else 1.0
