"""Threshold calibration on recorded drafts: keep a target share of the strong model's quality at least cost.

    python -m cascadeflow_integrations.quality.calibrate data.csv --target 0.95   # the command keeps its old path

Records (dicts or CSV rows): prompt, draft, draft_correct|draft_score, strong_correct|strong_score, and
optionally draft_tokens / strong_tokens (output tokens), input_tokens, draft_price / strong_price
((in, out) USD per 1M tokens), complexity, and recorded model-check data: samples (other answers of
the draft model: a list, or a JSON list in CSV) and self_check (P(yes), or a list of verdicts).
Missing token counts are estimated as text length / 4.

Choosing the cheapest threshold that just reaches the target on the same records overfits: of all the
thresholds tried, the one picked is the one whose quality happened to come out high. The default method
certifies instead (`learning.certify`, shared with `fit`): thresholds are tested from strict to loose
with finite-sample betting p-values, so that with probability at least `confidence` the quality share on
traffic like the records keeps the target. See `choose_threshold_robust`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import inspect
import io
import logging
import math
import random
import sys
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._sync import run_sync
from ..errors import ConfigError, MissingLabel, RecordsFileError, unknown_keyword
from ..models.prices import Price
from ..types import Usage
from ..quality.base import COMPLEXITIES, Draft, ValidationRequest, Validator
from .routellm import (
    CHEAP_MODEL,
    PRICES_PER_M,
    STRONG_MODEL,
    est_tokens,
    routellm_row_to_record,
)
from ..quality.thresholds import Thresholds

try:  # numpy comes with the [learn] extra and every framework extra
    import numpy as _np
except ImportError:  # pragma: no cover - exercised via the `use_numpy=False` tests
    _np = None  # type: ignore[assignment]

logger = logging.getLogger("cascadeflow_integrations.quality.calibrate")  # its name before the move

DEFAULT_DRAFT_PRICE = PRICES_PER_M[CHEAP_MODEL]
DEFAULT_STRONG_PRICE = PRICES_PER_M[STRONG_MODEL]
#: Above every score (validator scores are in [0, 1], but callers may sweep any score): escalate every draft.
ESCALATE_ALL = float("inf")
Method = Literal["certified", "point", "bootstrap"]  # "bootstrap": the old name of "certified"
#: The default confidence of a certified threshold (the same as a fitted policy's).
DEFAULT_CONFIDENCE = 0.9


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
    method: str = "certified"
    confidence: float = 0.0
    #: The certified lower confidence bound of the quality share at `threshold` (the point estimate for "point").
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


_BOOL_WORDS = {"true": 1.0, "yes": 1.0, "1": 1.0, "1.0": 1.0, "false": 0.0, "no": 0.0, "0": 0.0, "0.0": 0.0}


def _quality(rec: Mapping[str, Any], side: str) -> float:
    """A record's label of one side: `<side>_score` in [0, 1], else `<side>_correct` a boolean.

    `MissingLabel` when neither is there; a `ValueError` naming the field when one is malformed (NaN, out
    of range, `"maybe"`): a label is never guessed or silently dropped."""
    score, correct = rec.get(f"{side}_score"), rec.get(f"{side}_correct")
    if score is not None and score != "":
        try:
            x = float(score) if not isinstance(score, bool) else math.nan
        except (TypeError, ValueError):
            x = math.nan
        if not 0.0 <= x <= 1.0:  # also false for NaN
            raise ValueError(f"{side}_score={score!r} is not a score in [0, 1] (scale a 1-10 judge grade by 1/10)")
        return x
    if correct is not None and correct != "":
        if isinstance(correct, bool):
            return 1.0 if correct else 0.0
        if isinstance(correct, (int, float)) and correct in (0, 1):
            return float(correct)
        if isinstance(correct, str) and correct.strip().lower() in _BOOL_WORDS:
            return _BOOL_WORDS[correct.strip().lower()]
        raise ValueError(f"{side}_correct={correct!r} is not a label: expected true/false (yes/no, 1/0)")
    raise MissingLabel(f"record has neither {side}_correct nor {side}_score: {sorted(rec)}")


def _price(v: Any, default: Price | tuple[float, float]) -> Price:
    """A record's price (USD per 1M tokens, or a `Price`), else the call's."""
    return Price.of(v, Price.of(default, Price(0.0, 0.0)))


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
    draft_price: Price | tuple[float, float] = DEFAULT_DRAFT_PRICE,
    strong_price: Price | tuple[float, float] = DEFAULT_STRONG_PRICE,
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
                dp.cost(Usage(tin, dout)),
                sp.cost(Usage(tin, sout)),
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
    from ..quality.compose import default_validator

    if validator is None and any(it.samples is not None or it.self_check is not None for it in items):
        from ..quality.offline import recorded_validator

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


def _arrays(items: Sequence[Item]) -> tuple[Any, Any, Any, Any, Any]:
    np = _require_numpy()
    return (np.asarray([it.draft_quality for it in items], dtype=float),
            np.asarray([it.strong_quality for it in items], dtype=float),
            np.ones(len(items)),
            np.asarray([it.draft_cost for it in items], dtype=float),
            np.asarray([it.strong_cost for it in items], dtype=float))


def _require_numpy() -> Any:
    if _np is None:  # pragma: no cover - numpy comes with every extra that calibrates
        raise ImportError("calibration needs numpy: pip install 'cascadeflow-integrations[learn]'")
    return _np


def _choose(
    items: Sequence[Item],
    scores: Sequence[float],
    levels: Sequence[str],
    target: float,
    method: str,
    confidence: float,
) -> tuple[dict[str, float], float]:
    """Per group (a complexity level, or "" for all), the cheapest threshold certified for the target.

    "certified": each group's thresholds are tested strict to loose (`learning.certify`, the code `fit`
    uses) at (1 - confidence) / groups, so all hold together; the bound is the certified lower confidence
    bound of the overall quality share. "point": the cheapest threshold whose point estimate reaches the
    target (optimistic). A group with nothing certified escalates (`ESCALATE_ALL`)."""
    from . import certify

    np = _require_numpy()
    dq, sq, w, dc, sc = _arrays(items)
    s = np.asarray(scores, dtype=float)
    groups = list(dict.fromkeys(levels))
    delta = (1.0 - confidence) / len(groups)
    out: dict[str, float] = {}
    for g in groups:
        mask = np.asarray([lv == g for lv in levels])
        if method == "point":
            ts = certify.thresholds_for(s)
            acc = s[:, None] >= np.asarray(ts)[None, :]
            gain = (mask[:, None] * acc * (dq - sq)[:, None]).sum(axis=0)
            cost = (mask[:, None] * np.where(acc, dc[:, None], (dc + sc)[:, None])).sum(axis=0)
            # each group keeps the target on its own items, so together they keep it overall
            base = float((mask * sq).sum()) or 1.0
            good = [j for j in range(len(ts)) if (base + gain[j]) / base >= target]
            out[g] = ts[min(good, key=lambda j: (cost[j], -j))] if good else ESCALATE_ALL
        else:
            cert = certify.certify_threshold(s, dq, sq, w, dc, sc, target, delta, mask=mask)
            out[g] = cert.threshold if cert.threshold is not None else ESCALATE_ALL
    acc = np.asarray([sv >= out[lv] for sv, lv in zip(s, levels)])
    if method == "point":
        return out, float(point(items, list(acc)).quality_share)
    return out, certify.lower_bound(dq, sq, w, acc, delta)


def choose_threshold_robust(
    items: Sequence[Item],
    scores: Sequence[float],
    target_quality: float,
    confidence: float = DEFAULT_CONFIDENCE,
    **_ignored: Any,
) -> tuple[float, float]:
    """(threshold, lower bound): the cheapest threshold certified to keep the target at `confidence`.

    `ESCALATE_ALL` when none is. (Earlier keywords `n_boot`, `seed`, `use_numpy` are accepted and ignored.)"""
    t, lower = _choose(items, scores, [""] * len(items), target_quality, "certified", confidence)
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


def _method(method: str) -> str:
    if method == "bootstrap":
        warnings.warn("calibrate(method='bootstrap') is now method='certified' (the bootstrap is gone: thresholds "
                      "are certified by Learn-then-Test)", DeprecationWarning, stacklevel=3)
        return "certified"
    if method not in ("certified", "point"):
        raise ConfigError(f"method must be 'certified' or 'point', got {method!r}")
    return method


def calibrate_scored(
    items: Sequence[Item],
    scores: Sequence[float],
    target_quality: float = 0.95,
    split: float | None = None,
    seed: int = 0,
    notes: list[str] | None = None,
    grid: Sequence[float] | None = None,
    method: Method = "certified",
    confidence: float = DEFAULT_CONFIDENCE,
    per_complexity: bool = False,
    min_level_records: int = 50,
    folds: int = 5,
    **_ignored: Any,
) -> CalibrationResult:
    """Calibrate from precomputed scores (what `calibrate` does after scoring).

    `split=None` (default): thresholds are certified on every record, and `heldout` is measured on nested
    folds (each fold scored by thresholds chosen without it). A number keeps a share of the records for
    the fit and reports on the rest."""
    method = _method(method)  # type: ignore[assignment]
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    if split is not None and not 0 < split < 1:
        raise ConfigError(f"split must be in (0, 1), got {split}")
    notes = list(notes or [])
    levels = classify_items(items) if per_complexity else ["moderate"] * len(items)

    def groups_of(idx: Sequence[int]) -> list[str]:
        counts = Counter(levels[i] for i in idx)
        return [levels[i] if per_complexity and counts[levels[i]] >= min_level_records else "" for i in idx]

    def choose(idx: Sequence[int]) -> dict[str, float]:
        got, _ = _choose([items[i] for i in idx], [scores[i] for i in idx], groups_of(idx), target_quality, method,
                         confidence)
        return got

    def decide(idx: Sequence[int], chosen: Mapping[str, float]) -> list[bool]:
        return [scores[i] >= chosen.get(levels[i], chosen.get("", ESCALATE_ALL)) for i in idx]

    every = list(range(len(items)))
    fit_i, test_i = (every, []) if split is None else split_items(len(items), split, seed)
    fit_groups = groups_of(fit_i)
    chosen, lower = _choose([items[i] for i in fit_i], [scores[i] for i in fit_i], fit_groups, target_quality, method,
                            confidence)
    if split is None:  # nested folds: the same choice rerun without each fold, scored on it
        order, acc = [], []
        k = max(2, min(folds, len(items) // 2))
        shuffled = _shuffled(len(items), seed)
        for f in range(k):
            held = shuffled[f::k]
            rest = sorted(set(every) - set(held))
            order += sorted(held)
            acc += decide(sorted(held), choose(rest))
        heldout = point([items[i] for i in order], acc, float("nan"))
        test_i = order
        how = f"nested {k}-fold"
    else:
        heldout = point([items[i] for i in test_i], decide(test_i, chosen))
        how = f"held-out {1 - split:.0%}"
    t = chosen.get("", next(iter(chosen.values())))
    per_level = {g: v for g, v in chosen.items() if g}
    level_t = {c: per_level.get(c, t) for c in COMPLEXITIES}
    escalate_all = [c for c in COMPLEXITIES if level_t[c] > 1.0]
    if escalate_all:
        notes.append(
            f"no threshold is certified for {', '.join(escalate_all)}: route those levels direct "
            "(Router(direct_complexities=...)); thresholds holds 1.0 for them"
        )
    notes.append(f"held-out numbers: {how}")
    thresholds = Thresholds().override({c: min(1.0, v) for c, v in level_t.items()})
    test = [items[i] for i in test_i]
    ts = [scores[i] for i in test_i]
    grid = grid or [round(0.05 * k, 2) for k in range(21)]
    curve = sweep(test, ts, sorted(set(grid) | ({t} if t <= 1.0 else set())))
    counts = Counter(levels[i] for i in fit_i)
    return CalibrationResult(
        threshold=t,
        target_quality=target_quality,
        fit=point([items[i] for i in fit_i], decide(fit_i, chosen), t),
        heldout=Point(t, heldout.quality_share, heldout.escalation_share, heldout.cost_share),
        oracle=point(test, [it.draft_quality >= it.strong_quality for it in test]),
        curve=curve,
        n_fit=len(fit_i),
        n_heldout=len(test_i),
        notes=notes,
        method=method,
        confidence=confidence if method == "certified" else 0.0,
        fit_quality_lower=lower,
        thresholds=thresholds,
        per_level=per_level,
        level_counts={c: counts.get(c, 0) for c in COMPLEXITIES} if per_complexity else {},
        escalate_all=escalate_all,
    )


def _shuffled(n: int, seed: int) -> list[int]:
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    return idx


def calibrate(
    records: Iterable[Mapping[str, Any]],
    target_quality: float = 0.95,
    validator: Validator | None = None,
    split: float | None = None,
    seed: int = 0,
    draft_price: Price | tuple[float, float] = DEFAULT_DRAFT_PRICE,
    strong_price: Price | tuple[float, float] = DEFAULT_STRONG_PRICE,
    method: Method = "certified",
    confidence: float = DEFAULT_CONFIDENCE,
    per_complexity: bool = False,
    min_level_records: int = 50,
    **ignored: Any,
) -> CalibrationResult:
    """Certify the threshold(s) for a target share of the strong model's quality. Prices: USD per 1M (in, out).

    method "certified" (default): with probability at least `confidence` over the records, the quality
    share on traffic like them is at least `target_quality` (Learn-then-Test, the same code `fit` uses).
    "point": the cheapest threshold whose point estimate reaches the target (optimistic). Every record is
    used; `heldout` comes from nested folds (or, with `split=0.5`, from the records left out of the fit).
    `per_complexity` certifies one threshold per routed complexity level with at least `min_level_records`
    records; other levels share one.
    """
    for key in ignored:
        if key != "n_boot":
            raise unknown_keyword("calibrate()", key, inspect.signature(calibrate).parameters)
    items, notes = to_items(records, draft_price, strong_price)
    if len(items) < 4:
        raise ValueError(f"calibration needs at least 4 records, got {len(items)}; expected more labelled records")
    try:
        asyncio.get_running_loop()
        scores = run_sync(score_items(items, validator))
    except RuntimeError:
        scores = asyncio.run(score_items(items, validator))
    return calibrate_scored(items, scores, target_quality, split, seed, notes, method=method, confidence=confidence,
                            per_complexity=per_complexity, min_level_records=min_level_records)


def format_curve(points: Sequence[Point]) -> str:
    lines = ["threshold  quality  escalated  cost", "---------  -------  ---------  -----"]
    lines += [
        f"{p.threshold:9.3f}  {p.quality_share:6.1%}  {p.escalation_share:8.1%}  {p.cost_share:5.1%}" for p in points
    ]
    return "\n".join(lines)


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
    ap.add_argument("--split", type=float, default=None,
                    help="report on records left out of the fit (default: every record, nested folds)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--method", choices=("certified", "point", "bootstrap"), default="certified")
    ap.add_argument("--confidence", type=float, default=DEFAULT_CONFIDENCE,
                    help="probability that the target holds on traffic like the records")
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
        f"certified at {res.confidence:.0%} confidence, lower bound {res.fit_quality_lower:.1%}"
        if res.method == "certified"
        else f"point estimate {res.fit_quality_lower:.1%}"
    )
    t = "escalate all" if res.threshold > 1.0 else f"{res.threshold:.3f}"
    print(f"\nchosen threshold (target {args.target:.0%}, {how}): {t}")
    if args.per_complexity:
        print("per complexity (fit records; levels under --min-level-records keep the global threshold):")
        for c in COMPLEXITIES:
            v = res.per_level.get(c)
            shown = "global" if v is None else ("escalate all" if v > 1.0 else f"{v:.3f}")
            print(f"  {c:9s} {res.level_counts.get(c, 0):5d} records  {shown}")
    h, fp, o = res.heldout, res.fit, res.oracle
    print(f"chosen on: quality {fp.quality_share:.1%}, escalated {fp.escalation_share:.1%}, cost {fp.cost_share:.1%}")
    print(f"held-out: quality {h.quality_share:.1%}, escalated {h.escalation_share:.1%}, cost {h.cost_share:.1%}")
    print(f"oracle:   quality {o.quality_share:.1%}, escalated {o.escalation_share:.1%}, cost {o.cost_share:.1%}")
    print(f"thresholds: CascadeAgent(quality_threshold={res.thresholds.to_dict()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
