"""Decisions that learn from your own traffic: fit a `Policy` on labelled requests, use it to decide.

    from cascadeflow_integrations.learning import fit, Policy
    policy = fit(records, target_quality=0.95)          # or fit(SQLiteStore("cascade.db"))
    policy.save("policy.json"); policy = Policy.load("policy.json")
    policy.decide(prompt, draft).accepted

Fitting needs scikit-learn (`pip install "cascadeflow-integrations[learn]"`); using a policy does not.
"""

from __future__ import annotations

from .fit import NotEnoughLabels, afit, fit
from .labels import ANSWER_KINDS, agreement, answer_kind, extract_answer
from .policy import Policy, PolicyFileError, PolicyValidator

__all__ = [
    "ANSWER_KINDS",
    "NotEnoughLabels",
    "Policy",
    "PolicyFileError",
    "PolicyValidator",
    "afit",
    "agreement",
    "answer_kind",
    "extract_answer",
    "fit",
]
