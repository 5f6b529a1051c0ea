"""Benchmark: a cascade that learns its decision from its own traffic (decision log, shadow labels, refits).

Each shared set is replayed as a stream from the shipped defaults with an empty log (`learning/replay.py`):
escalations are labelled for free, accepted drafts are shadowed at `--shadow-rate` (the recorded strong
answer plays the shadow call; its cost counts against the cascade), and the policy is refit every
`--refit-every` new labels. The learner sees only what a live agent would: agreement of the draft with
the strong answer (GSM8K), the judge's scores (MT-Bench: the recorded GPT-4 judgements stand for a
`JudgeValidator`), or the recorded correctness of the shadowed answers (MMLU: no answer text, so only
prompt-level features). Results are scored on the recorded truth. The last `--tail` share of each set is
never streamed: the final policy, the static defaults, `calibrate()` on the same labels and the oracle
are compared on it.

Run: `.venv/bin/python bench/learning.py [--data DIR] [--readme bench/README.md] [--png bench/learning.png]`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import glob
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from _readme import replace_section  # noqa: E402

from cascadeflow_integrations.learning.fit import RecordView  # noqa: E402
from cascadeflow_integrations.learning.replay import (  # noqa: E402
    ReplayResult,
    StreamItem,
    oracle,
    prepare,
    replay,
    score,
)
from cascadeflow_integrations.quality.calibrate import Item, choose_threshold_robust  # noqa: E402
from cascadeflow_integrations.learning.routellm import CHEAP_MODEL, STRONG_MODEL, load_gsm8k, load_mtbench  # noqa: E402

GOAL_AT = 500
MIN_LABELS = 100


def gsm8k(data: str) -> tuple[list[StreamItem], str]:
    recs = load_gsm8k(os.path.join(data, "gsm8k_responses.csv"))

    def learn(rec: Any, v: RecordView) -> tuple[float, float] | None:
        # what a live agent sees: the draft's final answer against the strong model's
        from cascadeflow_integrations.learning.labels import agreement

        a = agreement(v.kind, rec["prompt"], rec["draft"], rec["strong"])
        return None if a is None else (a, 1.0)

    stripped = [{k: x for k, x in r.items() if k not in ("draft_correct", "strong_correct")} for r in recs]
    items = prepare(stripped, learn, lambda r: (0.0, 0.0))
    for it, r in zip(items, recs):
        it.truth = (float(r["draft_correct"]), float(r["strong_correct"]))
    return items, "agreement of the draft's final answer with GPT-4's"


def mtbench(data: str) -> tuple[list[StreamItem], str]:
    recs = load_mtbench(data)
    items = prepare(recs, lambda r, v: (r["draft_score"], r["strong_score"]),
                    lambda r: (r["draft_score"], r["strong_score"]))
    return items, "GPT-4 judge scores of both answers (standing for a JudgeValidator)"


def mmlu(data: str, seed: int = 0) -> tuple[list[StreamItem], str]:
    recs = []
    for f in sorted(glob.glob(os.path.join(data, "mmlu", "mmlu_*.csv"))):
        with open(f, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                # no answer text: one output token each (the prompts end in "Answer:")
                recs.append({"prompt": r["prompt"], "draft_correct": r[CHEAP_MODEL], "strong_correct": r[STRONG_MODEL],
                             "draft_tokens": 1, "strong_tokens": 1})
    # The files are sorted by subject; live traffic mixes subjects, so the stream is shuffled (seed 0).
    random.Random(seed).shuffle(recs)
    truth = [(float(r["draft_correct"] == "True"), float(r["strong_correct"] == "True")) for r in recs]
    items = prepare(recs, lambda r, v: (float(r["draft_correct"] == "True"), float(r["strong_correct"] == "True")),
                    lambda r: (0.0, 0.0))
    for it, t in zip(items, truth):
        it.truth = t
    return items, "recorded correctness of shadowed answers (prompt-only: no answer text)"


def calibrate_on_labels(res: ReplayResult, stream: list[StreamItem], tail: list[StreamItem],
                        target: float) -> dict[str, float] | None:
    """`calibrate()`'s method (default_validator score, certified threshold) on the learner's labels (unweighted)."""
    import math

    labelled = [ex for ex in res.labels if ex.feats is not None]
    if len(labelled) < 4:
        return None
    by_feats = {id(it.view.feats): it for it in stream if it.view.feats is not None}
    items, scores = [], []
    for ex in labelled:
        it = by_feats.get(id(ex.feats))
        if it is None:
            continue
        ok = all(c.passed for c in it.view.checks)
        s = math.prod(max(0.0, min(1.0, c.score)) for c in it.view.checks) if ok else -1.0
        items.append(Item("", "", ex.draft_quality, ex.strong_quality, ex.draft_cost, ex.strong_cost))
        scores.append(s)
    t, _ = choose_threshold_robust(items, scores, target)
    q = c = sq = sc = 0.0
    for it in tail:
        dq, tq = it.truth
        v = it.view
        ok = all(ch.passed for ch in v.checks)
        s = math.prod(max(0.0, min(1.0, ch.score)) for ch in v.checks) if ok else -1.0
        sq, sc = sq + tq, sc + v.strong_cost
        if s >= t:
            q, c = q + dq, c + v.draft_cost
        else:
            q, c = q + tq, c + v.draft_cost + v.strong_cost
    return {"quality_share": q / sq, "cost_share": c / sc, "threshold": t}


def log_overhead(n: int = 2000) -> dict[str, float]:
    """Event-loop cost per call of the learning hook (`Learner.on_result`: queue the row, roll the shadow dice)."""
    import tempfile

    from cascadeflow_integrations.engine import CallOptions, StreamingMode
    from cascadeflow_integrations.learning.live import Learner, ShadowAnswer
    from cascadeflow_integrations.quality import default_validator
    from cascadeflow_integrations.quality.base import Draft
    from cascadeflow_integrations.result import CascadeResult, ModelAttempt
    from cascadeflow_integrations.stores import SQLiteStore
    from cascadeflow_integrations.types import Message, Usage

    async def no_call(messages: Any, opts: Any) -> ShadowAnswer:
        return ShadowAnswer("#### 26", [], 0.0)

    opts = CallOptions(max_tokens=None, temperature=None, stop=None, tools=None, tool_choice=None,
                       parallel_tool_calls=None, mode=StreamingMode.BUFFERED, validator=default_validator(),
                       threshold=None, thresholds=None, complexity_hint=None, force_direct=False, timeout=None,
                       draft_timeout=None)
    messages = [Message("user", "Janet has 16 eggs and eats 3. She sells the rest for $2 each. How much does she make?")]
    times: list[float] = []
    with tempfile.TemporaryDirectory() as d:
        store = SQLiteStore(Path(d) / "bench.db", max_queue=100_000)
        learner = Learner(store, owns_store=True, shadow_rate=0.05, log_prompts=False, policy=None,
                          shadow_call=no_call, seed=0)
        learner.log._queue.maxsize = 100_000  # type: ignore[union-attr]

        async def run() -> None:
            for i in range(n):
                r = CascadeResult(content="#### 26", model_used="small", draft_accepted=i % 3 != 0)
                r.attempts = [ModelAttempt("small", "openai", "draft", Usage(30, 10), 0.0001, 120.0, 80.0)]
                r.decisions = [{"accepted": r.draft_accepted, "score": 0.9, "threshold": 0.8,
                                "checks": [{"name": "completeness", "passed": True, "score": 1.0}]}]
                r.drafts = [Draft(text="#### 26")]
                t0 = time.perf_counter_ns()
                learner.on_result(r, messages, opts)
                times.append((time.perf_counter_ns() - t0) / 1000)
                if i % 50 == 0:
                    await asyncio.sleep(0)
            await learner.drain_shadows()
            await learner.aclose()

        asyncio.run(run())
        stats = learner.log.stats  # type: ignore[union-attr]
    return {"median_us": statistics.median(times), "p95_us": sorted(times)[int(0.95 * len(times))],
            "dropped": float(stats.dropped), "written": float(stats.written)}


def shadow_latency(n: int = 40) -> dict[str, float]:
    """Median latency of `run()` with no shadow calls vs a shadow call on every request (held 200 ms by the server)."""
    from cascadeflow_integrations import CascadeAgent, ModelConfig
    from cascadeflow_integrations.replay import Reply, ReplayServer
    from cascadeflow_integrations.replay.wire import openai_stream, words
    from cascadeflow_integrations.stores import MemoryStore

    q = "Tom has 12 apples and buys 30 more. How many apples does he have?"

    async def measure(rate: float, server: ReplayServer) -> float:
        models = [ModelConfig(name=m, provider="openai", base_url=server.openai_url, api_key="sk-test-not-a-real-key",
                              max_retries=0, cost=0.001) for m in ("small", "big")]
        agent = CascadeAgent(models, decision_log=MemoryStore(), shadow_rate=rate)
        times = []
        for _ in range(n):
            server.add("small", Reply(events=openai_stream("small", words("12 + 30 = 42.\n#### 42"), usage=(20, 10))))
            if rate:
                server.add("big", Reply(events=openai_stream("big", words("42"), usage=(20, 2)), first_delay=0.2))
            t0 = time.perf_counter()
            await agent.run(q)
            times.append((time.perf_counter() - t0) * 1000)
        await agent._learner.drain_shadows()
        await agent.aclose()
        return statistics.median(times)

    async def both() -> dict[str, float]:
        with ReplayServer() as server:
            await measure(0.0, server)  # warm-up
            off = await measure(0.0, server)
            on = await measure(1.0, server)
        return {"off_ms": off, "on_ms": on}

    return asyncio.run(both())


def fmt(p: dict[str, float] | None, sep: str = " | ") -> str:
    if p is None:
        return "n/a"
    return f"{p['quality_share']:.1%}{sep}{p['cost_share']:.1%}"


def run_set(name: str, items: list[StreamItem], how: str, args: argparse.Namespace) -> dict[str, Any]:
    n_tail = max(1, int(round(len(items) * args.tail)))
    stream, tail = items[:-n_tail], items[-n_tail:]
    t0 = time.perf_counter()
    res = replay(stream, args.target, args.shadow_rate, args.refit_every, seed=0)
    secs = time.perf_counter() - t0
    at = min(GOAL_AT, len(stream))
    p_at = res.policy_at(at)
    out = {
        "name": name, "how": how, "n": len(items), "stream": len(stream), "tail": len(tail), "res": res,
        "seconds": secs,
        "cumulative": res.learned[-1], "cumulative_static": res.static[-1],
        "cumulative_at": res.learned[at - 1], "static_at": res.static[at - 1],
        "final": score(res.final, tail) if res.final is not None else None,
        "at_goal": score(p_at, tail) if p_at is not None else None,
        "static": score(None, tail),
        "static_learned": score(None, tail, as_learned=True),
        "final_learned": score(res.final, tail, as_learned=True) if res.final is not None else None,
        "calibrate": calibrate_on_labels(res, stream, tail, args.target),
        "oracle": oracle(tail),
        "labels": len(res.labels), "refits": len(res.policies), "refusals": res.refit_refusals,
        "shadow_calls": res.shadow_calls,
        "first_fit_at": res.policies[0][0] if res.policies else None,
    }
    return out


def draw(results: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.2 * len(results), 4.2), squeeze=False)
    for ax, r in zip(axes[0], results):
        res: ReplayResult = r["res"]
        xs = range(1, len(res.learned) + 1)
        ax.plot(xs, [q for q, _ in res.learned], color="tab:blue", label="learned: quality")
        ax.plot(xs, [c for _, c in res.learned], color="tab:blue", ls="--", label="learned: cost (incl. shadow)")
        ax.plot(xs, [q for q, _ in res.static], color="tab:gray", label="static defaults: quality")
        ax.plot(xs, [c for _, c in res.static], color="tab:gray", ls="--", label="static defaults: cost")
        for j, _ in res.policies:
            ax.axvline(j, color="tab:green", alpha=0.15, lw=0.8)
        ax.axhline(0.95, color="tab:red", lw=0.6, ls=":")
        ax.axhline(0.5, color="tab:red", lw=0.6, ls=":")
        ax.set_title(f"{r['name']} ({r['stream']} requests streamed)")
        ax.set_xlabel("requests served")
        ax.set_ylabel("cumulative share of always-strong")
        ax.set_ylim(0, 1.15)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def section(results: list[dict[str, Any]], args: argparse.Namespace, overhead: dict[str, float] | None,
            png: str | None) -> str:
    lines = ["## Learning from traffic", "",
             f"`bench/learning.py` (Python {platform.python_version()}, 2-core machine). Each set is replayed as a "
             "stream from the shipped defaults with an empty decision log; escalations are labelled for free, "
             f"accepted drafts are shadowed at `shadow_rate={args.shadow_rate}` (the recorded strong answer plays the "
             f"shadow call, and its cost counts against the cascade), and the policy is refit every "
             f"{args.refit_every} new labels (`fit`, target {args.target:.0%}, certified at 90% confidence; shadow "
             "labels are weighted 1/shadow_rate, so the certificate uses the betting bound, which is wide on 200 "
             "weighted labels). "
             f"The last {args.tail:.0%} of each set is never streamed: the final policy, the static defaults, "
             "`calibrate()`'s method on the same labels, and the oracle are compared on it. Token counts are "
             "estimated from text length; MMLU has no answer text, so one output token each. Shares are of "
             "always-strong (GPT-4-1106) quality and cost; quality is scored on the recorded truth, never on what "
             "the learner saw.", ""]
    if png:
        lines += [f"![cumulative quality and cost]({os.path.basename(png)})", ""]
    lines += ["| set | labels the learner sees | streamed | labels | refits (first at) |",
              "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['name']} | {r['how']} | {r['stream']} | {r['labels']} | {r['refits']} "
                     f"({r['first_fit_at'] if r['first_fit_at'] else 'never: too few labels'}) |")
    lines += ["", "Cumulative over the stream (quality | cost, shadow cost included):", "",
              f"| set | learned, first {GOAL_AT} | static, first {GOAL_AT} | learned, whole stream | static, whole stream |",
              "|---|---|---|---|---|"]
    for r in results:
        c_at, s_at = r["cumulative_at"], r["static_at"]
        c, s = r["cumulative"], r["cumulative_static"]
        lines.append(f"| {r['name']} | {c_at[0]:.1%} \\| {c_at[1]:.1%} | {s_at[0]:.1%} \\| {s_at[1]:.1%} | "
                     f"{c[0]:.1%} \\| {c[1]:.1%} | {s[0]:.1%} \\| {s[1]:.1%} |")
    lines += ["", "On the held-out tail (quality | cost; no shadow calls there):", "",
              f"| set | policy after {GOAL_AT} requests | final policy | static defaults | `calibrate()` on the same labels | oracle |",
              "|---|---|---|---|---|---|"]
    for r in results:
        cells = [fmt(r[k], " \\| ") for k in ("at_goal", "final", "static", "calibrate", "oracle")]
        lines.append(f"| {r['name']} | " + " | ".join(cells) + " |")
    lines += ["", "The same tail measured the way the learner measures quality (its own labels: agreement with the "
              "strong answer, judge scores, recorded correctness), which is what the 95% target is asked of:", "",
              "| set | static defaults | final policy |", "|---|---|---|"]
    sep = " \\| "
    for r in results:
        lines.append(f"| {r['name']} | {fmt(r['static_learned'], sep)} | {fmt(r['final_learned'], sep)} |")
    lines += ["", *reading(results), ""]
    if overhead:
        lines += [f"**Log cost on the event loop** (`Learner.on_result`, what the engine calls before COMPLETE: queue "
                  f"the call for the log, roll the shadow dice, maybe start a shadow task; rows, features and labels "
                  f"are built in the log's worker thread and written by the store's): median "
                  f"{overhead['median_us']:.1f} µs, p95 {overhead['p95_us']:.1f} µs per call over 2,000 calls "
                  f"(goal: under 50 µs median); {int(overhead['dropped'])} dropped.", "",
                  f"**Shadow calls and response latency** (loopback replay server, 40 calls each, the shadow answer "
                  f"held 200 ms by the server): median `run()` latency {overhead['off_ms']:.1f} ms with no shadow "
                  f"calls, {overhead['on_ms']:.1f} ms with a shadow call on every request (a response that waited for "
                  "its shadow call would take 200 ms more; what remains is the shadow streams sharing the loop).", ""]
    return "\n".join(lines)


def reading(results: list[dict[str, Any]]) -> list[str]:
    """The goals, set by set, said plainly (computed from the numbers above, so it cannot drift from them)."""
    out = [f"Reading, against the goals (after {GOAL_AT} requests: at least 95% of the strong model's quality at no "
           "more than 50% of its cost, shadow cost included, where the oracle can reach that point; never worse than "
           "the static defaults by more than one point of quality at the same cost):", ""]
    for r in results:
        o = r["oracle"]
        reachable = o["quality_share"] >= 0.95 and o["cost_share"] <= 0.5
        at = r["at_goal"]
        cum = r["cumulative_at"]
        if not reachable:
            goal = "the oracle cannot reach 95% at 50% cost here, so the goal does not apply"
        elif r["stream"] < GOAL_AT:
            s_ok = r["static"]["quality_share"] >= 0.95 and r["static"]["cost_share"] <= 0.5
            goal = (f"the set holds only {r['n']} requests ({r['stream']} streamed, {r['labels']} labels), under the "
                    f"{MIN_LABELS} a fit needs, so the goal cannot be tested; the static defaults "
                    + ("already meet it on the tail" if s_ok else "do not meet it on the tail"))
        elif at is None:
            goal = (f"**missed**: no policy yet after {GOAL_AT} requests "
                    f"(first fit at {r['first_fit_at'] or 'never'}; {r['labels']} labels over the whole stream)")
        else:
            ok = at["quality_share"] >= 0.95 and at["cost_share"] <= 0.5 and cum[1] <= 0.5
            goal = ("**met**" if ok else "**missed**") + (
                f": the policy in force after {GOAL_AT} requests scores {at['quality_share']:.1%} at "
                f"{at['cost_share']:.1%} on the tail; the first {GOAL_AT} requests cost {cum[1]:.1%} in all")
        f, st = r["final"], r["static"]
        if f is None:
            vs = "no policy was fitted, so the cascade stayed on the static defaults"
        elif f["quality_share"] < st["quality_share"] - 0.01 and f["cost_share"] <= st["cost_share"] + 0.01:
            vs = (f"the final policy is **worse** than the static defaults ({f['quality_share']:.1%} against "
                  f"{st['quality_share']:.1%} at about the same cost)")
        elif f["quality_share"] > st["quality_share"] + 0.01:
            vs = (f"the final policy gains {f['quality_share'] - st['quality_share']:.1%} of quality over the static "
                  f"defaults ({f['quality_share']:.1%} against {st['quality_share']:.1%}), at "
                  f"{f['cost_share']:.1%} cost against {st['cost_share']:.1%}")
        elif f["quality_share"] >= st["quality_share"] - 0.01 and f["cost_share"] > st["cost_share"] + 0.01:
            vs = (f"the final policy keeps the static defaults' quality ({f['quality_share']:.1%} against "
                  f"{st['quality_share']:.1%}) but **costs more** ({f['cost_share']:.1%} against "
                  f"{st['cost_share']:.1%})")
        else:
            vs = (f"the final policy matches or beats the static defaults ({f['quality_share']:.1%} at "
                  f"{f['cost_share']:.1%} against {st['quality_share']:.1%} at {st['cost_share']:.1%})")
        out.append(f"- **{r['name']}** (the oracle reaches {o['quality_share']:.1%} at {o['cost_share']:.1%}): "
                   f"{goal}; {vs}.")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "routellm"))
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--shadow-rate", type=float, default=0.05)
    ap.add_argument("--refit-every", type=int, default=100)
    ap.add_argument("--tail", type=float, default=0.25)
    ap.add_argument("--sets", default="gsm8k,mtbench,mmlu")
    ap.add_argument("--png", default=None, help="write the cumulative curves here")
    ap.add_argument("--readme", default=None, help="write the ## Learning from traffic section into this README")
    args = ap.parse_args(argv)
    loaders = {"gsm8k": ("GSM8K", gsm8k), "mtbench": ("MT-Bench", mtbench), "mmlu": ("MMLU", mmlu)}
    results = []
    for key in args.sets.split(","):
        label, load = loaders[key]
        items, how = load(args.data)
        r = run_set(label, items, how, args)
        results.append(r)
        print(f"{label}: {r['stream']} streamed, {r['labels']} labels, {r['refits']} refits, {r['seconds']:.0f}s; "
              f"cumulative learned {r['cumulative'][0]:.1%}|{r['cumulative'][1]:.1%}, static "
              f"{r['cumulative_static'][0]:.1%}|{r['cumulative_static'][1]:.1%}; tail final {fmt(r['final'])}, "
              f"static {fmt(r['static'])}, calibrate {fmt(r['calibrate'])}, oracle {fmt(r['oracle'])}")
    overhead = log_overhead()
    print(f"log on the event loop: median {overhead['median_us']:.1f} µs, p95 {overhead['p95_us']:.1f} µs")
    shadow = shadow_latency()
    overhead.update(shadow)
    print(f"run() median latency: no shadow {shadow['off_ms']:.1f} ms, shadow on every call {shadow['on_ms']:.1f} ms")
    if args.png:
        draw(results, args.png)
        print(f"wrote {args.png}")
    body = section(results, args, overhead, args.png)
    if args.readme:
        replace_section(args.readme, "## Learning from traffic", body)
    else:
        print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
