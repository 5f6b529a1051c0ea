"""The policy's small models: logistic regression stored as plain coefficients (JSON, no pickle).

Fitting uses scikit-learn (the `[learn]` extra); predicting is a dot product in pure Python, so an
agent that only loads a policy needs nothing extra.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

#: A feature must occur in at least this many fit examples to get a coefficient.
MIN_FEATURE_SUPPORT = 3


def require_sklearn() -> Any:
    try:
        import sklearn.linear_model as lm  # type: ignore[import-untyped]
    except ImportError:
        raise ImportError(
            "fitting a policy needs scikit-learn: pip install 'cascadeflow-integrations[learn]' "
            "(loading and using a fitted policy does not)"
        ) from None
    return lm


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass
class LinearModel:
    """p(draft good) = sigmoid(intercept + sum(coef_i * (x_i - mean_i) / scale_i)); absent features are 0."""

    names: list[str]
    coef: list[float]
    intercept: float
    mean: list[float]
    scale: list[float]
    _w: dict[str, float] = field(init=False, repr=False, compare=False)
    _base: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Folded once so a prediction only visits the features present.
        self._w = {n: c / s for n, c, s in zip(self.names, self.coef, self.scale)}
        self._base = self.intercept - sum(c * m / s for c, m, s in zip(self.coef, self.mean, self.scale))

    def predict(self, feats: Mapping[str, float]) -> float:
        w = self._w
        z = self._base
        for k, v in feats.items():
            c = w.get(k)
            if c is not None:
                z += c * v
        return _sigmoid(z)

    def contributions(self, feats: Mapping[str, float], k: int = 5) -> list[tuple[str, float]]:
        """The `k` features that moved this prediction most (signed, in log-odds), for explanations."""
        out = []
        for n, c, m, s in zip(self.names, self.coef, self.mean, self.scale):
            d = c * (feats.get(n, 0.0) - m) / s
            if d:
                out.append((n, d))
        out.sort(key=lambda t: -abs(t[1]))
        return [(n, round(d, 3)) for n, d in out[:k]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "logistic",
            "names": list(self.names),
            "coef": [round(c, 6) for c in self.coef],
            "intercept": round(self.intercept, 6),
            "mean": [round(m, 6) for m in self.mean],
            "scale": [round(s, 6) for s in self.scale],
        }


@dataclass(slots=True)
class ConstantModel:
    """Every request gets the same estimate (one class only, or no usable features)."""

    p: float

    def predict(self, feats: Mapping[str, float]) -> float:
        return self.p

    def contributions(self, feats: Mapping[str, float], k: int = 5) -> list[tuple[str, float]]:
        return []

    def to_dict(self) -> dict[str, Any]:
        return {"type": "constant", "p": round(self.p, 6)}


#: How a signal's raw value becomes a score in [0, 1]: logprobs through exp (a token probability).
SIGNAL_TRANSFORMS = ("identity", "exp")


@dataclass(slots=True)
class SignalModel:
    """One recorded signal as the score (a token logprob, a check's score): the simplest rule there is.

    A request without the signal scores -1, so no threshold accepts it."""

    feature: str
    transform: str = "identity"

    def predict(self, feats: Mapping[str, float]) -> float:
        v = feats.get(self.feature)
        if v is None:
            return -1.0
        v = math.exp(min(0.0, v)) if self.transform == "exp" else v
        return max(0.0, min(1.0, v))

    def contributions(self, feats: Mapping[str, float], k: int = 5) -> list[tuple[str, float]]:
        return [(self.feature, round(float(feats.get(self.feature, float("nan"))), 3))]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "signal", "feature": self.feature, "transform": self.transform}


Model = Union[LinearModel, ConstantModel, SignalModel]


def fit_logistic(
    xs: Sequence[Mapping[str, float]], ys: Sequence[int], c: float = 0.5, weights: Sequence[float] | None = None
) -> Model:
    """An L2-regularised logistic regression on named features (sklearn's lbfgs), optionally weighted."""
    n = len(ys)
    pos = sum(ys)
    if n == 0:
        return ConstantModel(0.5)
    if not xs:
        return ConstantModel((pos + 0.5) / (n + 1.0))
    if pos in (0, n):
        return ConstantModel((pos + 0.5) / (n + 1.0))
    support = Counter(k for x in xs for k, v in x.items() if v)
    names = sorted(k for k, m in support.items() if m >= MIN_FEATURE_SUPPORT)
    if not names:
        return ConstantModel(pos / n)
    import numpy as np

    lm = require_sklearn()
    idx = {k: i for i, k in enumerate(names)}
    x = np.zeros((n, len(names)))
    for r, feats in enumerate(xs):
        for k, v in feats.items():
            j = idx.get(k)
            if j is not None:
                x[r, j] = v
    binary = np.all((x == 0) | (x == 1), axis=0)
    mean = np.where(binary, 0.0, x.mean(axis=0))
    scale = np.where(binary, 1.0, x.std(axis=0))
    scale[scale < 1e-9] = 1.0
    clf = lm.LogisticRegression(C=c, max_iter=2000, tol=1e-3)  # probabilities to 3 decimals are plenty
    clf.fit((x - mean) / scale, np.asarray(ys), sample_weight=None if weights is None else np.asarray(weights))
    return LinearModel(names, [float(v) for v in clf.coef_[0]], float(clf.intercept_[0]),
                       [float(v) for v in mean], [float(v) for v in scale])
