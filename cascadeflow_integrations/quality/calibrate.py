"""Threshold calibration on recorded drafts: keep a target share of the strong model's quality at least cost.

    python -m cascadeflow_integrations.quality.calibrate data.csv --target 0.95

Records (dicts or CSV rows): prompt, draft, draft_correct|draft_score, strong_correct|strong_score, and
optionally draft_tokens / strong_tokens (output tokens), input_tokens, draft_price / strong_price
((in, out) USD per 1M tokens). Missing token counts are estimated as text length / 4.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import random
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._sync import run_sync
from .base import Draft, ValidationRequest, Validator
from .routellm import CHEAP_MODEL, PRICES_PER_M, STRONG_MODEL, est_tokens, routellm_row_to_record

logger = logging.getLogger(__name__)

DEFAULT_DRAFT_PRICE = PRICES_PER_M[CHEAP_MODEL]
DEFAULT_STRONG_PRICE = PRICES_PER_M[STRONG_MODEL]


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


@dataclass(slots=True)
class Point:
    """The cascade at one threshold, relative to always using the strong model."""

    threshold: float
    quality_share: float
    escalation_share: float
    cost_share: float


@dataclass(slots=True)
class CalibrationResult:
    threshold: float
    target_quality: float
    fit: Point
    heldout: Point
    oracle: Point
    curve: list[Point]
    n_fit: int
    n_heldout: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def p(x: Point) -> dict[str, float]:
            return {
                k: round(getattr(x, k), 4) for k in ("threshold", "quality_share", "escalation_share", "cost_share")
            }

        return {
            "threshold": self.threshold,
            "target_quality": self.target_quality,
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
            )
        )
    notes = [f"{estimated} token count(s) estimated as text length / 4"] if estimated else []
    return items, notes


async def score_items(items: Sequence[Item], validator: Validator | None = None) -> list[float]:
    """Each draft's validator score (a hard failure scores -1 so no threshold accepts it)."""
    from .compose import default_validator

    v = validator or default_validator()
    out = []
    for it in items:
        d = await v.validate(ValidationRequest.from_prompt(it.prompt), Draft(text=it.draft, finish_reason="stop"), 0.0)
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
    """The cheapest threshold whose quality share reaches the target (escalate everything if none does)."""
    cands = sorted({s for s in scores if s >= 0} | {0.0})
    best_t, best_cost = 1.01, float("inf")
    for t in cands:
        p = point(items, [s >= t for s in scores], t)
        if p.quality_share >= target_quality and p.cost_share < best_cost:
            best_t, best_cost = t, p.cost_share
    return best_t


def split_items(n: int, split: float, seed: int) -> tuple[list[int], list[int]]:
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    k = int(round(n * split))
    return sorted(idx[:k]), sorted(idx[k:])


def calibrate_scored(
    items: Sequence[Item],
    scores: Sequence[float],
    target_quality: float = 0.95,
    split: float = 0.5,
    seed: int = 0,
    notes: list[str] | None = None,
    grid: Sequence[float] | None = None,
) -> CalibrationResult:
    """Calibrate from precomputed scores (what `calibrate` does after scoring)."""
    fit_i, test_i = split_items(len(items), split, seed)
    fit = [items[i] for i in fit_i]
    test = [items[i] for i in test_i]
    fs = [scores[i] for i in fit_i]
    ts = [scores[i] for i in test_i]
    t = choose_threshold(fit, fs, target_quality)
    grid = grid or [round(0.05 * k, 2) for k in range(21)]
    curve = sweep(test, ts, sorted(set(grid) | {t}))
    oracle = point(test, [it.draft_quality >= it.strong_quality for it in test])
    return CalibrationResult(
        threshold=t,
        target_quality=target_quality,
        fit=point(fit, [s >= t for s in fs], t),
        heldout=point(test, [s >= t for s in ts], t),
        oracle=oracle,
        curve=curve,
        n_fit=len(fit),
        n_heldout=len(test),
        notes=list(notes or []),
    )


def calibrate(
    records: Iterable[Mapping[str, Any]],
    target_quality: float = 0.95,
    validator: Validator | None = None,
    split: float = 0.5,
    seed: int = 0,
    draft_price: tuple[float, float] = DEFAULT_DRAFT_PRICE,
    strong_price: tuple[float, float] = DEFAULT_STRONG_PRICE,
) -> CalibrationResult:
    """Choose the threshold on a fit split, report it on the held-out split. Prices: USD per 1M (in, out)."""
    if not 0 < split < 1:
        raise ValueError(f"split must be in (0, 1), got {split}")
    items, notes = to_items(records, draft_price, strong_price)
    if len(items) < 4:
        raise ValueError(f"calibration needs at least 4 records, got {len(items)}")
    try:
        asyncio.get_running_loop()
        scores = run_sync(score_items(items, validator))
    except RuntimeError:
        scores = asyncio.run(score_items(items, validator))
    return calibrate_scored(items, scores, target_quality, split, seed, notes)


def format_curve(points: Sequence[Point]) -> str:
    lines = ["threshold  quality  escalated  cost", "---------  -------  ---------  -----"]
    lines += [
        f"{p.threshold:9.3f}  {p.quality_share:6.1%}  {p.escalation_share:8.1%}  {p.cost_share:5.1%}" for p in points
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m cascadeflow_integrations.quality.calibrate", description=__doc__.split("\n")[0]
    )
    ap.add_argument("csv", help="records CSV (generic or RouteLLM format)")
    ap.add_argument("--target", type=float, default=0.95, help="share of the strong model's quality to keep")
    ap.add_argument("--split", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--draft-price", type=float, nargs=2, default=DEFAULT_DRAFT_PRICE, metavar=("IN", "OUT"))
    ap.add_argument("--strong-price", type=float, nargs=2, default=DEFAULT_STRONG_PRICE, metavar=("IN", "OUT"))
    args = ap.parse_args(argv)
    with open(args.csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    res = calibrate(
        rows,
        args.target,
        split=args.split,
        seed=args.seed,
        draft_price=tuple(args.draft_price),
        strong_price=tuple(args.strong_price),
    )
    print(
        f"records: {len(rows)} (fit {res.n_fit}, held-out {res.n_heldout}); prices per 1M tokens: "
        f"draft {args.draft_price}, strong {args.strong_price}"
    )
    for n in res.notes:
        print(f"note: {n}")
    print(f"\nheld-out trade-off curve (shares of always-strong):\n{format_curve(res.curve)}")
    h, o = res.heldout, res.oracle
    print(f"\nchosen threshold (fit split, target {args.target:.0%}): {res.threshold:.3f}")
    print(f"held-out: quality {h.quality_share:.1%}, escalated {h.escalation_share:.1%}, cost {h.cost_share:.1%}")
    print(f"oracle:   quality {o.quality_share:.1%}, escalated {o.escalation_share:.1%}, cost {o.cost_share:.1%}")
    print(f"thresholds: use Thresholds().override({res.threshold:.3f}) (one level for all complexities)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
