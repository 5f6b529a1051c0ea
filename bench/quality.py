"""Benchmark: accept/escalate quality of validators on recorded RouteLLM drafts, and router latency.

Datasets (`../shared/data/routellm` beside the repo, or --data): GSM8K (1319; Mixtral-8x7B drafts, GPT-4-1106 strong,
correctness labels) and MT-Bench turn 1 (80; GPT-4 judge scores 1-10). Fit on one half, report on the
other (seed 0). Methods: ours (`default_validator()`), cascadeflow 1.2.0 (`ProductionConfidenceEstimator`
+ `QualityValidator(QualityConfig.for_cascade())`), the oracle, and the best answer-length threshold.

Run: `.venv/bin/python bench/quality.py [--data DIR] [--readme bench/README.md]`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import asyncio
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from _readme import replace_section  # noqa: E402

from cascadeflow_integrations.quality.calibrate import (  # noqa: E402
    Item,
    Point,
    calibrate_scored,
    choose_threshold,
    classify_items,
    point,
    score_items,
    split_items,
    to_items,
)
from cascadeflow_integrations.quality.thresholds import Thresholds  # noqa: E402
from cascadeflow_integrations.learning.routellm import PRICES_PER_M, load_gsm8k, load_mtbench  # noqa: E402
from cascadeflow_integrations.routing import Router  # noqa: E402
from cascadeflow_integrations.types import Message  # noqa: E402

COST_LEVELS = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]


@dataclass
class MethodResult:
    name: str
    threshold: float
    heldout: Point
    curve: dict[float, Point | None]  # best held-out quality at cost <= level
    note: str = ""


def reference_scores(items: Sequence[Item]) -> tuple[list[float], list[bool]]:
    """cascadeflow 1.2.0: confidence as its providers compute it; -1 when its other checks fail.

    Also returns its own decision at its default thresholds (complexity auto-detected).
    """
    logging.disable(logging.CRITICAL)  # the reference logs per call
    from cascadeflow.quality.confidence import ProductionConfidenceEstimator
    from cascadeflow.quality.quality import QualityConfig, QualityValidator

    # Mixtral is served by Together in the reference's provider list; no logprobs in the recorded data.
    est = ProductionConfidenceEstimator("together")
    qv = QualityValidator(QualityConfig.for_cascade())
    scores, default_accept = [], []
    for it in items:
        conf = est.estimate(response=it.draft, query=it.prompt, temperature=0.7, finish_reason="stop").final_confidence
        other_checks = qv.validate(it.draft, it.prompt, conf, threshold_override=0.0).passed
        scores.append(conf if other_checks else -1.0)
        default_accept.append(qv.validate(it.draft, it.prompt, conf).passed)
    logging.disable(logging.NOTSET)
    return scores, default_accept


def best_at_cost(items: Sequence[Item], scores: Sequence[float], level: float) -> Point | None:
    best: Point | None = None
    for t in sorted(set(scores) | {float("inf")}):
        p = point(items, [s >= t for s in scores], t)
        if p.cost_share <= level and (best is None or p.quality_share > best.quality_share):
            best = p
    return best


def run_method(
    name: str,
    items: Sequence[Item],
    scores: Sequence[float],
    target: float,
    method: str = "certified",
    per_complexity: bool = False,
    note: str = "",
) -> MethodResult:
    """The threshold(s) as `calibrate()` chooses them on the fit half, applied to the held-out half."""
    _, test_i = split_items(len(items), 0.5, 0)
    test, ts = [items[i] for i in test_i], [scores[i] for i in test_i]
    res = calibrate_scored(items, scores, target, split=0.5, seed=0, method=method,  # type: ignore[arg-type]
                           per_complexity=per_complexity)
    t = res.threshold  # inf = escalate everything, shown as such
    if per_complexity and res.per_level:
        shown = ", ".join(f"{c} {v:.3f}" for c, v in res.per_level.items())
        note = f"{shown}; others {t:.3f}"
    curve = {lvl: best_at_cost(test, ts, lvl) for lvl in COST_LEVELS}
    return MethodResult(name, t, res.heldout, curve, note)


def fixed_thresholds(name: str, items: Sequence[Item], scores: Sequence[float]) -> MethodResult:
    """The shipped `Thresholds()` defaults, each prompt at its routed level (what an agent does unconfigured)."""
    _, test_i = split_items(len(items), 0.5, 0)
    test, ts = [items[i] for i in test_i], [scores[i] for i in test_i]
    levels = classify_items(test)
    th = Thresholds()
    held = point(test, [s >= th.for_(c) for s, c in zip(ts, levels)], th.moderate)
    note = ", ".join(f"{c} {th.for_(c):.3f}" for c in sorted(set(levels)))
    return MethodResult(name, th.moderate, held, {lvl: best_at_cost(test, ts, lvl) for lvl in COST_LEVELS}, note)


def oracle_method(items: Sequence[Item]) -> MethodResult:
    """Knows every label: escalates exactly the worse drafts; under a budget, the largest gain per cost first."""
    _, test_i = split_items(len(items), 0.5, 0)
    test = [items[i] for i in test_i]
    # Score = quality lost by accepting, per unit of strong cost saved (graded for MT-Bench judge scores).
    scores = [(it.draft_quality - it.strong_quality) / (it.strong_cost or 1e-12) for it in test]
    held = point(test, [s >= 0 for s in scores], 0.0)
    curve = {lvl: best_at_cost(test, scores, lvl) for lvl in COST_LEVELS}
    return MethodResult("oracle (escalate exactly the worse drafts)", float("nan"), held, curve, "not fitted")


def length_scores(items: Sequence[Item]) -> list[float]:
    """Naive baseline: shorter drafts are accepted first (direction checked on the fit half below)."""
    return [-float(len(it.draft)) for it in items]


def evaluate_dataset(label: str, items: list[Item], target: float, ours: list[float]) -> tuple[list[MethodResult], str]:
    ref, ref_default = reference_scores(items)
    fit_i, test_i = split_items(len(items), 0.5, 0)
    test = [items[i] for i in test_i]
    ref_point = point(test, [ref_default[i] for i in test_i])
    lens = length_scores(items)
    # Pick the length direction on the fit half only.
    fit = [items[i] for i in fit_i]
    up = [-s for s in lens]
    c_short = point(fit, [lens[i] >= choose_threshold(fit, [lens[j] for j in fit_i], target) for i in fit_i]).cost_share
    c_long = point(fit, [up[i] >= choose_threshold(fit, [up[j] for j in fit_i], target) for i in fit_i]).cost_share
    length = lens if c_short <= c_long else up
    methods = [
        run_method("ours, certified at 90% confidence (default)", items, ours, target),
        run_method("ours, point estimate", items, ours, target, method="point"),
        run_method("ours, certified, per complexity", items, ours, target, per_complexity=True),
        fixed_thresholds("ours, shipped `Thresholds()` per routed level (no fit)", items, ours),
        run_method("cascadeflow 1.2.0 (confidence sweep), certified", items, ref, target),
        run_method("cascadeflow 1.2.0 (confidence sweep), point estimate", items, ref, target, method="point"),
        oracle_method(items),
        run_method(f"answer length ({'shorter' if length is lens else 'longer'} accepted)", items, length, target),
    ]
    extra = (
        f"cascadeflow 1.2.0 at its own default thresholds (`for_cascade()`): quality {ref_point.quality_share:.1%}, "
        f"escalated {ref_point.escalation_share:.1%}, cost {ref_point.cost_share:.1%}."
    )
    return methods, extra


def table(label: str, methods: list[MethodResult], target: float, extra: str) -> str:
    lines = [
        f"#### {label}: threshold fitted on the fit half for {target:.0%} of the strong model's quality, "
        "reported on the held-out half",
        "",
        "| method | threshold | quality share | escalated | cost share |",
        "|---|---|---|---|---|",
    ]
    for m in methods:
        h = m.heldout
        t = "escalate all" if m.threshold == float("inf") else "—" if m.threshold != m.threshold else f"{m.threshold:.3f}"
        if m.note:
            t += f" ({m.note})"
        lines.append(f"| {m.name} | {t} | {h.quality_share:.1%} | {h.escalation_share:.1%} | {h.cost_share:.1%} |")
    lines += ["", extra, "", f"#### {label}: best held-out quality share at a cost share ≤ level (trade-off curve)", ""]
    lines.append("| method | " + " | ".join(f"≤{lvl:.0%}" for lvl in COST_LEVELS) + " |")
    lines.append("|---|" + "---|" * len(COST_LEVELS))
    seen: list[dict[float, Point | None]] = []
    for m in methods:
        if m.curve in seen:
            continue  # same scores, same curve: the threshold choice does not change the sweep
        seen.append(m.curve)
        cells = [f"{p.quality_share:.1%}" if p else "—" for p in (m.curve[lvl] for lvl in COST_LEVELS)]
        name = m.name.split(",")[0] + (" (default_validator)" if m.name.startswith("ours") else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def reading(label: str, methods: list[MethodResult], target: float, breakdown: str = "") -> str:
    """Plain-language summary against the goal (>= target quality at <= 50% cost on held-out data)."""
    boot, pt, per, ref = methods[0], methods[1], methods[2], methods[4]
    at50 = boot.curve[0.5]

    def verdict(m: MethodResult) -> str:
        h = m.heldout
        ok = h.quality_share >= target and h.cost_share <= 0.5
        return f"{h.quality_share:.1%} quality at {h.cost_share:.1%} cost ({'meets' if ok else 'misses'} the goal)"

    ahead = all(
        (o.quality_share if o else 0.0) >= (r.quality_share if r else 0.0)
        for o, r in ((boot.curve[lvl], ref.curve[lvl]) for lvl in COST_LEVELS)
    )
    text = (
        f"Reading ({label}): goal = ≥{target:.0%} of the strong model's quality at ≤50% of its cost on the held-out "
        f"half, threshold chosen on the fit half only. Point estimate (previous method): {verdict(pt)}. "
        f"Certified at 90% confidence (default): {verdict(boot)}. Per complexity: {verdict(per)}. "
        "Best held-out point at ≤50% cost (descriptive, chosen with hindsight): "
        + (f"{at50.quality_share:.1%} at {at50.cost_share:.1%} cost" if at50 else "none")
        + f". Ours is {'ahead of or equal to' if ahead else 'NOT ahead of'} cascadeflow 1.2.0 at every cost level."
    )
    if label.startswith("MT-Bench"):
        text += (
            " Do not read the MT-Bench numbers as a win: on open-ended answers the free lexical validator gives no "
            "useful signal, as expected (it checks arithmetic, refusals, truncation and structure, not the quality "
            "of an essay). Its held-out curve is flat (the same quality at every budget: no threshold ranks the "
            "answers), there are 40 held-out questions, and the escalations land by category as follows "
            "(escalated / drafts worse than GPT-4's, of n, at the default method's threshold): " + breakdown + ". "
            "For open-ended traffic use the opt-in `JudgeValidator` (a model grades the draft; one model call per draft)."
        )
    return text


def confidence_table(items: Sequence[Item], scores: Sequence[float], target: float) -> str:
    """How the confidence moves the certified threshold (fit-half numbers decide; held-out is shown)."""
    lines = [
        "| confidence | threshold | fit quality | fit cost | held-out quality | held-out cost |",
        "|---|---|---|---|---|---|",
    ]
    for c in (0.5, 0.7, 0.8, 0.9):
        r = calibrate_scored(items, scores, target, split=0.5, seed=0, confidence=c)
        t = "escalate all" if r.threshold == float("inf") else f"{r.threshold:.3f}"
        lines.append(
            f"| {c:.0%} | {t} | {r.fit.quality_share:.1%} | {r.fit.cost_share:.1%} | "
            f"{r.heldout.quality_share:.1%} | {r.heldout.cost_share:.1%} |"
        )
    return "Certified confidence, ours on GSM8K (fit half 660 records):\n\n" + "\n".join(lines)


def category_breakdown(items: Sequence[Item], scores: Sequence[float], threshold: float) -> str:
    _, test_i = split_items(len(items), 0.5, 0)
    cats: dict[str, list[int]] = {}
    for i in test_i:
        c = cats.setdefault(items[i].category or "?", [0, 0, 0])
        c[0] += 1
        c[1] += scores[i] < threshold
        c[2] += items[i].draft_quality < items[i].strong_quality
    return ", ".join(f"{k} {e}/{w} of {n}" for k, (n, e, w) in sorted(cats.items()))


def router_latency(prompts: list[str], words: int = 5000, runs: int = 300) -> tuple[float, float]:
    text_words: list[str] = []
    i = 0
    while len(text_words) < words:
        text_words.extend(prompts[i % len(prompts)].split())
        i += 1
    text = " ".join(text_words[:words])
    msgs = [Message("system", "You are a helpful assistant."), Message("user", text)]
    r = Router()
    for _ in range(20):
        r.route(msgs)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        r.route(msgs)
        samples.append((time.perf_counter_ns() - t0) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * len(samples))]


def validator_latency(items: Sequence[Item], score: Callable[[Sequence[Item]], object]) -> float:
    t0 = time.perf_counter()
    score(items)
    return (time.perf_counter() - t0) / len(items) * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "routellm"))
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--readme", default=None, help="write the ## Quality section into this README")
    args = ap.parse_args(argv)

    gsm = load_gsm8k(os.path.join(args.data, "gsm8k_responses.csv"))
    mt = load_mtbench(args.data)
    out = []
    for label, recs in (("GSM8K (1319)", gsm), (f"MT-Bench turn 1 ({len(mt)})", mt)):
        items, notes = to_items(recs)
        t0 = time.perf_counter()
        ours = asyncio.run(score_items(items))
        ours_ms = (time.perf_counter() - t0) / len(items) * 1000
        t0 = time.perf_counter()
        methods, extra = evaluate_dataset(label, items, args.target, ours)
        ref_ms = (time.perf_counter() - t0) / len(items) * 1000 / 2  # reference_scores validates twice per item
        extra += f" Validation time per draft: ours {ours_ms:.2f} ms, cascadeflow ≈{ref_ms:.1f} ms."
        breakdown = category_breakdown(items, ours, methods[0].threshold)
        if label.startswith("GSM8K"):
            extra += "\n\n" + confidence_table(items, ours, args.target)
        out.append(table(label, methods, args.target, extra) + "\n\n" + reading(label, methods, args.target, breakdown))
    med, p95 = router_latency([r["prompt"] for r in gsm])
    (mi, mo), (si, so) = PRICES_PER_M.values()
    body = f"""## Quality

Accept/escalate decisions on recorded drafts (RouteLLM eval outputs), `bench/quality.py`
(`{platform.python_implementation()} {platform.python_version()}`, {platform.machine()}).

* Draft = Mixtral-8x7B-Instruct answer, strong = GPT-4-1106-preview answer. GSM8K quality = correctness label
  (accuracy); MT-Bench quality = GPT-4 judge score (1-10), **turn 1 only** (80 questions).
* Quality share = cascade quality / always-GPT-4 quality. Cost share = (draft cost always + GPT-4 cost when
  escalated) / always-GPT-4 cost. Prices per 1M tokens: Mixtral ${mi}/${mo} (Together/Anyscale list), GPT-4-1106
  ${si}/${so}. **Token counts are estimated as characters / 4** for the question (input; the few-shot preamble
  the models actually saw is not in the data) and for each answer (output).
* Split: seed 0, 50/50. Thresholds are chosen on the fit half only, by `calibrate()`: **certified** (default) =
  the cheapest threshold certified, at 90% confidence, to keep the target on traffic like the fit half
  (Learn-then-Test: exact binomial bounds, fixed-sequence testing; `learning/certify.py`); **point estimate** =
  the cheapest whose fit quality share reaches it, which overfits: it picks the threshold whose fit quality
  came out luckily high. **Per complexity** = one certified threshold per level as `Router().route()` classifies
  the prompt (levels with < 50 fit records share one), each certified on its own records. The curve tables
  sweep all thresholds on the held-out half (descriptive, chosen with hindsight, not a fitted result).
  Held-out numbers are what to judge by.
* Oracle: knows every label; at a threshold it escalates exactly the drafts worse than GPT-4's; under a cost
  budget it escalates the largest quality loss per unit of GPT-4 cost first (judge scores are graded, so some
  worse drafts matter more than others). It is not fitted.
* cascadeflow 1.2.0: score = `ProductionConfidenceEstimator("together").estimate(draft, query).final_confidence`
  (no logprobs in the data), and -1 when `QualityValidator(QualityConfig.for_cascade()).validate(...)` fails
  on its non-confidence checks; sweeping that confidence is the most favourable reading of the reference.
* The default validator's penalties, the prose-arithmetic parsing and the fractional-"how many" penalty were
  developed on the GSM8K fit half only. The shipped `moderate` threshold (0.801) was chosen on the fit half by the
  earlier 70% bootstrap bound; re-derived by certification (any confidence from 50% to 90%), the fit half's 660
  records certify no saving: the free checks' score leaves about 8% of right GPT-4 answers replaced by wrong
  drafts at every threshold that saves, against an allowance of 5% plus the credit of drafts that are right where
  GPT-4 is wrong, and the bounds on 660 records cannot tell that apart from failing. So the shipped thresholds
  stay as they were and carry **no guarantee**, for GSM8K or any other traffic: for one, fit your own labels.
* Prose arithmetic (`arith.py` now checks spaced statements split at sentence ends, with unit words and word-only
  parentheticals dropped): drafts with a failing step, measured when the change was made, fit half: right
  drafts 1 → 1, wrong drafts 40 → 43; held-out: right 7 → 7, wrong 53 → 55 (no new false flags).

{chr(10).join(o + chr(10) for o in out)}
#### Router latency

`Router().route()` on a 5,000-word prompt (GSM8K questions concatenated): median **{med:.0f} µs**, p95 {p95:.0f} µs
(cascadeflow 1.2.0's `ComplexityDetector` takes about 240 ms on 4.5k words, see the reference notes §5.3).
"""
    print(body)
    if args.readme:
        replace_section(args.readme, "## Quality", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
