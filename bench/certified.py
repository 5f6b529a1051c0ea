"""Benchmark: does a certified quality target hold on labels the fit never saw? Coverage over seeded resplits.

For each shared set and each label budget n, 100 seeded random resplits: n labels fit (or calibrate) the
decision, the rest measure it on the recorded truth. Reported per method: the share of resplits whose
realised quality share on the rest is at least target - 1 point (coverage; the goal is >= 90% at the
default confidence 0.9) and at least the target itself, and the median cost share of always-strong.

Methods: `fit` (every scorer, the cheapest certified), `calibrate()` (the shipped free checks' score, one
certified threshold), the best single signal (`fit` restricted to single signals), and the static
defaults (the shipped `Thresholds()`: no fitting, no guarantee). Token counts of the RouteLLM sets are
estimated from text length at list prices (`learning/routellm.py`).

Run: `.venv/bin/python bench/certified.py [--resplits 100] [--readme bench/README.md] [--png bench/certified.png]`.
"""

from __future__ import annotations

import argparse
import csv
import glob
import math
import os
import random
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from _readme import replace_section  # noqa: E402

from cascadeflow_integrations.learning.fit import (  # noqa: E402
    Example,
    NotEnoughLabels,
    _apply,
    example_from_record,
    fit_examples,
    read_record,
)
from cascadeflow_integrations.quality.calibrate import Item, choose_threshold_robust  # noqa: E402
from cascadeflow_integrations.learning.routellm import CHEAP_MODEL, STRONG_MODEL, load_gsm8k, load_mtbench  # noqa: E402
from cascadeflow_integrations.quality.thresholds import Thresholds  # noqa: E402

TARGET = 0.95
SIZES = (200, 500, 1000)
METHODS = ("fit", "calibrate", "single signal", "static defaults")


def _mmlu(data: str) -> list[dict[str, Any]]:
    recs = []
    for f in sorted(glob.glob(os.path.join(data, "mmlu", "mmlu_*.csv"))):
        with open(f, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                recs.append({"prompt": r["prompt"], "draft_correct": r[CHEAP_MODEL], "strong_correct": r[STRONG_MODEL],
                             "draft_tokens": 1, "strong_tokens": 1})
    return recs


def load(name: str, data: str) -> list[tuple[Example, float, str]]:
    """(example, the shipped validator's score or -1, routed complexity) per labelled record."""
    if name == "GSM8K":
        recs = load_gsm8k(os.path.join(data, "gsm8k_responses.csv"))
    elif name == "MT-Bench":
        recs = load_mtbench(data)
    else:
        recs = _mmlu(data)
    out = []
    for r in recs:
        ex = example_from_record(r)
        if ex is None:
            continue
        v = read_record(r)
        ok = bool(v.checks) and all(c.passed for c in v.checks)  # default_validator(): a failed check rejects
        score = math.prod(max(0.0, min(1.0, c.score)) for c in v.checks) if ok else (-1.0 if v.checks else 1.0)
        out.append((ex, score, v.complexity))
    return out


def realised(exs: list[Example], acc: list[bool], skipped: list[bool]) -> tuple[float, float]:
    q = c = sq = sc = 0.0
    for e, a, s in zip(exs, acc, skipped):
        sq, sc = sq + e.strong_quality, sc + e.strong_cost
        if s:
            q, c = q + e.strong_quality, c + e.strong_cost
        elif a:
            q, c = q + e.draft_quality, c + e.draft_cost
        else:
            q, c = q + e.strong_quality, c + e.draft_cost + e.strong_cost
    return q / (sq or 1.0), c / (sc or 1.0)


def one(args: tuple[str, list[tuple[Example, float, str]], int, int]) -> dict[str, tuple[float, float]]:
    name, rows, n, seed = args
    idx = list(range(len(rows)))
    random.Random(seed).shuffle(idx)
    tr, te = [rows[i] for i in idx[:n]], [rows[i] for i in idx[n:]]
    te_ex = [r[0] for r in te]
    out: dict[str, tuple[float, float]] = {}
    for label, kw in (("fit", {}), ("single signal", {"capacities": ()})):
        try:
            p = fit_examples([r[0] for r in tr], TARGET, report_folds=0, seed=seed, **kw)
            out[label] = realised(te_ex, *_apply(p.groups, p.skip, te_ex))
        except (NotEnoughLabels, ValueError):
            out[label] = realised(te_ex, [False] * len(te), [True] * len(te))
    items = [Item("", "", r[0].draft_quality, r[0].strong_quality, r[0].draft_cost, r[0].strong_cost) for r in tr]
    t, _ = choose_threshold_robust(items, [r[1] for r in tr], TARGET)
    out["calibrate"] = realised(te_ex, [r[1] >= t for r in te], [False] * len(te))
    th = Thresholds()
    out["static defaults"] = realised(te_ex, [r[1] >= 0 and r[1] >= th.for_(r[2]) for r in te],
                                      [r[2] == "expert" for r in te])
    return out


def study(name: str, data: str, resplits: int, workers: int) -> dict[str, Any]:
    rows = load(name, data)
    sizes = [s for s in SIZES if s <= 0.8 * len(rows)] or [int(0.6 * len(rows))]
    res: dict[str, Any] = {"name": name, "n": len(rows), "sizes": sizes, "by": {}}
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for n in sizes:
            runs = list(pool.map(one, [(name, rows, n, seed) for seed in range(resplits)]))
            res["by"][n] = {m: [r[m] for r in runs] for m in METHODS}
    res["seconds"] = time.perf_counter() - t0
    return res


def summary(runs: list[tuple[float, float]]) -> dict[str, float]:
    q = [r[0] for r in runs]
    c = [r[1] for r in runs]
    return {
        "coverage": sum(v >= TARGET - 0.01 for v in q) / len(q),
        "strict": sum(v >= TARGET for v in q) / len(q),
        "median_q": statistics.median(q),
        "median_c": statistics.median(c),
        "goal": sum(v >= TARGET and x <= 0.5 for v, x in zip(q, c)) / len(q),
    }


def section(results: list[dict[str, Any]], resplits: int, png: str | None) -> str:
    lines = [
        "## Certified operating points: coverage over resplits",
        "",
        f"`bench/certified.py`: for each shared set and label budget, {resplits} seeded random resplits; the labels "
        f"fit the decision (target {TARGET:.0%} of the strong model's quality, confidence 0.9) and the **rest of the "
        "set** measures it on the recorded truth. Coverage = share of resplits whose realised quality share on the "
        f"rest is at least {TARGET - 0.01:.0%} (target - 1 point; goal: at least 90%); \"≥ target\" the share at "
        f"{TARGET:.0%} or more; cost = median share of always-strong; \"goal\" = share of resplits at ≥ {TARGET:.0%} "
        "and ≤ 50% cost. GSM8K: Mixtral drafts, GPT-4 strong, correctness labels; MT-Bench turn 1: GPT-4 judge "
        "grades / 10 of both answers (80 questions: one budget of 48 labels); MMLU: correctness labels without answer "
        "text (prompt-only: the skip model is the only scorer). Token counts estimated from text length at list prices.",
        "",
        "| set | labels | method | coverage | ≥ target | median quality | median cost | goal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for n in r["sizes"]:
            for m in METHODS:
                s = summary(r["by"][n][m])
                lines.append(f"| {r['name']} | {n} | {m} | {s['coverage']:.0%} | {s['strict']:.0%} | "
                             f"{s['median_q']:.1%} | {s['median_c']:.1%} | {s['goal']:.0%} |")
    lines += ["", *reading(results)]
    if png:
        lines += ["", f"![coverage and cost against labels]({os.path.basename(png)})"]
    secs = sum(r["seconds"] for r in results)
    lines += ["", f"Run time {secs:.0f} s ({os.cpu_count()} cores)."]
    return "\n".join(lines) + "\n"


def reading(results: list[dict[str, Any]]) -> list[str]:
    out = ["Reading:"]
    for r in results:
        worst = min(summary(r["by"][n]["fit"])["coverage"] for n in r["sizes"])
        cost = {n: summary(r["by"][n]["fit"])["median_c"] for n in r["sizes"]}
        static = summary(r["by"][r["sizes"][-1]]["static defaults"])
        out.append(f"- {r['name']}: `fit` keeps the target (- 1 point) in at least {worst:.0%} of resplits at every "
                   f"budget; its median cost falls from {cost[r['sizes'][0]]:.0%} to {cost[r['sizes'][-1]]:.0%} of "
                   f"always-strong as labels grow. The static defaults: coverage {static['coverage']:.0%}, cost "
                   f"{static['median_c']:.0%}, with no guarantee.")
    return out


def draw(results: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(results), figsize=(4.2 * len(results), 6.5), squeeze=False)
    for k, r in enumerate(results):
        for m in METHODS:
            cov = [summary(r["by"][n][m])["coverage"] for n in r["sizes"]]
            cost = [summary(r["by"][n][m])["median_c"] for n in r["sizes"]]
            axes[0][k].plot(r["sizes"], cov, marker="o", label=m)
            axes[1][k].plot(r["sizes"], cost, marker="o", label=m)
        axes[0][k].axhline(0.9, color="grey", ls="--", lw=0.8)
        axes[0][k].set_title(f"{r['name']}: coverage (≥ target - 1 pt)")
        axes[1][k].set_title(f"{r['name']}: median cost share")
        axes[1][k].set_xlabel("labels")
        for a in (axes[0][k], axes[1][k]):
            a.set_ylim(0, 1.1)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "routellm"))
    ap.add_argument("--resplits", type=int, default=100)
    ap.add_argument("--sets", default="GSM8K,MT-Bench,MMLU")
    ap.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    ap.add_argument("--png", default=None)
    ap.add_argument("--readme", default=None)
    args = ap.parse_args(argv)
    results = []
    for name in args.sets.split(","):
        r = study(name, args.data, args.resplits, args.workers)
        results.append(r)
        for n in r["sizes"]:
            print(name, n, {m: {k: round(v, 3) for k, v in summary(r["by"][n][m]).items()} for m in METHODS},
                  flush=True)
    if args.png:
        draw(results, args.png)
    body = section(results, args.resplits, args.png)
    if args.readme:
        replace_section(args.readme, "## Certified operating points", body)
    else:
        print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
