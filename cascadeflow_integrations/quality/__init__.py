"""Draft validation: built-in checks, model-based checks (staged), composition, thresholds, a judge, offline evaluation.

`calibrate` and `CalibrationResult` live in `learning.calibrate` and are re-exported here."""

from __future__ import annotations

from ._model import CheckModel
from ._modelcheck import ModelCheck
from .agreement import AgreementCheck
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
from .selfcheck import SelfCheck
from .staged import Staged
from .thresholds import Thresholds
from .toolrisk import ToolRiskCheck
from .validators import (
    CompletenessCheck,
    LogprobConfidence,
    PromptDifficultyPrior,
    RefusalCheck,
    ToolCallCheck,
)


def __getattr__(name: str) -> object:
    # Lazy so `python -m cascadeflow_integrations.learning.calibrate` does not import the module twice
    # (it moved there; `quality.calibrate` is its old path).
    if name in ("calibrate", "CalibrationResult"):
        import importlib

        value = getattr(importlib.import_module("cascadeflow_integrations.learning.calibrate"), name)
        globals()[name] = value
        return value
    raise AttributeError(name)


__all__ = [
    "COMPLEXITIES",
    "AgreementCheck",
    "AllOf",
    "AnswerPresenceCheck",
    "CalibrationResult",
    "CheckModel",
    "CheckResult",
    "CompletenessCheck",
    "ConsistencyCheck",
    "Decision",
    "Draft",
    "FunctionValidator",
    "JudgeValidator",
    "LogprobConfidence",
    "ModelCheck",
    "PartialDraft",
    "PromptDifficultyPrior",
    "RefusalCheck",
    "SelfCheck",
    "Staged",
    "Thresholds",
    "ToolCallCheck",
    "ToolRiskCheck",
    "ValidationRequest",
    "Validator",
    "WeightedScore",
    "as_validator",
    "calibrate",
    "default_validator",
    "evaluate",
    "evaluate_sync",
]
