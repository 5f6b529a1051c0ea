"""Certified operating points: Learn-then-Test over thresholds, and the live check that keeps them true.

For a labelled request with draft quality d, strong quality s (in [0, 1]) and a rule that accepts the
draft (a = 1) or not, the quality share keeps `target` when E[a (s - d)] <= (1 - target) E[s].

Every threshold t of a scorer is one null hypothesis H0(t): the promise fails at t. Its p-value:
- unweighted 0/1 labels: exact binomial (Clopper-Pearson) bounds on three shares, joined by the union
  bound: right strong answers that t replaces by a wrong draft, right strong answers at all, and wrong
  strong answers that t replaces by a right draft (the credit such drafts earn);
- unweighted scores: Hoeffding-Bentkus (MAPIE) on a [0, 1] loss, with no credit for a draft better than
  the strong answer (a little conservative);
- weighted labels (shadow labels stand for 1/shadow_rate requests): a betting martingale (Waudby-Smith
  and Ramdas), which adapts to the variance the weights bring, also without credit.
A skip rule (send a request direct) gives up nothing but credit, so the credit is counted only where
no candidate skip rule could send the request direct: every such rule is then certified too.
Thresholds are tested from strict to loose and testing stops at the first that is not rejected
(fixed-sequence testing): every threshold passed is certified at level delta together, with no
correction. Several scorers share delta (Bonferroni). Hoeffding-Bentkus comes from MAPIE
(`mapie.risk_control`, the `[learn]` extra); MAPIE's controllers are not used because they certify
a classifier's own risks, while ours is a cascade's loss against a second model's labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: Bet fractions (times 1/max loss) of the betting martingale: a geometric grid; the average over it loses
#: at most log(len) nats of evidence against the best single fraction in hindsight.
LAMBDA_GRID = tuple(0.9 * 0.72**k for k in range(16))


def _np() -> Any:
    import numpy as np

    return np


def _hb(r_hat: Any, n_obs: float, alpha: float, binary: bool) -> Any:
    try:
        from mapie.risk_control.methods import compute_hoeffding_bentkus_p_value  # type: ignore[import-untyped]
    except ImportError:
        raise ImportError("certifying a threshold needs MAPIE: pip install 'cascadeflow-integrations[learn]'") from None
    np = _np()
    if n_obs <= 0:
        return np.ones(len(r_hat))
    r = np.asarray(r_hat, dtype=float)
    return compute_hoeffding_bentkus_p_value(r, np.full(len(r), float(round(n_obs))), alpha, binary=binary)[:, 0]


def losses(dq: Any, sq: Any, w: Any, acc: Any, target: float) -> Any:
    """(n, T) losses of T accept patterns `acc` (n, T booleans): quality given up minus the allowance."""
    np = _np()
    gap = np.maximum(sq - dq, 0.0)
    return w[:, None] * (acc * gap[:, None] - (1.0 - target) * sq[:, None])


def method_for(dq: Any, sq: Any, w: Any) -> str:
    """Which p-value the labels allow (see the module docstring)."""
    np = _np()
    if not np.all(w == 1.0):
        return "betting"
    binary = np.all((dq == 0) | (dq == 1)) and np.all((sq == 0) | (sq == 1))
    return "binomial" if binary else "hoeffding-bentkus"


#: How a binomial test's error is shared between its three bounds (fixed before any label is seen): the
#: share of right strong answers whose draft is wrongly accepted, the share of strong answers that are
#: right at all, and the share of wrong strong answers a right draft replaces (the credit).
_SPLIT = (0.6, 0.2, 0.2)


def _binomial_test(dq: Any, sq: Any, acc: Any, target: float, delta: Any, credit: Any, scale: float) -> Any:
    """Per column of `acc`: does the promise hold at level `delta` (boolean)? Exact binomial bounds.

    With pi = P(strong right), pA = P(draft accepted and wrong | strong right) and pB = P(draft accepted and
    right | strong wrong), the quality share keeps the target iff pA <= (1 - target) + pB (1 - pi) / pi.
    Clopper-Pearson bounds (pA from above, pi from above, pB from below) at shares of delta make it a
    level-delta test by the union bound; `credit` marks where pB may be counted (never-skipped requests)."""
    from scipy.stats import beta  # type: ignore[import-untyped]

    np = _np()
    right = sq == 1.0
    m = max(1, int(round(right.sum() * scale)))
    n0 = int(round((~right).sum() * scale))
    k_a = np.round((acc[right] & (dq[right] == 0.0)[:, None]).sum(axis=0) * scale)
    k_b = np.round((acc[~right] & ((dq[~right] == 1.0) & credit[~right])[:, None]).sum(axis=0) * scale)
    da, dp, db = (delta * f for f in _SPLIT)
    pa_hi = np.where(k_a >= m, 1.0, beta.ppf(1.0 - da, k_a + 1, np.maximum(m - k_a, 1e-9)))
    pi_hi = beta.ppf(1.0 - dp, m + 1, n0) if n0 else 1.0
    pb_lo = np.where(k_b <= 0, 0.0, beta.ppf(db, np.maximum(k_b, 1e-9), n0 - k_b + 1)) if n0 else np.zeros_like(k_a)
    return pa_hi <= (1.0 - target) + pb_lo * (1.0 - pi_hi) / np.maximum(pi_hi, 1e-12)


def pvalues(dq: Any, sq: Any, w: Any, acc: Any, target: float, scale: float = 1.0, credit: Any = None) -> Any:
    """p-values of H0: the promise fails, one per accept pattern (column of `acc`).

    `scale` pretends there were `scale` times as many labels with the same mix (to say how many a
    saving would need); `credit` (binomial labels) marks the requests whose right drafts may count for
    a wrong strong answer (default: all)."""
    np = _np()
    acc = np.asarray(acc, dtype=bool)
    if target >= 1.0 and method_for(dq, sq, w) != "binomial":
        return np.where(acc.any(axis=0), 1.0, 0.0)
    method = method_for(dq, sq, w)
    if method == "binomial":
        credit = np.ones(len(dq), dtype=bool) if credit is None else np.asarray(credit, dtype=bool)
        # the p-value: the smallest level at which the test rejects (it rejects more as the level grows)
        lo, hi = np.full(acc.shape[1], 1e-12), np.ones(acc.shape[1])
        ok_at_1 = _binomial_test(dq, sq, acc, target, 1.0 - 1e-12, credit, scale)
        for _ in range(40):
            mid = np.sqrt(lo * hi)
            ok = _binomial_test(dq, sq, acc, target, mid, credit, scale)
            hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
        return np.where(ok_at_1, hi, 1.0)
    if method == "hoeffding-bentkus":
        span = 2.0 - target
        z = (losses(dq, sq, w, acc, target) + (1.0 - target)) / span  # in [0, 1]
        return _hb(z.mean(axis=0), len(dq) * scale, (1.0 - target) / span, binary=False)
    x = losses(dq, sq, w, acc, target)
    return np.exp(-np.clip(scale * log_capital(x, loss_cap(w, target)), 0.0, 700.0))


def holds(dq: Any, sq: Any, w: Any, acc: Any, target: float, delta: float, scale: float = 1.0,
          credit: Any = None) -> Any:
    """Per column of `acc`: is H0 (the promise fails) rejected at level `delta`? One pass, no p-value search."""
    np = _np()
    acc = np.asarray(acc, dtype=bool)
    if method_for(dq, sq, w) == "binomial":
        credit = np.ones(len(dq), dtype=bool) if credit is None else np.asarray(credit, dtype=bool)
        return _binomial_test(dq, sq, acc, target, delta, credit, scale)
    return pvalues(dq, sq, w, acc, target, scale, credit) <= delta


def log_capital(x: Any, hi: float) -> Any:
    """log of the capital of betting against the loss, averaged over `LAMBDA_GRID` (x: (n, T), x <= hi)."""
    np = _np()
    lams = np.asarray(LAMBDA_GRID) / max(hi, 1e-12)
    # (G, T): sum over examples of log(1 - lam * x); 1 - lam * x >= 0.1 > 0 since lam * x <= 0.9
    logk = np.stack([np.log1p(-lam * x).sum(axis=0) for lam in lams])
    m = logk.max(axis=0)
    return m + np.log(np.exp(logk - m).mean(axis=0))


def loss_cap(w: Any, target: float) -> float:
    """The largest loss one request can carry: a weighted accepted draft worth nothing against a perfect answer."""
    return float(max(w)) * max(target, 1e-6) if len(w) else 1.0


def labels_needed(dq: Any, sq: Any, w: Any, acc: Any, target: float, delta: float, credit: Any = None) -> int | None:
    """Labels the same mix would need for the accept pattern `acc` (n, 1) to certify (None: never)."""
    n = len(dq)
    if not holds(dq, sq, w, acc, target, delta, 1000.0, credit)[0]:
        return None  # even a thousand times as many labels like these would not: the point itself misses
    lo, hi = 1.0, 1000.0
    for _ in range(40):
        mid = math.sqrt(lo * hi)
        if holds(dq, sq, w, acc, target, delta, mid, credit)[0]:
            hi = mid
        else:
            lo = mid
    return max(n + 1, math.ceil(hi * n))


def lower_bound(dq: Any, sq: Any, w: Any, acc: Any, delta: float, credit: Any = None) -> float:
    """The largest target the accept pattern `acc` (n,) is certified for at `delta` (bisection on the p-value)."""
    np = _np()
    acc = np.asarray(acc, dtype=bool)[:, None]
    lo, hi_t = 0.0, 1.5
    for _ in range(30):
        mid = (lo + hi_t) / 2
        if holds(dq, sq, w, acc, mid, delta, credit=credit)[0]:
            lo = mid
        else:
            hi_t = mid
    return lo


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
    #: the p-value of the chosen threshold (NaN elsewhere: the fixed sequence only needs each test's verdict)
    p_values: list[float]
    #: how many thresholds (strict first) are certified; 0: none, the scorer saves nothing safely
    passed: int
    #: index of the cheapest certified threshold (None when none is)
    best: int | None
    costs: list[float]
    method: str
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
    mask: Any = None,
    credit: Any = None,
) -> Certified:
    """Fixed-sequence testing of "accept when score >= t" from strict to loose, at level `delta`.

    A request with a draft scoring below t escalates (pays draft and strong; `prompt_mode`: goes direct,
    pays strong only). `mask` limits the rule to some requests (one complexity level), certified on those
    requests alone, so certifying each level at delta / levels certifies them all together."""
    np = _np()
    ts = list(thresholds) if thresholds is not None else thresholds_for(scores)
    s = np.asarray(scores, dtype=float)
    acc = s[:, None] >= np.asarray(ts)[None, :]
    sel = slice(None)
    if mask is not None:
        sel = np.asarray(mask, dtype=bool)  # the group keeps the target on its own requests
        acc = acc & sel[:, None]
        if credit is not None:
            credit = np.asarray(credit, dtype=bool)[sel]
    ok = holds(dq[sel], sq[sel], w[sel], acc[sel], target, delta, credit=credit)
    passed = len(ts) if ok.all() else int(np.argmin(ok))  # fixed sequence: up to the first not rejected
    rejected = sc[:, None] if prompt_mode else (dc + sc)[:, None]
    cost_rows = np.where(acc, dc[:, None], rejected)
    if mask is not None:
        cost_rows = cost_rows * np.asarray(mask, dtype=float)[:, None]
    costs = w @ cost_rows
    best = int(np.argmin(costs[:passed])) if passed else None
    p = [math.nan] * len(ts)
    if best is not None:
        p[best] = float(pvalues(dq[sel], sq[sel], w[sel], acc[sel][:, best:best + 1], target, credit=credit)[0])
    needed = None
    if not passed:
        full = float(w @ (sc if mask is None else sc * np.asarray(mask, dtype=float)))  # all sent direct
        saving = [j for j in range(len(ts)) if costs[j] < full]
        # the loosest pattern that saves and whose point estimate keeps the target says what labels buy
        for j in saving[::-1]:
            m = labels_needed(dq[sel], sq[sel], w[sel], acc[sel][:, j:j + 1], target, delta, credit)
            if m is not None:
                needed = m if needed is None else min(needed, m)
                break
    return Certified(ts, p, passed, best, [float(c) for c in costs], method_for(dq, sq, w), needed)


# ---- live: the guarantee keeps being true ---------------------------------------------------


@dataclass
class GuaranteeMonitor:
    """An anytime-valid check of a policy's promise on the labels its own decisions produce.

    Each label event adds x = weight * (accepted * max(s - d, 0) - (1 - target) * s): an escalated or
    direct request (labelled for free, weight 1), or an accepted draft labelled by a shadow call (weight
    1/shadow_rate, so the events stand for all traffic). While the promise holds (E[x] <= 0), the capital
    of betting *on* the loss is a nonnegative supermartingale, so by Ville's inequality it ever reaches
    1/delta with probability at most delta, however often it is looked at. Reaching it raises the alarm.
    """

    target: float
    delta: float
    #: the largest weight a label is expected to carry (1/shadow_rate); heavier ones are bet on less
    max_weight: float = 1.0
    n: int = 0
    alarm: bool = False
    _logk: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._logk = [0.0] * len(LAMBDA_GRID)

    def update(self, accepted: bool, draft_quality: float, strong_quality: float, weight: float = 1.0) -> bool:
        """Add one label; True when this label raised the alarm."""
        gap = max(strong_quality - draft_quality, 0.0) if accepted else 0.0
        x = weight * (gap - (1.0 - self.target) * strong_quality)
        # x >= -weight * (1 - target): bets sized by the weight (known before the label) keep 1 + bet * x > 0
        floor = self.max_weight * max(1.0 - self.target, 1e-6)
        scale = min(1.0, self.max_weight / weight) if weight > 0 else 1.0
        self.n += 1
        for k, lam in enumerate(LAMBDA_GRID):
            self._logk[k] += math.log1p(scale * lam * x / floor)
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
