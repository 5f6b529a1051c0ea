"""`fit()`: learn a `Policy` from labelled traffic (a decision log) or recorded records, and certify it.

1. Every labelled request becomes an example: its prompt and draft features, the quality of the
   draft and of the strong answer, and what each cost.
2. Scorers from simple to rich: single recorded signals (the free checks' score, mean and minimum
   token logprob, agreement, self-check), the regularised logistic model (its capacity chosen by
   cross-validation) and the same with a skip-the-draft rule; prompt-only labels get the skip model.
   Every label is scored out of fold (by a model that did not see it).
3. Each scorer's thresholds are tested from strict to loose (`certify`: Learn-then-Test, betting
   p-values, fixed-sequence testing, Bonferroni over scorers). The cheapest certified point wins; when
   none certifies a saving, every request goes to the strong model and the report says how many labels
   a saving would need.
4. The report's held-out numbers come from nested folds: the whole fit rerun without each fold.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import math
import random
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._sync import run_sync
from ..errors import ConfigError, NotEnoughLabels, RecordError, unknown_keyword
from ..models.prices import Price
from ..tools.call import ToolCall
from ..types import Usage
from .calibrate import DEFAULT_DRAFT_PRICE, DEFAULT_STRONG_PRICE, ESCALATE_ALL, MissingLabel, _price, _quality, _recorded_list
from .routellm import est_tokens
from ..stores.base import DecisionRow, DecisionStore, Label
from .features import DEFAULT_HASH_BUCKETS, features, free_checks, prompt_features
from ..routing import classify
from .labels import agreement, answer_kind
from . import certify
from .model import ConstantModel, Model, SignalModel, fit_logistic, require_sklearn
from .policy import DEFAULT_CONFIDENCE, DEFAULT_VETOES, Group, Policy, SkipRule

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


def is_prompt_feature(name: str) -> bool:
    """Known before drafting (what the skip-the-draft model may read)."""
    return name.startswith(_PROMPT_PREFIXES) or _words(name)


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
    """One offline record read once: everything a decision or a label needs (format in docs/learning.md, "Offline records")."""

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


def _tool_calls(rec: Mapping[str, Any], key: str) -> list[ToolCall] | None:
    """A record's tool calls as `ToolCall`s: JSON records hold plain dicts (`{"name", "arguments"}`, or
    OpenAI's `{"function": {...}}`), CSV rows a JSON list."""
    v = _recorded_list(rec.get(key), key)
    if v is None:
        return None
    calls = []
    for i, c in enumerate(v):
        if isinstance(c, ToolCall):
            calls.append(c)
            continue
        fn = c.get("function") if isinstance(c, Mapping) and isinstance(c.get("function"), Mapping) else c
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
            raise ValueError(f"record field {key!r}[{i}] must be a tool call with a 'name' and 'arguments', got {c!r:.80}")
        args = fn.get("arguments", fn.get("args"))
        calls.append(ToolCall(str(c.get("id") or f"call_{i}"), fn["name"], args if isinstance(args, (dict, str)) else None))
    return calls


def read_record(
    rec: Mapping[str, Any],
    draft_price: Price | tuple[float, float] = DEFAULT_DRAFT_PRICE,
    strong_price: Price | tuple[float, float] = DEFAULT_STRONG_PRICE,
    vetoes: Sequence[str] = DEFAULT_VETOES,
) -> RecordView:
    prompt = str(rec.get("prompt") or "")
    if not prompt:
        raise ValueError(f"a record needs a 'prompt', got keys {sorted(rec)}")
    draft = rec.get("draft")
    tools = rec.get("tools") or None
    draft_calls, strong_calls = _tool_calls(rec, "draft_tool_calls"), _tool_calls(rec, "strong_tool_calls")
    kind = str(rec.get("kind") or answer_kind(prompt, tools))
    complexity = str(rec.get("complexity") or "") or classify(prompt)[0]
    pf = prompt_features(prompt, complexity, kind, tools, DEFAULT_HASH_BUCKETS)
    dq: float | None
    try:
        dq = _quality(rec, "draft")
    except MissingLabel:
        strong = rec.get("strong")
        dq = None
        if draft is not None and isinstance(strong, str):
            dq = agreement(kind, prompt, str(draft), strong, draft_calls, strong_calls)
    try:
        sq = _quality(rec, "strong")
    except MissingLabel:
        sq = 1.0  # the strong answer is the reference a draft is compared with
    feats, vetoed, checks = None, False, []
    if draft is not None:
        draft = str(draft)
        checks = free_checks(prompt, draft, complexity, rec.get("logprobs"), rec.get("finish_reason", "stop"),
                             tools, draft_calls, rec.get("samples"), rec.get("self_check"))
        vetoed = any(c.name in vetoes and not c.passed and c.score <= 0 for c in checks)
        feats = features(prompt, draft, checks, complexity=complexity, kind=kind, tools=tools,
                         logprobs=rec.get("logprobs"), tool_calls=draft_calls,
                         hash_buckets=DEFAULT_HASH_BUCKETS, prompt_feats=pf)

    def tok(key: str, text: Any, default: int) -> int:
        v = rec.get(key)
        if v is None or v == "":
            return est_tokens(text) if isinstance(text, str) and text else default
        return int(float(v))

    tin = tok("input_tokens", prompt, 1)
    dout = tok("draft_tokens", draft, 1)
    sout = tok("strong_tokens", rec.get("strong"), dout)
    dp, sp = _price(rec.get("draft_price"), draft_price), _price(rec.get("strong_price"), strong_price)
    dc = float(rec["draft_cost"]) if rec.get("draft_cost") not in (None, "") else dp.cost(Usage(tin, dout))
    sc = float(rec["strong_cost"]) if rec.get("strong_cost") not in (None, "") else sp.cost(Usage(tin, sout))
    return RecordView(prompt, kind, complexity, pf, checks, feats, vetoed, dc, sc, dq, float(sq))


def example_from_record(
    rec: Mapping[str, Any],
    draft_price: Price | tuple[float, float] = DEFAULT_DRAFT_PRICE,
    strong_price: Price | tuple[float, float] = DEFAULT_STRONG_PRICE,
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
    order: dict[int, int] = {}
    for i, lb in enumerate(labels):
        by_req.setdefault(lb.request_id, []).append(lb)
        order[id(lb)] = i  # the store's order: a repeated feedback replaces the earlier one, even at equal ts
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
        def rank(lb: Label) -> tuple[int, float, int]:
            return _SOURCE_RANK.get(lb.source, 0), lb.ts, order[id(lb)]

        best = max(draft_l, key=rank)
        sq = max(strong_l, key=rank).score if strong_l else 1.0
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


#: Model capacities tried by cross-validation: (hashed prompt words?, inverse L2 strength C). Few labels
#: overfit a hundred word features; cross-validated log-loss says when the words earn their place.
CAPACITIES: tuple[tuple[bool, float], ...] = ((False, 0.1), (True, 0.1))
#: Single recorded signals tried as scorers of their own: (feature, transform into [0, 1]).
SIGNALS: tuple[tuple[str, str], ...] = (
    ("checks_product", "identity"),  # the shipped free checks' score
    ("lp_mean", "exp"),
    ("lp_min", "exp"),
    ("check:agreement", "identity"),
    ("check:self_check", "identity"),
)
#: A skip rule sends at most this share of (the lowest-estimate) requests direct.
SKIP_MAX_SHARE = 0.4
#: A signal becomes a candidate when this share of drafts carries it (else it only spends confidence).
MIN_SIGNAL_SHARE = 0.5


def _grid() -> list[float]:
    """Thresholds from strict to loose: the order of fixed-sequence testing (fixed before any label is seen)."""
    fine = {round(1.0 - 10.0 ** (-k / 8), 6) for k in range(8, 33)}  # 0.9 .. 0.9999: where logprob scores sit
    return sorted(fine | {round(k / 50, 4) for k in range(51)}, reverse=True)


GRID = _grid()


def _words(name: str) -> bool:
    """A hashed word of the prompt (`w17`)."""
    return name[:1] == "w" and name[1:].isdigit()


def _capacity_feats(exs: Sequence[Example], words: bool) -> list[Example]:
    if words:
        return list(exs)
    out = []
    for e in exs:
        f = {k: v for k, v in (e.feats or {}).items() if not _words(k)}
        out.append(Example(e.kind, f, e.prompt_feats, e.draft_quality, e.strong_quality, e.draft_cost,
                           e.strong_cost, e.vetoed, e.ts, e.weight, e.served_accepted))
    return out


def _log_loss(p: Sequence[float], exs: Sequence[Example]) -> float:
    tot = wt = 0.0
    for pi, e in zip(p, exs):
        if e.vetoed:
            continue
        q = min(1 - 1e-6, max(1e-6, pi))
        tot -= e.weight * (math.log(q) if e.good else math.log(1 - q))
        wt += e.weight
    return tot / wt if wt else 0.0


@dataclass
class _Candidate:
    """One scorer: its cross-fitted score per example and how a rejection is served."""

    name: str
    scores: Any  # (n,) in [0, 1]; -1: never accepted (vetoed, or the signal is missing)
    prompt_mode: bool = False  # a rejected request goes direct (no draft is paid)
    #: a skip rule may be added: certified with credit only where no skip level could send a request direct
    skippable: bool = False
    words: bool = True
    c: float = 0.5


@dataclass
class _Choice:
    cand: _Candidate | None  # None: every request goes direct (always certified)
    threshold: float
    skip: float | str
    cost: float
    quality: float
    p_value: float


class _Data:
    """The labels as arrays, once."""

    def __init__(self, exs: Sequence[Example]) -> None:
        import numpy as np

        self.np = np
        self.dq = np.asarray([e.draft_quality for e in exs], dtype=float)
        self.sq = np.asarray([e.strong_quality for e in exs], dtype=float)
        self.w = np.asarray([e.weight for e in exs], dtype=float)
        self.dc = np.asarray([e.draft_cost for e in exs], dtype=float)
        self.sc = np.asarray([e.strong_cost for e in exs], dtype=float)
        self.total_sc = float(self.w @ self.sc) or 1.0
        self.total_sq = float(self.w @ self.sq) or 1.0

    def cost(self, acc: Any, skipped: Any, prompt_mode: bool = False) -> Any:
        """Cost of accept patterns (n, T) with skipped (n, T) requests sent direct."""
        np = self.np
        dc, sc = self.dc[:, None], self.sc[:, None]
        drafted = np.where(acc, dc, sc if prompt_mode else dc + sc)
        return self.w @ np.where(skipped, sc, drafted)

    def quality(self, acc: Any) -> Any:
        """Quality shares of accept patterns (n, T)."""
        return (self.w @ self.np.where(acc, self.dq[:, None], self.sq[:, None])) / self.total_sq


def _model_scores(dex: Sequence[Example], own: set[str], folds: int, seed: int,
                  capacities: Sequence[tuple[bool, float]]) -> tuple[list[float], bool, float]:
    """Out-of-fold p(good) of the capacity with the best cross-validated log-loss."""
    best: tuple[float, list[float], bool, float] | None = None
    for words, c in capacities:
        exs = _capacity_feats(dex, words)
        oof = _oof(exs, own, c, folds, seed)
        ll = _log_loss(oof, exs)
        if best is None or ll < best[0] - 1e-9:
            best = (ll, oof, words, c)
    assert best is not None
    return best[1], best[2], best[3]


def _candidates(exs: Sequence[Example], own: set[str], folds: int, seed: int, skip: bool,
                min_skip_labels: int, capacities: Sequence[tuple[bool, float]]) -> tuple[list[_Candidate], Any]:
    """Every scorer worth certifying, from simple to rich, and the prompt-only (skip) estimates."""
    np = _np_mod()
    n = len(exs)
    drafts = [i for i, e in enumerate(exs) if e.feats is not None]
    two = len({e.good for e in exs}) == 2
    cands: list[_Candidate] = []
    p_skip = None
    if skip and two and (not drafts or n >= min_skip_labels):
        p_skip = np.asarray(_oof(exs, set(), 0.1, folds, seed + 1, prompt_only=True))
    if not drafts:  # prompt-only labels: the skip model is the only scorer
        if p_skip is not None:
            cands.append(_Candidate("prompt model", p_skip, prompt_mode=True))
        return cands, p_skip

    def spread(get: Any) -> Any:
        # examples without a draft are kept (accepted) whatever the threshold; vetoed drafts never are
        out = np.ones(n)
        for i in drafts:
            out[i] = -1.0 if exs[i].vetoed else get(exs[i])
        return out

    dex = [exs[i] for i in drafts]
    for feat, transform in SIGNALS:
        have = sum(1 for e in dex if e.feats and feat in e.feats)
        if have >= MIN_SIGNAL_SHARE * len(dex) and have:
            m = SignalModel(feat, transform)
            cands.append(_Candidate(f"signal:{feat}", spread(lambda e, m=m: m.predict(e.feats or {}))))
    if two and capacities:
        oof, words, c = _model_scores(dex, own, folds, seed, capacities)
        by = dict(zip(drafts, oof))
        model = spread(lambda e: 0.0)
        for i, v in by.items():
            if model[i] >= 0:
                model[i] = v
        cands.append(_Candidate("model", model, skippable=p_skip is not None, words=words, c=c))
    return cands, p_skip


def _np_mod() -> Any:
    import numpy as np

    return np


def _certify(d: _Data, cands: Sequence[_Candidate], p_skip: Any, target: float, delta: float) -> tuple[
        _Choice, list[dict[str, Any]]]:
    """The cheapest certified operating point over all candidates (each at delta / K), and what each gave."""
    np = d.np
    best = _Choice(None, ESCALATE_ALL, "always", d.total_sc, 1.0, 0.0)  # all direct: certified by definition
    k = max(1, len(cands))
    info = []
    skip_grid = ([float(v) for v in np.unique(np.quantile(p_skip, np.linspace(0.05, SKIP_MAX_SHARE, 8)).round(4))]
                 if p_skip is not None else [])
    for cand in cands:
        # a right draft replacing a wrong strong answer counts only where no skip level can send it direct
        credit = p_skip >= max(skip_grid) if cand.skippable and skip_grid else None
        cert = certify.certify_threshold(cand.scores, d.dq, d.sq, d.w, d.dc, d.sc, target, delta / k, thresholds=GRID,
                                         prompt_mode=cand.prompt_mode, credit=credit)
        row: dict[str, Any] = {"name": cand.name, "certified": cert.best is not None, "p_value_method": cert.method}
        if cert.best is None:
            row["labels_needed"] = cert.labels_needed
            info.append(row)
            continue
        j = cert.best
        acc = cand.scores[:, None] >= np.asarray(GRID)[None, :]
        choice = _Choice(cand, GRID[j], "never", cert.costs[j], float(d.quality(acc[:, j:j + 1])[0]), cert.p_values[j])
        if cand.skippable and p_skip is not None:
            # every skip rule keeps the certificate: take the cheapest on these labels
            for t_i in range(cert.passed):
                for s in skip_grid:
                    sk = (p_skip < s)[:, None]
                    c = float(d.cost(acc[:, t_i:t_i + 1], sk)[0])
                    if c < choice.cost - 1e-12:
                        a = acc[:, t_i:t_i + 1] & ~sk
                        pv = float(certify.pvalues(d.dq, d.sq, d.w, acc[:, t_i:t_i + 1], target, credit=credit)[0])
                        choice = _Choice(cand, GRID[t_i], s, c, float(d.quality(a)[0]), pv)
        row.update(threshold=choice.threshold, skip=choice.skip, cost_share=round(choice.cost / d.total_sc, 4),
                   quality_share=round(choice.quality, 4), p_value=round(choice.p_value, 6))
        info.append(row)
        if choice.cost < best.cost - 1e-12:
            best = choice
    return best, info


def _build(exs: Sequence[Example], own: set[str], choice: _Choice) -> tuple[dict[str, Group], SkipRule | None, set[str]]:
    """The policy pieces of a choice, fitted on every label."""
    cand = choice.cand
    n_by = Counter(_group_of(e.kind, own) for e in exs if e.feats is not None)
    if cand is None:
        return {"*": Group(ConstantModel(0.0), "escalate_all", n_by.get("*", 0))}, SkipRule(ConstantModel(0.0), "always"), set()
    value = round(choice.threshold, 6)
    if cand.prompt_mode:
        skip_model = _fit_one(exs, 0.1, prompt_only=True)
        return {"*": Group(ConstantModel(1.0), "accept_all", 0)}, SkipRule(skip_model, value), set()
    t: float | str = "accept_all" if value <= 0.0 else value
    if cand.name.startswith("signal:"):
        feat = cand.name.split(":", 1)[1]
        transform = dict(SIGNALS)[feat]
        return {"*": Group(SignalModel(feat, transform), t, sum(n_by.values()))}, None, set()
    dex = _capacity_feats([e for e in exs if e.feats is not None], cand.words)
    models = _fit_groups(dex, own, cand.c)
    groups = {g: Group(m, t, n_by.get(g, 0)) for g, m in models.items()}
    skip = None
    if choice.skip != "never":
        skip = SkipRule(_fit_one(exs, 0.1, prompt_only=True), choice.skip)
    return groups, skip, own


def _apply(groups: Mapping[str, Group], skip: SkipRule | None, exs: Sequence[Example]) -> tuple[list[bool], list[bool]]:
    """(accepted, skipped) of each example under a policy's pieces, as the policy runs."""
    acc, sk = [], []
    for e in exs:
        sk.append(skip is not None and skip.skips(skip.model.predict(e.prompt_feats)))
        if e.feats is None:
            acc.append(True)
            continue
        g = groups.get(e.kind) or groups["*"]
        p = -1.0 if e.vetoed else g.model.predict(e.feats)
        acc.append(p >= 0 and g.accepts(p))
    return acc, sk


@dataclass
class _Fit:
    groups: dict[str, Group]
    skip: SkipRule | None
    own: set[str]
    choice: _Choice
    candidates: list[dict[str, Any]]
    scorers: list[_Candidate]


def _fit_core(exs: Sequence[Example], target: float, delta: float, *, min_kind_labels: int, min_skip_labels: int,
              folds: int, seed: int, skip: bool, capacities: Sequence[tuple[bool, float]]) -> _Fit:
    dex = [e for e in exs if e.feats is not None]
    own = {k for k, n in Counter(e.kind for e in dex).items()
           if n >= min_kind_labels and len({e.good for e in dex if e.kind == k}) == 2}
    cands, p_skip = _candidates(exs, own, folds, seed, skip, min_skip_labels, capacities)
    data = _Data(exs)
    choice, info = _certify(data, cands, p_skip, target, delta)
    groups, skip_rule, own_used = _build(exs, own, choice)
    return _Fit(groups, skip_rule, own_used, choice, info, cands)


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


def _check_examples(examples: Sequence[Example]) -> None:
    for i, e in enumerate(examples):
        for name, v in (("draft quality", e.draft_quality), ("strong quality", e.strong_quality)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                raise ValueError(f"example {i}: {name} {v!r} is not a score in [0, 1]; labels are 0/1 or scores "
                                 "in [0, 1] (scale a 1-10 judge grade by 1/10)")
        if not (isinstance(e.weight, (int, float)) and math.isfinite(e.weight) and e.weight > 0):
            raise ValueError(f"example {i}: weight {e.weight!r} must be a finite number > 0")


def fit_examples(
    examples: Sequence[Example],
    target_quality: float = 0.95,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    min_labels: int = MIN_LABELS,
    min_kind_labels: int = MIN_KIND_LABELS,
    min_skip_labels: int = MIN_SKIP_LABELS,
    min_accepted_labels: int = MIN_ACCEPTED_LABELS,
    folds: int = 5,
    report_folds: int = 5,
    seed: int = 0,
    capacities: Sequence[tuple[bool, float]] = CAPACITIES,
    skip: bool = True,
    name: str | None = None,
    notes: Sequence[str] = (),
    **deprecated: Any,
) -> Policy:
    """The fit on prepared examples (what `fit` does after reading records or a log)."""
    for key in deprecated:
        if key not in ("n_boot", "holdout", "c"):
            raise unknown_keyword("fit()", key, {*inspect.signature(fit).parameters, *inspect.signature(fit_examples).parameters})
        warnings.warn(f"fit({key}=...) is ignored: the operating point is certified on every label "
                      "(cross-fitted), with no bootstrap or held-out split", DeprecationWarning, stacklevel=3)
    if not (isinstance(target_quality, (int, float)) and 0 < target_quality <= 1.5):
        raise ConfigError(f"target_quality must be a share of the strong model's quality in (0, 1.5], got {target_quality}")
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 100 or not name.isprintable()):
        raise ConfigError(f"name must be a short string of printable characters, got {name!r}")
    _check_examples(examples)
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
    t0 = time.perf_counter()
    delta = 1.0 - float(confidence)
    kw: dict[str, Any] = dict(min_kind_labels=min_kind_labels, min_skip_labels=min_skip_labels, folds=folds,
                              seed=seed, skip=skip, capacities=capacities)
    main = _fit_core(examples, target_quality, delta, **kw)
    choice = main.choice
    data = _Data(examples)
    n = len(examples)
    acc, sk = _apply(main.groups, main.skip, examples)
    chosen = _point(examples, acc, sk)
    if choice.cand is not None:
        a = choice.cand.scores >= choice.threshold
        if choice.skip != "never" and main.skip is not None:
            a = a & ~_np_mod().asarray(sk)
        bound = certify.lower_bound(data.dq, data.sq, data.w, a, delta / max(1, len(main.candidates)),
                                    credit=None if main.skip is None else ~_np_mod().asarray(sk))
    else:
        bound = 1.0
    policy = Policy(groups=main.groups, skip=main.skip, target_quality=target_quality, confidence=confidence)
    report: dict[str, Any] = {
        "n_labels": n,
        "labels_per_kind": dict(sorted(counts.items())),
        "own_models": sorted(main.own),
        "min_kind_labels": min_kind_labels,
        "method": "learn-then-test: fixed-sequence over thresholds, Bonferroni over scorers",
        "confidence": confidence,
        "chosen": "direct" if choice.cand is None else choice.cand.name,
        "candidates": main.candidates,
        "fit": chosen,  # on every label, with the cross-fitted scores that chose it
        "fit_lower_bound": round(bound, 4),
        "guarantee": (f"quality share >= {target_quality:.0%} of the strong model with probability >= "
                      f"{confidence:.0%}, on traffic like these labels"),
        "notes": list(notes),
    }
    if choice.cand is None:
        need = [c["labels_needed"] for c in main.candidates if c.get("labels_needed")]
        more = f" about {min(need)} labels would certify a saving" if need else " no scorer here shows a saving"
        report["notes"].append(f"nothing certifies a saving at {confidence:.0%} confidence: every request goes to "
                               f"the strong model;{more}")
        report["labels_needed"] = min(need) if need else None
    curve_of = choice.cand or next((c for c in main.scorers if c.name == "model"), None)
    if curve_of is not None:
        report["heldout_curve"] = [  # cross-fitted scores: each label scored by a model that did not see it
            {"threshold": t, **_point(examples, list(curve_of.scores >= t) if not curve_of.prompt_mode
                                      else [True] * n,
                                      [False] * n if not curve_of.prompt_mode else list(curve_of.scores < t))}
            for t in [round(0.05 * k, 2) for k in range(21)]
        ]
        report["curve_of"] = curve_of.name
    if report_folds and report_folds > 1 and n >= 2 * report_folds:
        report.update(_nested(examples, target_quality, delta, report_folds, seed, kw))
    report["fit_seconds"] = round(time.perf_counter() - t0, 3)
    policy.report = report
    digest = hashlib.blake2b(repr(policy.to_dict()["groups"]).encode(), digest_size=4).hexdigest()
    policy.name = name or f"fitted-{digest}"
    return policy


def _nested(exs: Sequence[Example], target: float, delta: float, k: int, seed: int, kw: dict[str, Any]) -> dict[str, Any]:
    """Honest numbers: the whole fit rerun on k-1 folds, its policy scored on the fold it never saw, pooled."""
    order: list[Example] = []
    acc: list[bool] = []
    sk: list[bool] = []
    for fold in _folds(len(exs), k, seed + 7):
        held = set(fold)
        train = [e for i, e in enumerate(exs) if i not in held]
        test = [exs[i] for i in sorted(fold)]
        try:  # 3 inner folds: the report costs a few fits, not the fit's own 5-fold rounds again
            f = _fit_core(train, target, delta, **{**kw, "folds": min(3, kw["folds"])})
        except ValueError:
            continue
        a, s = _apply(f.groups, f.skip, test)
        order += test
        acc += a
        sk += s
    nh = len(order)
    return {
        "n_heldout": nh,
        "heldout": _point(order, acc, sk),
        "heldout_accept_all": _point(order, [True] * nh, [False] * nh),
        "heldout_oracle": _point(order, [e.draft_quality >= e.strong_quality for e in order], [False] * nh),
        "heldout_how": f"nested {k}-fold: each fold scored by a policy fitted without it",
    }

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
    draft_price: Price | tuple[float, float] = DEFAULT_DRAFT_PRICE,
    strong_price: Price | tuple[float, float] = DEFAULT_STRONG_PRICE,
    **kw: Any,
) -> Policy:
    """Learn a policy from a decision log (`DecisionStore`) or offline records (dicts; format in docs/learning.md).

    Keyword options: `confidence` (0.9: the probability, over the labelled sample, that the quality share
    on traffic like it is at least `target_quality`), `min_labels` (100), `min_kind_labels` (150: labels an
    answer kind needs for a model of its own), `folds` (5, cross-fitting), `report_folds` (5, nested folds
    for the report; 0 skips it), `seed`, `capacities`, `skip` (learn skip-the-draft, True).
    Raises `NotEnoughLabels` (a ValueError saying how many more are needed per kind) on too few labels.
    """
    if _is_store(records_or_store):
        store: DecisionStore = records_or_store  # type: ignore[assignment]

        async def read() -> tuple[list[DecisionRow], list[Label]]:
            return await store.rows(), await store.labels()

        rows, labels = run_sync(read())
        return fit_examples(examples_from_log(rows, labels), target_quality, **kw)
    if isinstance(records_or_store, (str, bytes)) or not isinstance(records_or_store, Iterable):
        raise ConfigError(
            f"fit() takes a DecisionStore or an iterable of record dicts, got {type(records_or_store).__name__}: "
            "for a log file pass SQLiteStore('cascade.db')"
        )
    examples, unlabelled = [], 0
    for i, rec in enumerate(records_or_store):
        if not isinstance(rec, Mapping):
            raise ValueError(f"each record must be a dict (prompt, draft, draft_correct, ...), got {type(rec).__name__}")
        try:
            ex = example_from_record(rec, draft_price, strong_price)
        except ValueError as e:
            raise RecordError(i, str(e)) from None
        if ex is None:
            unlabelled += 1
        else:
            examples.append(ex)
    notes = [f"{unlabelled} record(s) without a label were skipped"] if unlabelled else []
    return fit_examples(examples, target_quality, notes=notes, **kw)
