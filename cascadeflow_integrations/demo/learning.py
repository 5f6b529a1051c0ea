"""The demo's offline learning scenario: a replayed stream that starts from the shipped defaults, collects
labels (escalations, shadow calls), refits, and ends with quality and cost before and after."""

from __future__ import annotations

import os
import tempfile
from typing import TextIO

from ..learning.replay import ReplayResult, prepare, replay, score, synthetic_records

STREAM, TAIL, SHADOW_RATE, REFIT_EVERY = 900, 300, 0.25, 50


def _png(res: ReplayResult, path: str) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    xs = range(1, len(res.learned) + 1)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(xs, [q for q, _ in res.learned], color="tab:blue", label="learning: quality")
    ax.plot(xs, [c for _, c in res.learned], color="tab:blue", ls="--", label="learning: cost (incl. shadow calls)")
    ax.plot(xs, [q for q, _ in res.static], color="tab:gray", label="shipped defaults: quality")
    ax.plot(xs, [c for _, c in res.static], color="tab:gray", ls="--", label="shipped defaults: cost")
    for j, _ in res.policies:
        ax.axvline(j, color="tab:green", alpha=0.3, lw=0.8)
    ax.set_xlabel("requests served (green: a refit)")
    ax.set_ylabel("cumulative share of always-strong")
    ax.set_ylim(0, 1.1)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run_learning(out: TextIO, png: str | None = None) -> bool:
    """Replay the stream, print before/after, write the curve; True when the learned policy did not lose quality."""
    recs = synthetic_records(STREAM + TAIL)
    items = prepare(recs, lambda r, v: (float(r["draft_correct"]), 1.0), lambda r: (float(r["draft_correct"]), 1.0))
    stream, tail = items[:STREAM], items[STREAM:]
    out.write("\nLearning from traffic (offline): a made-up stream of word problems worded unlike the data the shipped\n"
              f"thresholds were fitted on. {STREAM} requests are served from the defaults with an empty decision log;\n"
              f"escalations are labelled for free, {SHADOW_RATE:.0%} of accepted drafts get a shadow call, and the "
              f"policy is refit every {REFIT_EVERY} labels.\n")
    res = replay(stream, 0.95, SHADOW_RATE, REFIT_EVERY)
    before, after = score(None, tail), score(res.final, tail)
    shadow_labels = sum(1 for e in res.labels if e.weight != 1.0)
    out.write(f"labels: {len(res.labels)} ({len(res.labels) - shadow_labels} from escalations, {shadow_labels} from "
              f"shadow calls); refits: {len(res.policies)}; shadow calls cost {res.shadow_cost:.4f} $ "
              "(counted in the curve's cost)\n")
    out.write(f"on the {TAIL} held-out requests, as shares of always using the strong model:\n"
              f"  before (shipped defaults): quality {before['quality_share']:.1%}, cost {before['cost_share']:.1%}\n"
              f"  after  (learned policy):   quality {after['quality_share']:.1%}, cost {after['cost_share']:.1%}\n")
    path = _png(res, png or os.path.join(tempfile.gettempdir(), "cascadeflow-demo-learning.png"))
    out.write(f"cumulative curve: {path}\n" if path else "cumulative curve: not drawn (pip install matplotlib)\n")
    return res.final is not None and after["quality_share"] >= before["quality_share"] - 0.01
