"""Acceptance thresholds per complexity level, overridable per agent and per call."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Mapping

from .base import COMPLEXITIES


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Minimum validator score to accept a draft, per complexity. Defaults suit `default_validator()`."""

    # moderate is the GSM8K fit-split calibration of default_validator() for 95% of GPT-4's accuracy
    # (0.796, rounded); the other levels are spaced around it by judgement, not measured.
    trivial: float = 0.50
    simple: float = 0.70
    moderate: float = 0.80
    hard: float = 0.88
    expert: float = 0.95

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                raise ValueError(f"threshold for {f.name!r} must be a number in [0, 1], got {v!r}")

    def for_(self, complexity: str) -> float:
        """The threshold for a complexity level."""
        if complexity not in COMPLEXITIES:
            raise ValueError(f"unknown complexity {complexity!r}: use one of {', '.join(COMPLEXITIES)}")
        return float(getattr(self, complexity))

    def override(self, value: float | Mapping[str, float] | None) -> Thresholds:
        """A copy with some levels replaced: a float sets every level, a dict only the levels it names."""
        if value is None:
            return self
        if isinstance(value, (int, float)):
            return replace(self, **{c: float(value) for c in COMPLEXITIES})
        unknown = set(value) - set(COMPLEXITIES)
        if unknown:
            raise ValueError(f"unknown complexity {sorted(unknown)}: use {', '.join(COMPLEXITIES)}")
        return replace(self, **{k: float(v) for k, v in value.items()})

    def to_dict(self) -> dict[str, float]:
        return {c: getattr(self, c) for c in COMPLEXITIES}
