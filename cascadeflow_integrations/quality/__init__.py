"""Draft validation: built-in checks, model-based checks (staged), composition, thresholds, a judge, offline evaluation, calibration."""

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
    # Lazy so `python -m cascadeflow_integrations.quality.calibrate` does not import the module twice.
    if name in ("calibrate", "CalibrationResult"):
        import importlib

        # Not `from . import calibrate`: that asks this very hook for "calibrate" again (endless recursion).
        value = getattr(importlib.import_module(f"{__name__}.calibrate"), name)
        globals()[name] = value  # the function, not the submodule the import just bound to this name
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
