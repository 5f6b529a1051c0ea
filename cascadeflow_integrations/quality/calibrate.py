"""Threshold calibration on recorded drafts: keep a target share of the strong model's quality at least cost.

    python -m cascadeflow_integrations.quality.calibrate data.csv --target 0.95

Records (dicts or CSV rows): prompt, draft, draft_correct|draft_score, strong_correct|strong_score, and
optionally draft_tokens / strong_tokens (output tokens), input_tokens, draft_price / strong_price
((in, out) USD per 1M tokens), complexity, and recorded model-check data: samples (other answers of
the draft model: a list, or a JSON list in CSV) and self_check (P(yes), or a list of verdicts).
Missing token counts are estimated as text length / 4.

Choosing the cheapest threshold that just reaches the target on the fit split overfits: of all the
thresholds tried, the one picked is the one whose fit-split quality happened to come out high (on GSM8K
it lost ~2 points on held-out data). The default method therefore asks the target of a bootstrap lower
confidence bound of the quality share, not of the point estimate. See `choose_threshold_robust`.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import csv
import io
import logging
import math
import random
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._sync import run_sync
from .base import COMPLEXITIES, Draft, ValidationRequest, Validator
from .routellm import (
    CHEAP_MODEL,
    PRICES_PER_M,
    STRONG_MODEL,
    est_tokens,
    routellm_row_to_record,
)
from .thresholds import Thresholds

try:  # numpy makes the bootstrap ~50x faster; the pure-Python path gives the same kind of answer
    import numpy as _np
except ImportError:  # pragma: no cover - exercised via the `use_numpy=False` tests
    _np = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

DEFAULT_DRAFT_PRICE = PRICES_PER_M[CHEAP_MODEL]
DEFAULT_STRONG_PRICE = PRICES_PER_M[STRONG_MODEL]
#: Above every score (validator scores are in [0, 1], but callers may sweep any score): escalate every draft.
ESCALATE_ALL = float("inf")
Method = Literal["bootstrap", "point"]


@dataclass(slots=True)
class Item:
    """One recorded request, normalised: qualities and the cost of each model's answer."""

    prompt: str
    draft: str
    draft_quality: float
    strong_quality: float
    draft_cost: float
    strong_cost: float
    category: str = ""
    complexity: str = ""  # as given in the record; classified by the router when empty
    samples: list[str] | None = None
    self_check: float | list[bool | str] | None = None


@dataclass(slots=True)
class Point:
    """The cascade at one threshold, relative to always using the strong model."""

    threshold: float
    quality_share: float
    escalation_share: float
    cost_share: float


@dataclass(slots=True)
class CalibrationResult:
    """The chosen threshold(s), fit and held-out operating points, and the held-out trade-off curve.

    `threshold` is the one global threshold; `thresholds` is what to give an agent
    (`CascadeAgent(quality_threshold=result.thresholds.to_dict())`): every level at the global threshold,
    or per level with `per_complexity=True`. Levels in `escalate_all` had no threshold reaching the
    target; `thresholds` holds 1.0 for them, but the faithful setting is to route them direct
    (`Router(direct_complexities=...)`), since a draft scoring exactly 1.0 would still be accepted.
    """

    threshold: float
    target_quality: float
    fit: Point
    heldout: Point
    oracle: Point
    curve: list[Point]
    n_fit: int
    n_heldout: int
    notes: list[str] = field(default_factory=list)
    method: str = "bootstrap"
    confidence: float = 0.0
    #: The bootstrap lower bound of the fit-split quality share at `threshold` (the point estimate for "point").
    fit_quality_lower: float = float("nan")
    thresholds: Thresholds = field(default_factory=Thresholds)
    per_level: dict[str, float] = field(default_factory=dict)
    level_counts: dict[str, int] = field(default_factory=dict)
    escalate_all: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def p(x: Point) -> dict[str, float]:
            return {
                k: round(getattr(x, k), 4) for k in ("threshold", "quality_share", "escalation_share", "cost_share")
            }

        return {
            "threshold": self.threshold,
            "target_quality": self.target_quality,
            "method": self.method,
            "confidence": self.confidence,
            "fit_quality_lower": round(self.fit_quality_lower, 4),
            "thresholds": self.thresholds.to_dict(),
            "per_level": dict(self.per_level),
            "level_counts": dict(self.level_counts),
            "escalate_all": list(self.escalate_all),
            "fit": p(self.fit),
            "heldout": p(self.heldout),
            "oracle": p(self.oracle),
            "curve": [p(c) for c in self.curve],
            "n_fit": self.n_fit,
            "n_heldout": self.n_heldout,
            "notes": self.notes,
        }


def _quality(rec: Mapping[str, Any], side: str) -> float:
    for key in (f"{side}_score", f"{side}_correct"):
        v = rec.get(key)
        if v is None or v == "":
            continue
        if isinstance(v, str):
            low = v.strip().lower()
            if low in ("true", "false", "yes", "no"):
                return 1.0 if low in ("true", "yes") else 0.0
            return float(v)
        return float(v)
    raise ValueError(f"record has neither {side}_correct nor {side}_score: {sorted(rec)}")


def _price(v: Any, default: tuple[float, float]) -> tuple[float, float]:
    if v is None or v == "":
        return default
    if isinstance(v, (int, float, str)):
        x = float(v)
        return (x, x)
    a, b = v
    return (float(a), float(b))


def _recorded_list(v: Any, key: str) -> list[Any] | None:
    if v is None or v == "":
        return None
    if isinstance(v, str):
        import json

        try:
            v = json.loads(v)
        except ValueError:
            raise ValueError(f"record field {key!r} must be a list (a JSON list in CSV), got {v[:60]!r}") from None
    if not isinstance(v, (list, tuple)):
        raise ValueError(f"record field {key!r} must be a list, got {type(v).__name__}")
    return list(v)


def _recorded_self_check(v: Any) -> float | list[bool | str] | None:
    if v is None or v == "":
        return None
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            pass
    return _recorded_list(v, "self_check")


def to_items(
    records: Iterable[Mapping[str, Any]],
    draft_price: tuple[float, float] = DEFAULT_DRAFT_PRICE,
    strong_price: tuple[float, float] = DEFAULT_STRONG_PRICE,
) -> tuple[list[Item], list[str]]:
    """Normalised items and notes on any estimation done (token counts from text length)."""
    items, estimated = [], 0
    for rec in records:
        if "draft" not in rec and f"{CHEAP_MODEL}_response" in rec:
            rec = routellm_row_to_record(dict(rec))  # RouteLLM CSV format
        prompt, draft = str(rec["prompt"]), str(rec.get("draft") or "")
        strong = str(rec.get("strong") or "")

        def tok(key: str, text: str) -> int:
            nonlocal estimated
            v = rec.get(key)
            if v is None or v == "":
                estimated += 1
                return est_tokens(text)
            return int(float(v))

        tin = tok("input_tokens", prompt)
        dout = tok("draft_tokens", draft)
        sout = tok("strong_tokens", strong or draft)  # without the strong text, assume a draft-sized answer
        dp, sp = _price(rec.get("draft_price"), draft_price), _price(rec.get("strong_price"), strong_price)
        items.append(
            Item(
                prompt,
                draft,
                _quality(rec, "draft"),
                _quality(rec, "strong"),
                (tin * dp[0] + dout * dp[1]) / 1e6,
                (tin * sp[0] + sout * sp[1]) / 1e6,
                str(rec.get("category", "")),
                str(rec.get("complexity") or ""),
                _recorded_list(rec.get("samples"), "samples"),
                _recorded_self_check(rec.get("self_check")),
            )
        )
    notes = [f"{estimated} token count(s) estimated as text length / 4"] if estimated else []
    return items, notes


async def score_items(items: Sequence[Item], validator: Validator | None = None) -> list[float]:
    """Each draft's validator score (a hard failure scores -1 so no threshold accepts it)."""
    from .compose import default_validator

    if validator is None and any(it.samples is not None or it.self_check is not None for it in items):
        from .offline import recorded_validator

        first = next(it for it in items if it.samples is not None or it.self_check is not None)
        validator = recorded_validator(first.samples, first.self_check)
    v = validator or default_validator()
    out = []
    for it in items:
        req = ValidationRequest.from_prompt(it.prompt)
        req.samples, req.self_check = it.samples, it.self_check
        d = await v.validate(req, Draft(text=it.draft, finish_reason="stop"), 0.0)
        out.append(d.score if d.accepted else -1.0)
    return out


def point(items: Sequence[Item], accepted: Sequence[bool], threshold: float = float("nan")) -> Point:
    """Quality, escalation and cost of a cascade, each as a share of always-strong."""
    q = sum(it.draft_quality if a else it.strong_quality for it, a in zip(items, accepted))
    cost = sum(it.draft_cost + (0.0 if a else it.strong_cost) for it, a in zip(items, accepted))
    sq = sum(it.strong_quality for it in items) or 1.0
    sc = sum(it.strong_cost for it in items) or 1.0
    esc = sum(1 for a in accepted if not a) / max(1, len(items))
    return Point(threshold, q / sq, esc, cost / sc)


def sweep(items: Sequence[Item], scores: Sequence[float], thresholds: Iterable[float]) -> list[Point]:
    return [point(items, [s >= t for s in scores], t) for t in thresholds]


def choose_threshold(items: Sequence[Item], scores: Sequence[float], target_quality: float) -> float:
    """The cheapest threshold whose fit quality share reaches the target (point estimate; overfits).

    Escalate everything (`ESCALATE_ALL`) if none does.
    """
    cands = sorted({s for s in scores if s >= 0} | {0.0})
    best_t, best_cost = ESCALATE_ALL, float("inf")
    for t in cands:
        p = point(items, [s >= t for s in scores], t)
        if p.quality_share >= target_quality and p.cost_share < best_cost:
            best_t, best_cost = t, p.cost_share
    return best_t


def _lower_quantile(values: list[float], q: float) -> float:
    # The same order statistic in both paths, so numpy and pure Python pick the same kind of bound.
    values = sorted(values)
    return values[int(q * (len(values) - 1))]


class _Resamples:
    """Bootstrap resamples of the fit items as per-group prefix sums, so a threshold costs O(B) to score.

    Within a group (a complexity level, or everything), items sorted by score make "accepted at
    threshold t" a prefix; a resample's quality at every threshold is then one cumulative sum of its
    reweighted (draft - strong) qualities. Scores are computed once; resampling only reweights them.
    `n_boot=0` means no resampling: one all-ones weighting, i.e. the plain point estimate.
    """

    def __init__(
        self,
        items: Sequence[Item],
        scores: Sequence[float],
        groups: Sequence[str],
        n_boot: int,
        seed: int,
        use_numpy: bool | None,
    ) -> None:
        n = len(items)
        self.np = _np if (_np is not None and use_numpy is not False) else None
        self.b = max(1, n_boot)
        if n_boot <= 0:
            weights: Any = [[1] * n]
        elif self.np is not None:
            weights = self.np.random.default_rng(seed).multinomial(n, self.np.full(n, 1.0 / n), size=n_boot)
        else:
            rnd, weights = random.Random(seed), []
            for _ in range(n_boot):
                w = [0] * n
                for j in rnd.choices(range(n), k=n):
                    w[j] += 1
                weights.append(w)
        strong = [it.strong_quality for it in items]
        self.sc_total = sum(it.strong_cost for it in items) or 1.0
        self.base_cost = sum(it.draft_cost + it.strong_cost for it in items)
        self.thresholds: dict[str, list[float]] = {}
        self.prefix: dict[str, list[int]] = {}
        self.saved: dict[str, list[float]] = {}  # strong cost saved by accepting each prefix
        self.cum: dict[str, Any] = {}  # (B, n_group + 1) cumulative reweighted quality change
        for g in dict.fromkeys(groups):
            idx = sorted((i for i in range(n) if groups[i] == g), key=lambda i: -scores[i])
            neg = [-scores[i] for i in idx]
            cands = sorted({scores[i] for i in idx if scores[i] >= 0} | {0.0}) + [ESCALATE_ALL]
            self.thresholds[g] = cands
            self.prefix[g] = [bisect.bisect_right(neg, -t) for t in cands]
            saved = [0.0]
            for i in idx:
                saved.append(saved[-1] + items[i].strong_cost)
            self.saved[g] = saved
            delta = [items[i].draft_quality - items[i].strong_quality for i in idx]
            if self.np is not None:
                w = self.np.asarray(weights, dtype=float)[:, idx]
                cum = self.np.cumsum(w * self.np.asarray(delta), axis=1)
                self.cum[g] = self.np.concatenate([self.np.zeros((self.b, 1)), cum], axis=1)
            else:
                rows = []
                for w in weights:
                    row = [0.0]
                    for j, d in zip(idx, delta):
                        row.append(row[-1] + w[j] * d)
                    rows.append(row)
                self.cum[g] = rows
        if self.np is not None:
            self.base = self.np.asarray(weights, dtype=float) @ self.np.asarray(strong)
        else:
            self.base = [sum(wi * si for wi, si in zip(w, strong)) for w in weights]

    def lower_bounds(self, group: str, chosen: Mapping[str, int], q: float) -> list[float]:
        """The q-quantile quality share for each candidate of `group`, other groups at `chosen` prefixes."""
        ks = self.prefix[group]
        others = [(g, k) for g, k in chosen.items() if g != group]
        if self.np is not None:
            const = self.base.copy()
            for g, k in others:
                const += self.cum[g][:, k]
            safe = self.np.where(self.base > 0, self.base, 1.0)
            share = (const[:, None] + self.cum[group][:, ks]) / safe[:, None]
            share[self.base <= 0] = 1.0  # the strong model scored nothing in this resample: nothing to lose
            share.sort(axis=0)
            return [float(v) for v in share[int(q * (self.b - 1))]]
        out = []
        for k in ks:
            vals = []
            for r in range(self.b):
                base = self.base[r]
                num = base + sum(self.cum[g][r][kg] for g, kg in others) + self.cum[group][r][k]
                vals.append(num / base if base > 0 else 1.0)
            out.append(_lower_quantile(vals, q))
        return out

    def cost_share(self, chosen: Mapping[str, int]) -> float:
        return (self.base_cost - sum(self.saved[g][k] for g, k in chosen.items())) / self.sc_total


def _allocate(
    res: _Resamples,
    target: float,
    q: float,
    start: Mapping[str, float] | None = None,
    fixed: Sequence[str] = (),
) -> tuple[dict[str, float], float]:
    """Per-group thresholds: the cheapest found whose overall q-quantile quality share reaches the target.

    Coordinate descent from `start` (or escalate-all): each pass moves one group to its cheapest
    feasible threshold with the others held; cost never rises, and the target is always kept. Groups in
    `fixed` stay at their start. A feasible `start` (the global threshold) is never made worse.
    """
    groups = list(res.prefix)
    pos = {g: len(res.thresholds[g]) - 1 for g in groups}  # escalate all: always feasible
    if start:
        for g in groups:
            t, ths = start.get(g, ESCALATE_ALL), res.thresholds[g]
            # The smallest candidate >= t accepts exactly the drafts t accepts.
            pos[g] = next((j for j, v in enumerate(ths) if v >= t), len(ths) - 1)
    chosen = {g: res.prefix[g][pos[g]] for g in groups}
    lower = 1.0
    for _ in range(4):
        changed = False
        for g in (g for g in groups if g not in fixed):
            lbs = res.lower_bounds(g, chosen, q)
            best_j, best_cost = pos[g], res.cost_share(chosen) if lbs[pos[g]] >= target else float("inf")
            for j, lb in enumerate(lbs):
                if lb < target:
                    continue
                c = res.cost_share({**chosen, g: res.prefix[g][j]})
                if c < best_cost - 1e-12:
                    best_j, best_cost = j, c
            if best_j != pos[g]:
                pos[g], chosen[g], changed = best_j, res.prefix[g][best_j], True
        if not changed:
            break
    g0 = groups[0]
    lower = res.lower_bounds(g0, chosen, q)[pos[g0]]
    return {g: res.thresholds[g][pos[g]] for g in groups}, lower


def bootstrap_quality_lower(
    items: Sequence[Item],
    scores: Sequence[float],
    thresholds: Sequence[float],
    confidence: float = 0.7,
    n_boot: int = 1000,
    seed: int = 0,
    use_numpy: bool | None = None,
) -> list[float]:
    """The `confidence` lower bound of the quality share at each threshold, by resampling the items."""
    res = _Resamples(items, scores, [""] * len(items), n_boot, seed, use_numpy)
    neg = sorted(-s for s in scores)
    res.prefix[""] = [bisect.bisect_right(neg, -t) for t in thresholds]
    return res.lower_bounds("", {}, 1.0 - confidence)


def choose_threshold_robust(
    items: Sequence[Item],
    scores: Sequence[float],
    target_quality: float,
    confidence: float = 0.7,
    n_boot: int = 1000,
    seed: int = 0,
    use_numpy: bool | None = None,
) -> tuple[float, float]:
    """(threshold, lower bound): the cheapest threshold whose bootstrap lower bound reaches the target.

    Cost is judged on the point estimate (the target protects quality, not cost). `ESCALATE_ALL` if none does.
    """
    res = _Resamples(items, scores, [""] * len(items), n_boot, seed, use_numpy)
    t, lower = _allocate(res, target_quality, 1.0 - confidence)
    return t[""], lower


def split_items(n: int, split: float, seed: int) -> tuple[list[int], list[int]]:
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    k = int(round(n * split))
    return sorted(idx[:k]), sorted(idx[k:])


def classify_items(items: Sequence[Item]) -> list[str]:
    """Each item's complexity: the record's own, else what `routing.Router` would route the prompt as."""
    from ..routing import Router
    from ..types import Message

    router = Router()
    return [it.complexity or router.route([Message("user", it.prompt)]).complexity for it in items]


def calibrate_scored(
    items: Sequence[Item],
    scores: Sequence[float],
    target_quality: float = 0.95,
    split: float = 0.5,
    seed: int = 0,
    notes: list[str] | None = None,
    grid: Sequence[float] | None = None,
    method: Method = "bootstrap",
    confidence: float = 0.7,
    n_boot: int = 1000,
    per_complexity: bool = False,
    min_level_records: int = 50,
    use_numpy: bool | None = None,
) -> CalibrationResult:
    """Calibrate from precomputed scores (what `calibrate` does after scoring)."""
    if method not in ("bootstrap", "point"):
        raise ValueError(f"method must be 'bootstrap' or 'point', got {method!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    notes = list(notes or [])
    fit_i, test_i = split_items(len(items), split, seed)
    fit = [items[i] for i in fit_i]
    test = [items[i] for i in test_i]
    fs = [scores[i] for i in fit_i]
    ts = [scores[i] for i in test_i]
    boots = n_boot if method == "bootstrap" else 0
    q = 1.0 - confidence if method == "bootstrap" else 0.0
    one = _Resamples(fit, fs, [""] * len(fit), boots, seed, use_numpy)
    chosen, lower = _allocate(one, target_quality, q)
    t = chosen[""]
    levels = classify_items(items) if per_complexity else ["moderate"] * len(items)
    counts = {c: sum(1 for i in fit_i if levels[i] == c) for c in COMPLEXITIES}
    per_level: dict[str, float] = {}
    if per_complexity:
        # Levels with too few fit records are pooled under "" and held at the global threshold; the
        # others start there too, so the per-level fit is never worse on the fit split than the global one.
        groups = [levels[i] if counts[levels[i]] >= min_level_records else "" for i in fit_i]
        if any(groups):
            res = _Resamples(fit, fs, groups, boots, seed, use_numpy)
            fitted, lower = _allocate(res, target_quality, q, start={g: t for g in set(groups)}, fixed=("",))
            per_level = {g: v for g, v in fitted.items() if g}
    level_t = {c: per_level.get(c, t) for c in COMPLEXITIES}
    escalate_all = [c for c in COMPLEXITIES if level_t[c] > 1.0]
    if escalate_all:
        notes.append(
            f"no threshold reaches the target for {', '.join(escalate_all)}: route those levels direct "
            "(Router(direct_complexities=...)); thresholds holds 1.0 for them"
        )
    thresholds = Thresholds().override({c: min(1.0, v) for c, v in level_t.items()})

    def accepted(idx: Sequence[int], sc: Sequence[float]) -> list[bool]:
        return [s >= level_t[levels[i]] for i, s in zip(idx, sc)]

    grid = grid or [round(0.05 * k, 2) for k in range(21)]
    curve = sweep(test, ts, sorted(set(grid) | {t}))
    oracle = point(test, [it.draft_quality >= it.strong_quality for it in test])
    return CalibrationResult(
        threshold=t,
        target_quality=target_quality,
        fit=point(fit, accepted(fit_i, fs), t),
        heldout=point(test, accepted(test_i, ts), t),
        oracle=oracle,
        curve=curve,
        n_fit=len(fit),
        n_heldout=len(test),
        notes=notes,
        method=method,
        confidence=confidence if method == "bootstrap" else 0.0,
        fit_quality_lower=lower,
        thresholds=thresholds,
        per_level=per_level,
        level_counts=counts if per_complexity else {},
        escalate_all=escalate_all,
    )


def calibrate(
    records: Iterable[Mapping[str, Any]],
    target_quality: float = 0.95,
    validator: Validator | None = None,
    split: float = 0.5,
    seed: int = 0,
    draft_price: tuple[float, float] = DEFAULT_DRAFT_PRICE,
    strong_price: tuple[float, float] = DEFAULT_STRONG_PRICE,
    method: Method = "bootstrap",
    confidence: float = 0.7,
    n_boot: int = 1000,
    per_complexity: bool = False,
    min_level_records: int = 50,
) -> CalibrationResult:
    """Choose the threshold(s) on a fit split, report them on the held-out split. Prices: USD per 1M (in, out).

    method "bootstrap" (default) takes the cheapest threshold whose `confidence` bootstrap lower bound
    of the fit quality share reaches the target; "point" the cheapest whose point estimate does (the
    previous behaviour, optimistic). `per_complexity` fits one threshold per routed complexity level
    that has at least `min_level_records` fit records; other levels keep the global threshold.
    """
    if not 0 < split < 1:
        raise ValueError(f"split must be in (0, 1), got {split}")
    items, notes = to_items(records, draft_price, strong_price)
    if len(items) < 4:
        raise ValueError(f"calibration needs at least 4 records, got {len(items)}; expected more labelled records "
                         "(half fit the threshold, half report on it)")
    try:
        asyncio.get_running_loop()
        scores = run_sync(score_items(items, validator))
    except RuntimeError:
        scores = asyncio.run(score_items(items, validator))
    return calibrate_scored(
        items,
        scores,
        target_quality,
        split,
        seed,
        notes,
        method=method,
        confidence=confidence,
        n_boot=n_boot,
        per_complexity=per_complexity,
        min_level_records=min_level_records,
    )


def format_curve(points: Sequence[Point]) -> str:
    lines = ["threshold  quality  escalated  cost", "---------  -------  ---------  -----"]
    lines += [
        f"{p.threshold:9.3f}  {p.quality_share:6.1%}  {p.escalation_share:8.1%}  {p.cost_share:5.1%}" for p in points
    ]
    return "\n".join(lines)


class RecordsFileError(ValueError):
    """A records file that cannot be used; the message names the file, row and column, and what is expected."""


_EXPECTED = "prompt,draft,draft_correct|draft_score,strong_correct|strong_score (or the RouteLLM format)"
_LABELS = {"true": 1.0, "yes": 1.0, "1": 1.0, "false": 0.0, "no": 0.0, "0": 0.0}
_COUNTS = ("input_tokens", "draft_tokens", "strong_tokens")
_PRICES = ("draft_price", "strong_price")


def read_records(path: str | Path) -> list[dict[str, str]]:
    """The rows of a records CSV (UTF-8, comma-separated, header first), each checked.

    Scores in a file are in [0, 1] (scale a 1-10 judge grade by 1/10); labels are true/false, yes/no or
    1/0. Raises `RecordsFileError` naming the file, the row (the header is row 1) and the column.
    """
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise RecordsFileError(f"{path}: no such file; expected a CSV of records with columns {_EXPECTED}") from None
    except OSError as e:
        raise RecordsFileError(f"{path}: cannot be read ({e.strerror or e}); expected a readable CSV file") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise RecordsFileError(f"{path}: row {line}, byte {col}: 0x{raw[e.start]:02x} is not UTF-8; "
                               "expected a UTF-8 text file (re-save it as UTF-8)") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    n = 1
    try:
        header = [h.strip() for h in next(reader, [])]
        _check_header(path, header)
        rows = []
        for n, fields in enumerate(reader, start=2):
            if not any(f.strip() for f in fields):
                continue  # blank line
            if len(fields) < len(header):
                raise RecordsFileError(
                    f"{path}: row {n}, column {header[len(fields)]!r}: missing (the row has {len(fields)} "
                    f"value(s), the header {len(header)}); expected one value per column, values that contain "
                    "commas in double quotes")
            if len(fields) > len(header):
                raise RecordsFileError(
                    f"{path}: row {n}, column {len(header) + 1}: the row has {len(fields)} values, the header "
                    f"{len(header)}; expected one value per column, values that contain commas in double quotes")
            rec = dict(zip(header, fields))
            _check_row(path, n, rec)
            rows.append(rec)
    except csv.Error as e:
        raise RecordsFileError(f"{path}: row {n}: {e}; expected well-formed CSV") from None
    if not rows:
        raise RecordsFileError(f"{path}: row 2: no records after the header; expected one record per row")
    return rows


def _check_header(path: str | Path, header: list[str]) -> None:
    if not any(header):
        raise RecordsFileError(f"{path}: row 1: no header; expected a header row {_EXPECTED}")
    if len(header) == 1 and (sep := next((d for d in ";\t|" if d in header[0]), None)):
        raise RecordsFileError(f"{path}: row 1: the header is one column that looks {sep!r}-delimited; "
                               f"expected comma-separated columns {_EXPECTED}")
    if "prompt" in header and f"{CHEAP_MODEL}_response" in header:
        required = [CHEAP_MODEL, STRONG_MODEL, f"{CHEAP_MODEL}_response", f"{STRONG_MODEL}_response"]
    else:
        required = ["prompt", "draft"]
        required += [f"{s}_correct" for s in ("draft", "strong")
                     if f"{s}_correct" not in header and f"{s}_score" not in header]
    for col in required:
        if col not in header:
            found = ",".join(header)
            found = found if len(found) <= 80 else found[:77] + "..."
            raise RecordsFileError(f"{path}: row 1, column {col!r}: missing from the header ({found}); "
                                   f"expected columns {_EXPECTED}")


def _check_row(path: str | Path, n: int, rec: dict[str, str]) -> None:
    def bad(col: str, problem: str, expected: str) -> RecordsFileError:
        return RecordsFileError(f"{path}: row {n}, column {col!r}: {problem}; expected {expected}")

    if not rec["prompt"].strip():
        raise bad("prompt", "empty", "the request's text")
    if f"{CHEAP_MODEL}_response" in rec:  # RouteLLM format: the model columns hold the labels
        labels = [CHEAP_MODEL, STRONG_MODEL]
    else:
        labels = []
        for side in ("draft", "strong"):
            score = rec.get(f"{side}_score", "").strip()
            if score:
                try:
                    x = float(score)
                except ValueError:
                    x = math.nan
                if not 0.0 <= x <= 1.0:  # also false for nan
                    raise bad(f"{side}_score", f"{score!r} is not a score in [0, 1]",
                              "a number from 0 (wrong) to 1 (right); scale a 1-10 judge grade by 1/10")
            elif f"{side}_correct" in rec:
                labels.append(f"{side}_correct")
            else:
                raise bad(f"{side}_score", "empty", f"a score in [0, 1] (or a {side}_correct column)")
    for col in labels:
        if rec[col].strip().lower() not in _LABELS:
            raise bad(col, f"{rec[col]!r} is not a label", "true or false (also yes/no or 1/0)")
    for col in (*_COUNTS, *_PRICES):
        v = rec.get(col, "").strip()
        if not v:
            continue
        try:
            x = float(v)
        except ValueError:
            x = math.nan
        if not (x >= 0 and math.isfinite(x)):
            what = "a token count, >= 0" if col in _COUNTS else "a price in USD per 1M tokens, >= 0"
            raise bad(col, f"{v!r} is not a number >= 0", what)
    complexity = rec.get("complexity", "").strip()
    if complexity and complexity not in COMPLEXITIES:
        raise bad("complexity", f"{complexity!r} is not a level", f"empty or one of {', '.join(COMPLEXITIES)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m cascadeflow_integrations.quality.calibrate", description=__doc__.split("\n")[0]
    )
    ap.add_argument("csv", help="records CSV (generic or RouteLLM format)")
    ap.add_argument("--target", type=float, default=0.95, help="share of the strong model's quality to keep")
    ap.add_argument("--split", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--method", choices=("bootstrap", "point"), default="bootstrap")
    ap.add_argument("--confidence", type=float, default=0.7, help="bootstrap lower-bound confidence")
    ap.add_argument("--per-complexity", action="store_true", help="fit one threshold per routed complexity")
    ap.add_argument("--min-level-records", type=int, default=50)
    ap.add_argument("--draft-price", type=float, nargs=2, default=DEFAULT_DRAFT_PRICE, metavar=("IN", "OUT"))
    ap.add_argument("--strong-price", type=float, nargs=2, default=DEFAULT_STRONG_PRICE, metavar=("IN", "OUT"))
    args = ap.parse_args(argv)
    try:
        rows = read_records(args.csv)
        res = calibrate(
            rows,
            args.target,
            split=args.split,
            seed=args.seed,
            draft_price=tuple(args.draft_price),
            strong_price=tuple(args.strong_price),
            method=args.method,
            confidence=args.confidence,
            per_complexity=args.per_complexity,
            min_level_records=args.min_level_records,
        )
    except ValueError as e:  # bad file or options: one line, no traceback
        msg = str(e) if isinstance(e, RecordsFileError) else f"{args.csv}: {e}"
        sys.stderr.write(f"calibrate: error: {' '.join(msg.split())}\n")
        return 2
    print(
        f"records: {len(rows)} (fit {res.n_fit}, held-out {res.n_heldout}); prices per 1M tokens: "
        f"draft {args.draft_price}, strong {args.strong_price}"
    )
    for n in res.notes:
        print(f"note: {n}")
    print(f"\nheld-out trade-off curve (shares of always-strong):\n{format_curve(res.curve)}")
    how = (
        f"bootstrap {res.confidence:.0%} lower bound {res.fit_quality_lower:.1%}"
        if res.method == "bootstrap"
        else f"point estimate {res.fit_quality_lower:.1%}"
    )
    t = "escalate all" if res.threshold > 1.0 else f"{res.threshold:.3f}"
    print(f"\nchosen threshold (fit split, target {args.target:.0%}, {how}): {t}")
    if args.per_complexity:
        print("per complexity (fit records; levels under --min-level-records keep the global threshold):")
        for c in COMPLEXITIES:
            v = res.per_level.get(c)
            shown = "global" if v is None else ("escalate all" if v > 1.0 else f"{v:.3f}")
            print(f"  {c:9s} {res.level_counts.get(c, 0):5d} records  {shown}")
    h, fp, o = res.heldout, res.fit, res.oracle
    print(f"fit:      quality {fp.quality_share:.1%}, escalated {fp.escalation_share:.1%}, cost {fp.cost_share:.1%}")
    print(f"held-out: quality {h.quality_share:.1%}, escalated {h.escalation_share:.1%}, cost {h.cost_share:.1%}")
    print(f"oracle:   quality {o.quality_share:.1%}, escalated {o.escalation_share:.1%}, cost {o.cost_share:.1%}")
    print(f"thresholds: CascadeAgent(quality_threshold={res.thresholds.to_dict()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
