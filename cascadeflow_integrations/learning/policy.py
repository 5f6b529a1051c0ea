"""`Policy`: a fitted accept/escalate decision (and skip-the-draft router), stored as readable JSON.

A policy file is input from disk: it is parsed as JSON, never executed, and every field is checked
(types, sizes, finite numbers) before use; anything else is a `PolicyFileError` naming the field.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from ..errors import PolicyFileError
from ..quality.base import CheckResult, Decision, Draft, ValidationRequest, Validator
from ..types import TokenLogprob
from .features import DEFAULT_HASH_BUCKETS, FeatureSet, features, free_checks, prompt_features
from .labels import ANSWER_KINDS, answer_kind
from .model import SIGNAL_TRANSFORMS, ConstantModel, LinearModel, Model, SignalModel

POLICY_FORMAT = "cascadeflow-integrations/policy"
POLICY_SCHEMA = 1
#: A policy file larger than this is refused before parsing (a real one is a few tens of KB).
MAX_POLICY_BYTES = 8_000_000
_MAX_FEATURES = 20_000
#: The largest weight (coef / scale) a fitted model carries, by many orders of magnitude; beyond it, hostile.
_MAX_WEIGHT = 1e9
#: Checks whose hard failure (score 0) always escalates, whatever the model says: an empty or
#: truncated answer, or a tool call that breaks its schema, is never worth returning.
DEFAULT_VETOES = ("completeness", "tool_calls")
#: The default confidence of a fitted policy's guarantee (probability over the labelled sample).
DEFAULT_CONFIDENCE = 0.9
DraftThreshold = Union[float, str]  # a probability, or "accept_all" / "escalate_all"
SkipThreshold = Union[float, str]  # route direct when the estimate is below it; or "never" / "always"


@dataclass
class Group:
    """One answer kind's model and operating point ("*": every kind without a model of its own)."""

    model: Model
    threshold: DraftThreshold
    n: int = 0

    def accepts(self, p: float) -> bool:
        if self.threshold == "accept_all":
            return True
        if self.threshold == "escalate_all":
            return False
        return p >= float(self.threshold)

    def threshold_value(self) -> float:
        t = self.threshold
        return 0.0 if t == "accept_all" else 1.0 if t == "escalate_all" else float(t)


@dataclass
class SkipRule:
    """Route a request direct to the next model when its prompt-only estimate of an accepted draft is low."""

    model: Model
    threshold: SkipThreshold = "never"

    def skips(self, p: float) -> bool:
        if self.threshold == "never":
            return False
        if self.threshold == "always":
            return True
        return p < float(self.threshold)


@dataclass
class Policy:
    """What `fit()` returns: per answer kind, p(draft as good as the strong answer) and a threshold."""

    groups: dict[str, Group]
    skip: SkipRule | None = None
    name: str = "policy"
    target_quality: float = 0.95
    confidence: float = DEFAULT_CONFIDENCE
    hash_buckets: int = DEFAULT_HASH_BUCKETS
    vetoes: tuple[str, ...] = DEFAULT_VETOES
    created: float = field(default_factory=time.time)
    #: how it was fitted and how it did on held-out labels (curve, bound, baselines)
    report: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "*" not in self.groups:
            raise PolicyFileError("a policy needs a '*' group (the model for every answer kind)")

    def __repr__(self) -> str:
        return f"Policy(name={self.name!r}, groups={sorted(self.groups)}, target_quality={self.target_quality})"

    # ---- deciding ---------------------------------------------------------------------------

    def group_for(self, kind: str) -> tuple[str, Group]:
        g = self.groups.get(kind)
        return (kind, g) if g is not None else ("*", self.groups["*"])

    def features(
        self,
        prompt: str,
        draft: str,
        *,
        complexity: str | None = None,
        kind: str | None = None,
        checks: Sequence[CheckResult] | None = None,
        logprobs: Sequence[TokenLogprob | float] | None = None,
        samples: Sequence[str] | None = None,
        self_check: Any = None,
        tools: list[dict[str, Any]] | None = None,
        tool_calls: Sequence[Any] | None = None,
        finish_reason: str | None = "stop",
    ) -> tuple[str, list[CheckResult], dict[str, float]]:
        """(answer kind, free checks, features) of a request and its draft, as the policy reads them."""
        kind = kind or answer_kind(prompt, tools)
        if checks is None:
            checks = free_checks(prompt, draft, complexity or "moderate", logprobs, finish_reason, tools, tool_calls,
                                 samples, self_check)
        f = features(prompt, draft, checks, complexity=complexity, kind=kind, tools=tools, logprobs=logprobs,
                     tool_calls=tool_calls, hash_buckets=self.hash_buckets)
        return kind, list(checks), f

    def decide(
        self,
        prompt: str,
        draft: str,
        logprobs: Sequence[TokenLogprob | float] | None = None,
        samples: Sequence[str] | None = None,
        self_check: Any = None,
        *,
        complexity: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_calls: Sequence[Any] | None = None,
        finish_reason: str | None = "stop",
    ) -> Decision:
        """Accept or escalate a recorded draft (no provider). `samples`: other answers of the draft model;
        `self_check`: the draft model's P(yes) that its answer is right, or its recorded verdicts."""
        kind, checks, feats = self.features(
            prompt, draft, complexity=complexity, logprobs=logprobs, samples=samples, self_check=self_check,
            tools=tools, tool_calls=tool_calls, finish_reason=finish_reason)
        return self.decide_features(kind, checks, feats)

    def decide_features(self, kind: str, checks: Sequence[CheckResult], feats: Mapping[str, float]) -> Decision:
        """The decision from precomputed features (what `decide` and the engine's validator share)."""
        gname, group = self.group_for(kind)
        t = group.threshold_value()
        veto = [c for c in checks if c.name in self.vetoes and not c.passed and c.score <= 0.0]
        p = group.model.predict(feats)
        info: dict[str, Any] = {"name": self.name, "group": gname, "kind": kind, "estimate": round(p, 4),
                                "features": group.model.contributions(feats)}
        if veto:
            why = "; ".join(f"{c.name} failed: {c.detail}" for c in veto)
            return Decision(False, p, p, f"policy {self.name}: {why}", t, [*checks], policy=info)
        ok = group.accepts(p)
        if group.threshold in ("accept_all", "escalate_all"):
            how = f"{group.threshold.replace('_', ' ')} for {gname}"  # type: ignore[union-attr]
        else:
            how = f"p(good) {p:.2f} {'>=' if ok else '<'} {t:.2f}"
        reason = f"policy {self.name} ({gname}): {how}"
        checks = [*checks, CheckResult(f"policy:{self.name}", ok, p, how)]
        return Decision(ok, p, p, reason, t, checks, policy=info)

    def route(
        self, prompt: str, complexity: str | None = None, tools: Sequence[Any] | None = None
    ) -> tuple[bool, float | None]:
        """(route direct?, estimate that a draft would be accepted) from the prompt alone."""
        if self.skip is None:
            return False, None
        p = self.skip.model.predict(prompt_features(prompt, complexity, None, tools, self.hash_buckets))
        return self.skip.skips(p), p

    def as_validator(self) -> PolicyValidator:
        return PolicyValidator(self)

    # ---- JSON -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": POLICY_FORMAT,
            "schema": POLICY_SCHEMA,
            "name": self.name,
            "created": self.created,
            "target_quality": self.target_quality,
            "confidence": self.confidence,
            "hash_buckets": self.hash_buckets,
            "vetoes": list(self.vetoes),
            "groups": {k: {"threshold": g.threshold, "n": g.n, "model": g.model.to_dict()}
                       for k, g in self.groups.items()},
            "skip": None if self.skip is None else {"threshold": self.skip.threshold,
                                                    "model": self.skip.model.to_dict()},
            "report": self.report,
        }

    @classmethod
    def from_dict(cls, doc: Any, source: str = "policy") -> Policy:
        """A policy from its JSON document; `PolicyFileError` naming the field when anything is off."""
        return _parse(doc, source)

    def save(self, path: str | Path) -> None:
        """Write the policy as indented JSON, atomically (a reader never sees half a file)."""
        path = Path(path)
        text = json.dumps(self.to_dict(), indent=1, sort_keys=False, allow_nan=False)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=str(path.parent or "."))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        """Read a policy file written by `save` (JSON only; never code)."""
        p = Path(path)
        try:
            size = p.stat().st_size
        except OSError as e:
            raise PolicyFileError(f"policy file {str(p)!r} cannot be read: {e.strerror or e}") from None
        if size > MAX_POLICY_BYTES:
            raise PolicyFileError(f"policy file {str(p)!r} is {size} bytes, over the {MAX_POLICY_BYTES} limit")
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise PolicyFileError(f"policy file {str(p)!r} cannot be read as UTF-8 text: {e}") from None
        try:
            doc = json.loads(text, parse_constant=_no_constant)
        except (ValueError, RecursionError) as e:
            raise PolicyFileError(f"policy file {str(p)!r} is not valid JSON ({e}): write it with Policy.save") from None
        return _parse(doc, repr(str(p)))


class PolicyValidator(Validator):
    """A `Policy` in the engine's validator seam: a validator computes the checks (the free ones by default;
    a given one may add model-based checks), then the fitted model decides on them."""

    def __init__(self, policy: Policy, checks: Validator | None = None) -> None:
        self.policy = policy
        self.name = f"policy:{policy.name}"
        if checks is None:
            from ..quality.compose import default_validator

            checks = default_validator()
        self._checks = checks
        #: set when the live guarantee check raised its alarm: every draft escalates until the next policy
        self.hold: str | None = None

    def with_checks(self, checks: Validator) -> PolicyValidator:
        """This policy (and its live state: swaps, a guarantee hold) deciding on the checks `checks` computes."""
        return _WithChecks(self, checks)

    def _current(self) -> tuple[Policy, str | None]:
        return self.policy, self.hold

    async def validate(self, request: ValidationRequest, draft: Draft, threshold: float) -> Decision:
        base = await self._checks.validate(request, draft, 0.0)
        policy, hold = self._current()  # one read: a swap during this call does not mix two policies
        kind, _, feats = policy.features(
            request.query, draft.text, complexity=request.complexity, checks=base.checks,
            logprobs=draft.logprobs, tools=request.tools, tool_calls=draft.tool_calls)
        decision = policy.decide_features(kind, base.checks, feats)
        # kept with the decision: the decision log of this draft reuses them instead of computing them again
        decision.features = FeatureSet(feats, request.query, request.complexity, kind, policy.hash_buckets, draft,
                                       tuple(base.checks))
        if hold is not None and decision.accepted:
            decision.accepted = False
            decision.reason = f"policy {policy.name}: {hold}"
        decision.cost, decision.usage, decision.calls = base.cost, base.usage, base.calls
        return decision

    def check_partial(self, request: ValidationRequest, partial: Any) -> str | None:
        return self._checks.check_partial(request, partial)


class _WithChecks(PolicyValidator):
    """A per-call validator under the agent's policy: its checks, the parent's current policy and hold."""

    def __init__(self, parent: PolicyValidator, checks: Validator) -> None:
        super().__init__(parent.policy, checks)
        self._parent = parent

    def _current(self) -> tuple[Policy, str | None]:
        return self._parent._current()


# ---- parsing (every field of a file from disk is checked) ---------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _num(v: Any, where: str, lo: float = -1e9, hi: float = 1e9) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise PolicyFileError(f"{where} must be a finite number in [{lo:g}, {hi:g}], got {_short(v)}")
    return float(v)


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def _obj(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise PolicyFileError(f"{where} must be a JSON object, got {type(v).__name__}")
    return v


def _model(v: Any, where: str) -> Model:
    m = _obj(v, where)
    kind = m.get("type")
    if kind == "constant":
        return ConstantModel(_num(m.get("p"), f"{where}.p", 0.0, 1.0))
    if kind == "signal":
        feature, transform = m.get("feature"), m.get("transform", "identity")
        if not isinstance(feature, str) or not 0 < len(feature) <= 200:
            raise PolicyFileError(f"{where}.feature must be a short feature name, got {_short(feature)}")
        if transform not in SIGNAL_TRANSFORMS:
            raise PolicyFileError(f"{where}.transform must be one of {SIGNAL_TRANSFORMS}, got {_short(transform)}")
        return SignalModel(feature, transform)
    if kind != "logistic":
        raise PolicyFileError(f"{where}.type must be 'logistic', 'signal' or 'constant', got {_short(kind)}")
    names = m.get("names")
    if not isinstance(names, list) or len(names) > _MAX_FEATURES or not all(
        isinstance(n, str) and 0 < len(n) <= 200 for n in names
    ):
        raise PolicyFileError(f"{where}.names must be a list of at most {_MAX_FEATURES} short strings")
    if len(set(names)) != len(names):
        raise PolicyFileError(f"{where}.names has duplicates")
    cols = {}
    for key in ("coef", "mean", "scale"):
        vals = m.get(key)
        if not isinstance(vals, list) or len(vals) != len(names):
            got = len(vals) if isinstance(vals, list) else type(vals).__name__
            raise PolicyFileError(f"{where}.{key} must hold {len(names)} numbers (one per feature), got {got}")
        cols[key] = [_num(x, f"{where}.{key}[{i}]") for i, x in enumerate(vals)]
    if any(s <= 0 for s in cols["scale"]):
        raise PolicyFileError(f"{where}.scale values must be > 0")
    model = LinearModel(list(names), cols["coef"], _num(m.get("intercept"), f"{where}.intercept"),
                        cols["mean"], cols["scale"])
    # Each number in range can still combine into inf or NaN (coef 1e9 / scale 1e-300): refuse the products too.
    for i, (c, s, mu) in enumerate(zip(cols["coef"], cols["scale"], cols["mean"])):
        if not (abs(c / s) <= _MAX_WEIGHT and abs(c * mu / s) <= _MAX_WEIGHT):
            raise PolicyFileError(f"{where}.coef[{i}] / scale[{i}] (with mean[{i}]) is {_short(c / s)}, "
                                  f"outside [-{_MAX_WEIGHT:g}, {_MAX_WEIGHT:g}]: the model would be inf or NaN")
    if not abs(model._base) <= _MAX_WEIGHT:
        raise PolicyFileError(f"{where}.intercept with the features' means is {_short(model._base)}, not a finite weight")
    return model


def _threshold(v: Any, where: str, words: tuple[str, str]) -> float | str:
    if isinstance(v, str):
        if v not in words:
            raise PolicyFileError(f"{where} must be a number in [0, 1] or one of {words}, got {_short(v)}")
        return v
    return _num(v, where, 0.0, 1.0)


def _parse(doc: Any, source: str) -> Policy:
    d = _obj(doc, source)
    if d.get("format") != POLICY_FORMAT:
        raise PolicyFileError(f"{source} is not a cascadeflow policy (format {_short(d.get('format'))}, "
                              f"expected {POLICY_FORMAT!r}): fit one with cascadeflow-integrations fit")
    if d.get("schema") != POLICY_SCHEMA:
        raise PolicyFileError(f"{source} has policy schema {_short(d.get('schema'))}; this version reads "
                              f"{POLICY_SCHEMA}: refit it")
    groups_doc = _obj(d.get("groups"), f"{source}: groups")
    groups: dict[str, Group] = {}
    for k, g in groups_doc.items():
        if k != "*" and k not in ANSWER_KINDS:
            raise PolicyFileError(f"{source}: groups has unknown answer kind {_short(k)}")
        gd = _obj(g, f"{source}: groups.{k}")
        n = gd.get("n", 0)
        groups[k] = Group(_model(gd.get("model"), f"{source}: groups.{k}.model"),
                          _threshold(gd.get("threshold"), f"{source}: groups.{k}.threshold",
                                     ("accept_all", "escalate_all")),
                          int(_num(n, f"{source}: groups.{k}.n", 0, 1e12)))
    if "*" not in groups:
        raise PolicyFileError(f"{source}: groups lacks '*' (the model for every answer kind)")
    skip = None
    if d.get("skip") is not None:
        sd = _obj(d["skip"], f"{source}: skip")
        skip = SkipRule(_model(sd.get("model"), f"{source}: skip.model"),
                        _threshold(sd.get("threshold"), f"{source}: skip.threshold", ("never", "always")))
    vetoes = d.get("vetoes", list(DEFAULT_VETOES))
    if not isinstance(vetoes, list) or not all(isinstance(v, str) for v in vetoes):
        raise PolicyFileError(f"{source}: vetoes must be a list of check names")
    name = d.get("name", "policy")
    if not isinstance(name, str) or not 0 < len(name) <= 100 or not name.isprintable():
        raise PolicyFileError(f"{source}: name must be a short string of printable characters "
                              f"(no newlines or escape codes), got {_short(name)}")
    report = d.get("report") or {}
    if not isinstance(report, dict):
        raise PolicyFileError(f"{source}: report must be a JSON object")
    return Policy(
        groups=groups,
        skip=skip,
        name=name,
        target_quality=_num(d.get("target_quality", 0.95), f"{source}: target_quality", 0.0, 10.0),
        confidence=_num(d.get("confidence", DEFAULT_CONFIDENCE), f"{source}: confidence", 0.0, 1.0),
        hash_buckets=int(_num(d.get("hash_buckets", DEFAULT_HASH_BUCKETS), f"{source}: hash_buckets", 0, 1 << 20)),
        vetoes=tuple(vetoes),
        created=_num(d.get("created", 0.0), f"{source}: created", 0.0, 1e12),
        report=report,
    )
