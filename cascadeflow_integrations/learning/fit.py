"""`fit()`: learn a `Policy` from labelled traffic (a decision log) or from recorded records.

1. Every labelled request becomes an example: its prompt and draft features, the quality of the
   draft and of the strong answer, and what each cost.
2. A held-out share is set aside; the rest is the fit split.
3. One logistic model per answer kind with enough labels ("*" pools the others) estimates p(draft
   as good as the strong answer). Its out-of-fold estimates on the fit split choose the operating
   point, as `calibrate()` does: per kind, the cheapest thresholds whose bootstrap lower bound of the
   quality share reaches the target.
4. A prompt-only model (skip-the-draft) estimates the same before drafting; requests below its
   threshold go direct, when that is cheaper and keeps the bound.
5. Accept-all and escalate-all are compared on the fit split: if either beats the chosen point, it is
   used instead. The held-out split reports the result, the curve, and the baselines.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._sync import run_sync
from ..quality.calibrate import DEFAULT_DRAFT_PRICE, DEFAULT_STRONG_PRICE, ESCALATE_ALL, _price, _quality
from ..quality.routellm import est_tokens
from ..stores.base import DecisionRow, DecisionStore, Label
from .features import DEFAULT_HASH_BUCKETS, draft_features, free_checks, prompt_features
from ..routing import classify
from .labels import agreement, answer_kind
from .model import Model, fit_logistic, require_sklearn
from .policy import DEFAULT_VETOES, Group, Policy, SkipRule

logger = logging.getLogger("cascadeflow_integrations")

MIN_LABELS = 100
MIN_KIND_LABELS = 150
#: Served traffic: labels of drafts that were accepted (shadow calls, feedback) needed before a fit. Escalations
#: are all labelled, accepted drafts only by shadow calls: without enough of those, a fit knows nothing of
#: the drafts the current decision lets through and would extrapolate into them.
MIN_ACCEPTED_LABELS = 15
#: The skip rule is learned from this many fit labels on (below it: never skip, or skip all).
MIN_SKIP_LABELS = 300
#: ... and used only when it saves at least this share of always-strong cost on the fit split.
SKIP_MIN_GAIN = 0.01
_PROMPT_PREFIXES = ("complexity", "prompt_", "router_", "kind=")


class NotEnoughLabels(ValueError):
    """Too few labels to fit; `needed` says how many more, in all and per answer kind."""

    def __init__(self, message: str, have: int, needed: int, per_kind: dict[str, int]) -> None:
        super().__init__(message)
        self.have = have
        self.needed = needed
        self.per_kind = per_kind


def is_prompt_feature(name: str) -> bool:
    """Known before drafting (what the skip-the-draft model may read)."""
    return name.startswith(_PROMPT_PREFIXES) or (name[:1] == "w" and name[1:].isdigit())


@dataclass(slots=True)
class Example:
    """One labelled request. `feats` is None when there is no draft text (prompt-only labels)."""

    kind: str
    feats: dict[str, float] | None
    prompt_feats: dict[str, float]
    draft_quality: float
    strong_quality: float
    draft_cost: float
    strong_cost: float
    vetoed: bool = False
    ts: float = 0.0
    #: how many requests this label stands for: 1/shadow_rate for a shadow label of an accepted draft
    #: (only that share of accepted drafts is labelled), 1 otherwise
    weight: float = 1.0
    #: whether the draft was accepted when it was served (None: offline records, not served)
    served_accepted: bool | None = None

    @property
    def good(self) -> int:
        return int(self.draft_quality >= self.strong_quality)


# ---- examples from records ------------------------------------------------------------------


@dataclass(slots=True)
class RecordView:
    """One offline record read once: everything a decision or a label needs (format in the README)."""

    prompt: str
    kind: str
    complexity: str
    prompt_feats: dict[str, float]
    checks: list[Any]
    feats: dict[str, float] | None
    vetoed: bool
    draft_cost: float
    strong_cost: float
    #: the record's own label (draft_correct/score, strong_correct/score), else agreement with `strong`
    draft_quality: float | None
    strong_quality: float


def read_record(
    rec: Mapping[str, Any],
    draft_price: tuple[float, float] = DEFAULT_DRAFT_PRICE,
    strong_price: tuple[float, float] = DEFAULT_STRONG_PRICE,
    vetoes: Sequence[str] = DEFAULT_VETOES,
) -> RecordView:
    prompt = str(rec.get("prompt") or "")
    if not prompt:
        raise ValueError(f"a record needs a 'prompt', got keys {sorted(rec)}")
    draft = rec.get("draft")
    tools = rec.get("tools") or None
    kind = str(rec.get("kind") or answer_kind(prompt, tools))
    complexity = str(rec.get("complexity") or "") or classify(prompt)[0]
    pf = prompt_features(prompt, complexity, kind, tools, DEFAULT_HASH_BUCKETS)
    dq: float | None
    try:
        dq = _quality(rec, "draft")
    except ValueError:
        strong = rec.get("strong")
        dq = None
        if draft is not None and isinstance(strong, str):
            dq = agreement(kind, prompt, str(draft), strong, rec.get("draft_tool_calls"), rec.get("strong_tool_calls"))
    try:
        sq = _quality(rec, "strong")
    except ValueError:
        sq = 1.0  # the strong answer is the reference a draft is compared with
    feats, vetoed, checks = None, False, []
    if draft is not None:
        draft = str(draft)
        checks = free_checks(prompt, draft, complexity, rec.get("logprobs"), rec.get("finish_reason", "stop"),
                             tools, rec.get("draft_tool_calls"), rec.get("samples"), rec.get("self_check"))
        vetoed = any(c.name in vetoes and not c.passed and c.score <= 0 for c in checks)
        feats = dict(pf)
        feats.update(draft_features(prompt, draft, checks, kind, rec.get("logprobs"), rec.get("draft_tool_calls")))

    def tok(key: str, text: Any, default: int) -> int:
        v = rec.get(key)
        if v is None or v == "":
            return est_tokens(text) if isinstance(text, str) and text else default
        return int(float(v))

    tin = tok("input_tokens", prompt, 1)
    dout = tok("draft_tokens", draft, 1)
    sout = tok("strong_tokens", rec.get("strong"), dout)
    dp, sp = _price(rec.get("draft_price"), draft_price), _price(rec.get("strong_price"), strong_price)
    dc = float(rec["draft_cost"]) if rec.get("draft_cost") not in (None, "") else (tin * dp[0] + dout * dp[1]) / 1e6
    sc = float(rec["strong_cost"]) if rec.get("strong_cost") not in (None, "") else (tin * sp[0] + sout * sp[1]) / 1e6
    return RecordView(prompt, kind, complexity, pf, checks, feats, vetoed, dc, sc, dq, float(sq))


def example_from_record(
    rec: Mapping[str, Any],
    draft_price: tuple[float, float] = DEFAULT_DRAFT_PRICE,
    strong_price: tuple[float, float] = DEFAULT_STRONG_PRICE,
) -> Example | None:
    """An example from one offline record; None when it carries no label."""
    v = read_record(rec, draft_price, strong_price)
    if v.draft_quality is None:
        return None
    return Example(v.kind, v.feats, v.prompt_feats, float(v.draft_quality), v.strong_quality, v.draft_cost,
                   v.strong_cost, v.vetoed, float(rec.get("ts") or 0.0))


# ---- examples from a decision log -----------------------------------------------------------

_SOURCE_RANK = {"escalation": 0, "shadow": 0, "judge": 1, "feedback": 2}


def examples_from_log(rows: Sequence[DecisionRow], labels: Sequence[Label]) -> list[Example]:
    """Join logged rows with their labels. The user's own labels outrank judges, which outrank agreement."""
    by_req: dict[str, list[Label]] = {}
    for lb in labels:
        by_req.setdefault(lb.request_id, []).append(lb)
    out = []
    for row in rows:
        lbs = by_req.get(row.request_id)
        if not lbs or row.strategy != "cascade" or not row.features:
            continue
        accepted = row.draft_accepted
        draft_l = [lb for lb in lbs if lb.target == "draft" or (lb.target == "final" and accepted)]
        strong_l = [lb for lb in lbs if lb.target == "final" and accepted is False]
        if not draft_l:
            continue
        best = max(draft_l, key=lambda lb: (_SOURCE_RANK.get(lb.source, 0), lb.ts))
        sq = max(strong_l, key=lambda lb: (_SOURCE_RANK.get(lb.source, 0), lb.ts)).score if strong_l else 1.0
        draft_a = next((a for a in row.attempts if a.get("phase") == "draft"), None)
        strong_a = next((a for a in row.attempts if a.get("phase") == "verifier" and not a.get("error")), None)
        shadow = next((lb for lb in lbs if lb.source == "shadow" and lb.cost), None)
        # a member without a known price logs cost None: it counts as 0 here (the fit then weighs quality only)
        dc = float(draft_a.get("cost") or 0.0) if draft_a else 0.0
        if strong_a is not None:
            sc = float(strong_a.get("cost") or 0.0)
        elif shadow is not None:
            sc = shadow.cost
        else:
            sc = float(row.baseline_cost or 0.0)
        feats = {k: float(v) for k, v in row.features.items()}
        pf = {k: v for k, v in feats.items() if is_prompt_feature(k)}
        vetoed = any(c.get("name") in DEFAULT_VETOES and not c.get("passed", True) and float(c.get("score", 1)) <= 0
                     for c in row.checks)
        out.append(Example(row.answer_kind or "free_text", feats, pf, best.score, sq, dc, sc, vetoed, row.ts,
                           best.weight, accepted))
    return out


# ---- the fit --------------------------------------------------------------------------------


def _point(exs: Sequence[Example], accepted: Sequence[bool], skipped: Sequence[bool]) -> dict[str, float]:
    """Quality, cost, escalation and skip shares of always-strong for one set of decisions (weighted)."""
    q = c = esc = nsk = 0.0
    for e, a, s in zip(exs, accepted, skipped):
        w = e.weight
        if s:
            q, c, nsk = q + w * e.strong_quality, c + w * e.strong_cost, nsk + w
        elif a:
            q, c = q + w * e.draft_quality, c + w * e.draft_cost
        else:
            q, c, esc = q + w * e.strong_quality, c + w * (e.draft_cost + e.strong_cost), esc + w
    sq = sum(e.weight * e.strong_quality for e in exs) or 1.0
    sc = sum(e.weight * e.strong_cost for e in exs) or 1.0
    n = sum(e.weight for e in exs) or 1.0
    return {"quality_share": round(q / sq, 4), "cost_share": round(c / sc, 4), "escalation_share": round(esc / n, 4),
            "skip_share": round(nsk / n, 4), "n": len(exs)}


def _folds(n: int, k: int, seed: int) -> list[list[int]]:
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    return [idx[i::k] for i in range(k)]


def _group_of(kind: str, own: set[str]) -> str:
    return kind if kind in own else "*"


def _fit_one(exs: Sequence[Example], c: float, prompt_only: bool = False) -> Model:
    xs = [e.prompt_feats if prompt_only else (e.feats or {}) for e in exs]
    return fit_logistic(xs, [e.good for e in exs], c, [e.weight for e in exs])


def _fit_groups(exs: Sequence[Example], own: set[str], c: float) -> dict[str, Model]:
    models = {"*": _fit_one(exs, c)}
    for g in own:
        models[g] = _fit_one([e for e in exs if e.kind == g], c)
    return models


def _scores(models: Mapping[str, Model], exs: Sequence[Example], own: set[str]) -> list[float]:
    # A vetoed draft scores -1, so no threshold accepts it (as calibrate scores a hard failure).
    return [-1.0 if e.vetoed else models[_group_of(e.kind, own)].predict(e.feats or {}) for e in exs]


def _oof(exs: Sequence[Example], own: set[str], c: float, k: int, seed: int, prompt_only: bool = False) -> list[float]:
    """Out-of-fold estimates: each example scored by models fitted without it."""
    out = [0.0] * len(exs)
    k = max(2, min(k, len(exs)))
    for fold in _folds(len(exs), k, seed):
        held = set(fold)
        train = [e for i, e in enumerate(exs) if i not in held]
        if prompt_only:
            m = _fit_one(train, c, prompt_only=True)
            for i in fold:
                out[i] = m.predict(exs[i].prompt_feats)
        else:
            models = _fit_groups(train, own, c)
            for i, s in zip(fold, _scores(models, [exs[i] for i in fold], own)):
                out[i] = s
    return out


class _Boot:
    """Weighted bootstrap resamples of the fit split: the lower bound of the quality share of any decisions.

    Each resample reweights the examples (multinomial counts times each example's own weight, e.g.
    1/shadow_rate for a shadow label), so a bound costs one matrix product per candidate set.
    """

    def __init__(self, exs: Sequence[Example], n_boot: int, seed: int, q: float) -> None:
        import numpy as np

        self.np = np
        n = len(exs)
        w = np.asarray([e.weight for e in exs])
        counts = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=max(1, n_boot))
        self.w = counts * w
        self.q = q
        self.strong = np.asarray([e.strong_quality for e in exs])
        base = self.w @ self.strong
        self.bad = base <= 0
        self.base = np.where(self.bad, 1.0, base)

    def contrib(self, idx: Sequence[int], qual: Any) -> Any:
        """(resamples x candidates) quality summed over the examples `idx` (rows of `qual`)."""
        return self.w[:, list(idx)] @ qual

    def lower(self, total: Any) -> Any:
        """The q-quantile over resamples of total/base, per column of `total` (resamples x candidates)."""
        share = total / self.base[:, None]
        share[self.bad] = 1.0
        share = self.np.sort(share, axis=0)
        return share[int(self.q * (len(share) - 1))]


def _draft_thresholds(
    fitx: Sequence[Example],
    draft_idx: Sequence[int],
    scores: Sequence[float],
    groups: Sequence[str],
    boot: _Boot,
    fixed: Any,
    target: float,
    cands: int = 60,
) -> dict[str, float]:
    """Per group, the cheapest thresholds whose bootstrap lower bound of the quality share reaches the target.

    `draft_idx` are the examples with a draft (positions in `fitx`, with their `scores` and `groups`);
    `fixed` is the resampled quality of the others. Coordinate descent from escalate-all (always
    feasible), as `calibrate()` allocates per-level thresholds: each pass moves one group to its
    cheapest feasible threshold with the others held.
    """
    np = boot.np
    by_g: dict[str, list[int]] = {}
    for k, g in enumerate(groups):
        by_g.setdefault(g, []).append(k)
    cand: dict[str, list[float]] = {}
    contrib: dict[str, Any] = {}
    cost: dict[str, Any] = {}
    for g, ks in by_g.items():
        sc = np.asarray([scores[k] for k in ks])
        valid = sc[sc >= 0]
        qs = np.unique(np.quantile(valid, np.linspace(0, 1, cands))) if len(valid) else np.asarray([])
        ts = [0.0, *[float(t) for t in qs if t > 0], ESCALATE_ALL]
        acc = sc[:, None] >= np.asarray(ts)[None, :]
        e = [fitx[draft_idx[k]] for k in ks]
        dq = np.asarray([x.draft_quality for x in e])[:, None]
        sq = np.asarray([x.strong_quality for x in e])[:, None]
        w = np.asarray([x.weight for x in e])
        dc = np.asarray([x.draft_cost for x in e])[:, None]
        scs = np.asarray([x.strong_cost for x in e])[:, None]
        cand[g] = ts
        contrib[g] = boot.contrib([draft_idx[k] for k in ks], np.where(acc, dq, sq))
        cost[g] = w @ np.where(acc, dc, dc + scs)
    pos = {g: len(cand[g]) - 1 for g in by_g}
    total = fixed + sum(contrib[g][:, pos[g]] for g in by_g)
    for _ in range(4):
        changed = False
        for g in by_g:
            others = total - contrib[g][:, pos[g]]
            lb = boot.lower(others[:, None] + contrib[g])
            ok = [j for j in range(len(cand[g])) if lb[j] >= target]
            if not ok:
                continue
            j = min(ok, key=lambda j: (cost[g][j], -j))
            if j != pos[g] and cost[g][j] < cost[g][pos[g]] - 1e-15:
                pos[g], changed = j, True
                total = others + contrib[g][:, j]
        if not changed:
            break
    return {g: cand[g][pos[g]] for g in by_g}


def _need_message(have: int, min_labels: int, counts: Counter[str], min_kind: int) -> NotEnoughLabels:
    per_kind = {k: max(0, min_kind - n) for k, n in sorted(counts.items())}
    kinds = ", ".join(f"{k} {n} (needs {per_kind[k]} more for a model of its own)" if per_kind[k] else f"{k} {n}"
                      for k, n in sorted(counts.items())) or "none"
    return NotEnoughLabels(
        f"fit needs at least {min_labels} labelled requests, has {have}: {min_labels - have} more needed. "
        f"Labels per answer kind: {kinds}. Label requests with shadow_rate=..., agent.feedback(...), "
        "or record escalations.",
        have, min_labels - have, per_kind,
    )


def fit_examples(
    examples: Sequence[Example],
    target_quality: float = 0.95,
    *,
    confidence: float = 0.7,
    holdout: float = 0.3,
    min_labels: int = MIN_LABELS,
    min_kind_labels: int = MIN_KIND_LABELS,
    min_skip_labels: int = MIN_SKIP_LABELS,
    min_accepted_labels: int = MIN_ACCEPTED_LABELS,
    n_boot: int = 400,
    folds: int = 5,
    seed: int = 0,
    c: float = 0.5,
    skip: bool = True,
    name: str | None = None,
    notes: Sequence[str] = (),
) -> Policy:
    """The fit on prepared examples (what `fit` does after reading records or a log)."""
    if not 0 < target_quality <= 1.5:
        raise ValueError(f"target_quality must be a share of the strong model's quality in (0, 1.5], got {target_quality}")
    if not 0 <= holdout < 1:
        raise ValueError(f"holdout must be in [0, 1), got {holdout}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    counts = Counter(e.kind for e in examples)
    if len(examples) < min_labels:
        raise _need_message(len(examples), min_labels, counts, min_kind_labels)
    served = [e for e in examples if e.served_accepted is not None]
    n_acc = sum(1 for e in served if e.served_accepted)
    if served and any(e.served_accepted is False for e in served) and n_acc < min_accepted_labels:
        raise NotEnoughLabels(
            f"fit needs labels of accepted drafts too: has {n_acc} of the {min_accepted_labels} needed "
            f"({min_accepted_labels - n_acc} more). Escalations label themselves; accepted drafts are labelled "
            "by shadow calls (shadow_rate=...) or agent.feedback(...).",
            len(examples), min_accepted_labels - n_acc, {})
    require_sklearn()
    import numpy as np

    t0 = time.perf_counter()
    idx = list(range(len(examples)))
    random.Random(seed).shuffle(idx)
    n_held = int(round(len(idx) * holdout))
    held = [examples[i] for i in sorted(idx[:n_held])]
    fitx = [examples[i] for i in sorted(idx[n_held:])]
    drafts = [i for i, e in enumerate(fitx) if e.feats is not None]
    dex = [fitx[i] for i in drafts]
    own = {k for k, n in Counter(e.kind for e in dex).items()
           if n >= min_kind_labels * (1 - holdout) and len({e.good for e in dex if e.kind == k}) == 2}
    boot = _Boot(fitx, n_boot, seed, 1.0 - confidence)

    # Draft thresholds per group on out-of-fold estimates. Without any draft text (prompt-only labels)
    # a request that is not skipped keeps its draft: that is what the skip threshold is chosen for.
    thresholds: dict[str, float] = {"*": 0.0}
    score = [1.0] * len(fitx)
    if dex:
        oof = _oof(dex, own, c, folds, seed)
        for i, s in zip(drafts, oof):
            score[i] = s
        in_drafts = set(drafts)
        rest = [i for i in range(len(fitx)) if i not in in_drafts]
        # Examples without a draft keep their draft quality inside every bound (they are accepted).
        fixed = boot.contrib(rest, np.asarray([[fitx[i].draft_quality] for i in rest]))[:, 0] if rest else 0.0
        groups = [_group_of(e.kind, own) for e in dex]
        thresholds = _draft_thresholds(fitx, drafts, oof, groups, boot, fixed, target_quality)
        thresholds.setdefault("*", ESCALATE_ALL)
    models = _fit_groups(dex, own, c) if dex else {"*": fit_logistic([], [], c)}
    acc_fit = [fitx[i].feats is None or score[i] >= thresholds.get(_group_of(fitx[i].kind, own), ESCALATE_ALL)
               for i in range(len(fitx))]

    # Skip-the-draft on prompt-only out-of-fold estimates: the cheapest threshold keeping the bound.
    two_classes = len({e.good for e in fitx}) == 2
    skip_model: Model | None = None
    p_skip = [1.0] * len(fitx)
    cands: list[float | str] = ["never"]
    if skip:
        skip_model = _fit_one(fitx, c, prompt_only=True) if two_classes else fit_logistic([], [e.good for e in fitx], c)
        if two_classes:
            p_skip = _oof(fitx, set(), c, folds, seed + 1, prompt_only=True)
            cands += [float(v) for v in np.unique(np.quantile(p_skip, np.linspace(0.02, 0.98, 49)).round(4))]
        cands.append("always")

    def skipped(t: float | str, p: float) -> bool:
        return t == "always" or (t != "never" and p < float(t))

    ps = np.asarray(p_skip)
    dq = np.asarray([e.draft_quality for e in fitx])
    sq = np.asarray([e.strong_quality for e in fitx])
    dc = np.asarray([e.draft_cost for e in fitx])
    sc = np.asarray([e.strong_cost for e in fitx])
    wt = np.asarray([e.weight for e in fitx])
    acc = np.asarray(acc_fit)
    kept_q = np.where(acc, dq, sq)
    kept_c = np.where(acc, dc, dc + sc)
    sk = np.stack([np.full(len(fitx), t == "always") if isinstance(t, str) else ps < t for t in cands], axis=1)
    qual = np.where(sk, sq[:, None], kept_q[:, None])
    cost = wt @ np.where(sk, sc[:, None], kept_c[:, None])
    lower = boot.lower(boot.contrib(range(len(fitx)), qual))
    feasible = [j for j in range(len(cands)) if lower[j] >= target_quality]
    if len(fitx) < min_skip_labels:
        feasible = [j for j in feasible if j in (0, len(cands) - 1)]  # too few to learn whom to skip
    j_best = min(feasible, key=lambda j: (cost[j], j)) if feasible else len(cands) - 1
    if 0 in feasible and cost[0] - cost[j_best] < SKIP_MIN_GAIN * float(wt @ sc):
        j_best = 0  # skipping must pay for the drafts it gives up: a clear gain on the fit split, or never
    skip_t = cands[j_best]
    bound = float(lower[j_best])

    # Never worse than a trivial policy on the fit split.
    n = len(fitx)
    skip_fit = [skipped(skip_t, p) for p in p_skip]
    chosen = _point(fitx, acc_fit, skip_fit)
    accept_all = _point(fitx, [True] * n, [False] * n)
    escalate_all = _point(fitx, [True] * n, [True] * n)
    guard = None
    for label, pt in (("accept_all", accept_all), ("escalate_all", escalate_all)):
        if pt["quality_share"] >= chosen["quality_share"] and pt["cost_share"] <= chosen["cost_share"] and pt != chosen:
            guard = label
            break
    group_t: dict[str, float | str] = {}
    for g in {"*", *own}:
        t = thresholds.get(g, ESCALATE_ALL)
        group_t[g] = "escalate_all" if t > 1.0 else ("accept_all" if t <= 0.0 else round(float(t), 6))
    if guard == "accept_all":
        group_t = {g: "accept_all" for g in group_t}
        skip_t, chosen = "never", accept_all
        bound = float(boot.lower(boot.contrib(range(n), dq[:, None]))[0])
    elif guard == "escalate_all":
        skip_t, chosen, bound = "always", escalate_all, 1.0

    n_by_group = Counter(_group_of(e.kind, own) for e in dex)
    policy = Policy(
        groups={g: Group(models[g], group_t[g], n_by_group.get(g, 0)) for g in group_t},
        skip=SkipRule(skip_model, skip_t) if skip_model is not None else None,
        target_quality=target_quality,
        confidence=confidence,
    )

    # Held-out report: the policy as it will run, the baselines, and the curve.
    report: dict[str, Any] = {
        "n_labels": len(examples),
        "n_fit": len(fitx),
        "n_heldout": len(held),
        "labels_per_kind": dict(sorted(counts.items())),
        "own_models": sorted(own),
        "min_kind_labels": min_kind_labels,
        "fit": chosen,
        "fit_lower_bound": round(bound, 4),
        "confidence": confidence,
        "guard": guard,
        "notes": list(notes),
    }
    if held:
        h_acc, h_skip, h_p = [], [], []
        for e in held:
            h_skip.append(policy.skip is not None and policy.skip.skips(policy.skip.model.predict(e.prompt_feats)))
            if e.feats is None:
                h_acc.append(True)
                h_p.append(1.0)
            else:
                _, grp = policy.group_for(e.kind)
                p = -1.0 if e.vetoed else grp.model.predict(e.feats)
                h_p.append(p)
                h_acc.append(p >= 0 and grp.accepts(p))
        nh = len(held)
        report["heldout"] = _point(held, h_acc, h_skip)
        report["heldout_accept_all"] = _point(held, [True] * nh, [False] * nh)
        report["heldout_oracle"] = _point(held, [e.draft_quality >= e.strong_quality for e in held], [False] * nh)
        report["heldout_curve"] = [
            {"threshold": t, **_point(held, [e.feats is None or p >= t for e, p in zip(held, h_p)], [False] * nh)}
            for t in [round(0.05 * k, 2) for k in range(21)]
        ]
    else:
        report["notes"].append("holdout=0: no held-out report")
    report["fit_seconds"] = round(time.perf_counter() - t0, 3)
    policy.report = report
    digest = hashlib.blake2b(repr(policy.to_dict()["groups"]).encode(), digest_size=4).hexdigest()
    policy.name = name or f"fitted-{digest}"
    return policy


def _is_store(x: Any) -> bool:
    return isinstance(x, DecisionStore)


async def afit(records_or_store: Any, target_quality: float = 0.95, **kw: Any) -> Policy:
    """`fit` from async code (reads a store without blocking the loop; the fit runs in a thread)."""
    import asyncio

    if _is_store(records_or_store):
        store: DecisionStore = records_or_store
        examples = examples_from_log(await store.rows(), await store.labels())
        return await asyncio.to_thread(fit_examples, examples, target_quality, **kw)
    return await asyncio.to_thread(fit, records_or_store, target_quality, **kw)


def fit(
    records_or_store: DecisionStore | Iterable[Mapping[str, Any]],
    target_quality: float = 0.95,
    *,
    draft_price: tuple[float, float] = DEFAULT_DRAFT_PRICE,
    strong_price: tuple[float, float] = DEFAULT_STRONG_PRICE,
    **kw: Any,
) -> Policy:
    """Learn a policy from a decision log (`DecisionStore`) or offline records (dicts; format in the README).

    Keyword options: `confidence` (0.7: the bootstrap lower bound's level), `holdout` (0.3),
    `min_labels` (100), `min_kind_labels` (150: labels an answer kind needs for a model of its own),
    `n_boot`, `folds`, `seed`, `c` (inverse L2 strength), `skip` (learn skip-the-draft, True).
    Raises `NotEnoughLabels` (a ValueError saying how many more are needed per kind) on too few labels.
    """
    if _is_store(records_or_store):
        store: DecisionStore = records_or_store  # type: ignore[assignment]

        async def read() -> tuple[list[DecisionRow], list[Label]]:
            return await store.rows(), await store.labels()

        rows, labels = run_sync(read())
        return fit_examples(examples_from_log(rows, labels), target_quality, **kw)
    if isinstance(records_or_store, (str, bytes)) or not isinstance(records_or_store, Iterable):
        raise ValueError(
            f"fit() takes a DecisionStore or an iterable of record dicts, got {type(records_or_store).__name__}: "
            "for a log file pass SQLiteStore('cascade.db')"
        )
    examples, unlabelled = [], 0
    for rec in records_or_store:
        if not isinstance(rec, Mapping):
            raise ValueError(f"each record must be a dict (prompt, draft, draft_correct, ...), got {type(rec).__name__}")
        ex = example_from_record(rec, draft_price, strong_price)
        if ex is None:
            unlabelled += 1
        else:
            examples.append(ex)
    notes = [f"{unlabelled} record(s) without a label were skipped"] if unlabelled else []
    return fit_examples(examples, target_quality, notes=notes, **kw)
