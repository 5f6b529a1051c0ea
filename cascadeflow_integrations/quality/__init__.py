"""Draft validation: built-in checks, composition, thresholds, an opt-in judge, offline evaluation, calibration."""

from __future__ import annotations

from .answer import AnswerPresenceCheck
from .base import (
    COMPLEXITIES,
    CheckResult,
    Decision,
    Draft,
    FunctionValidator,
    PartialDraft,
    ValidationRequest,
    Validator,
    as_validator,
)
from .compose import AllOf, WeightedScore, default_validator
from .consistency import ConsistencyCheck
from .judge import JudgeValidator
from .offline import evaluate, evaluate_sync
from .thresholds import Thresholds
from .validators import (
    CompletenessCheck,
    LogprobConfidence,
    PromptDifficultyPrior,
    RefusalCheck,
    ToolCallCheck,
)


def __getattr__(name: str) -> object:
    # Lazy so `python -m cascadeflow_integrations.quality.calibrate` does not import the module twice.
    if name in ("calibrate", "CalibrationResult"):
        from . import calibrate as _cal

        return getattr(_cal, name)
    raise AttributeError(name)


__all__ = [
    "COMPLEXITIES",
    "AllOf",
    "AnswerPresenceCheck",
    "CalibrationResult",
    "CheckResult",
    "CompletenessCheck",
    "ConsistencyCheck",
    "Decision",
    "Draft",
    "FunctionValidator",
    "JudgeValidator",
    "LogprobConfidence",
    "PartialDraft",
    "PromptDifficultyPrior",
    "RefusalCheck",
    "Thresholds",
    "ToolCallCheck",
    "ValidationRequest",
    "Validator",
    "WeightedScore",
    "as_validator",
    "calibrate",
    "default_validator",
    "evaluate",
    "evaluate_sync",
]
