"""`CascadeResult`: what one cascade call did, cost and decided."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from .tools.call import ToolCall
from .types import Usage


@dataclass(slots=True)
class ModelAttempt:
    """One model called during the cascade."""

    model: str
    provider: str
    phase: str
    usage: Usage = field(default_factory=Usage)
    #: USD; None when the member's price is unknown
    cost: float | None = 0.0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    chunks: int = 0
    accepted: bool | None = None
    finish_reason: str | None = None
    reported_model: str | None = None
    error: str | None = None
    aborted: str | None = None
    #: True when the provider reported no usage (stream closed early) and tokens were estimated
    usage_estimated: bool = False
    #: True when cache tokens were billed at the input price (the member has no cache price: an upper bound)
    cost_estimated: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["usage"] = self.usage.to_dict()
        return d


@dataclass(slots=True)
class CascadeResult:
    """The outcome of a cascade call. Readable as attributes or as a mapping (`result["content"]`)."""

    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    model_used: str = ""
    provider_used: str = ""
    #: True only when the first model's draft was accepted (see `accepted_index` for which model answered)
    draft_accepted: bool = False
    #: 0-based position in the configured model chain of the model whose answer was returned
    #: (the last model's when the call went direct); None until the call completes
    accepted_index: int | None = None
    strategy: str = "cascade"
    complexity: str = "moderate"
    #: USD; None when a model called has no known price (never a silent $0)
    total_cost: float | None = 0.0
    #: estimated: see `baseline_cost`; negative when a rejected draft was paid for; None when unknown
    cost_saved: float | None = 0.0
    #: estimated cost of sending the request to the strongest model only; None when unknown
    baseline_cost: float | None = 0.0
    cost_saved_is_estimate: bool = True
    #: True when `total_cost` is not exactly the bill: a model called had no cache price (its cache tokens
    #: billed at the input price, an upper bound) or reported no usage (tokens estimated)
    cost_estimated: bool = False
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    attempts: list[ModelAttempt] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    #: the same decisions as typed `quality.Decision`s (hooks' amendments applied), for the decision log,
    #: which serialises them only into its rows; not in to_dict
    decided: list[Any] = field(default_factory=list, repr=False)
    validator_cost: float = 0.0
    #: requests made by model-based checks (0: only free checks ran, nothing paid for validation)
    validator_calls: int = 0
    #: speculative escalation: the next model was started while a model check decided
    speculative_started: bool = False
    #: guarded mode: estimated draft tokens and milliseconds not spent thanks to early aborts
    tokens_saved_by_abort: int = 0
    time_saved_by_abort_ms: float = 0.0
    #: this call's id: pass it to `agent.feedback(request_id, ...)`; the decision log keys its row by it
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: each judged draft (quality.Draft: text, tool calls, logprobs), for the decision log; not in to_dict
    drafts: list[Any] = field(default_factory=list, repr=False)
    #: the call's budget: key, limit_usd, spent_usd (before the call), reserved_usd, window, action
    #: ("none", "drafts_only", "allowed_over_limit", "store_unavailable", "refused") and changed_decision
    budget: dict[str, Any] | None = None

    @property
    def cascaded(self) -> bool:
        """True when more than one model was called."""
        return len(self.attempts) > 1

    @property
    def models(self) -> dict[str, dict[str, Any]]:
        """Per-model usage and cost (None: price unknown), by member label."""
        out: dict[str, dict[str, Any]] = {}
        for a in self.attempts:
            m = out.setdefault(a.model, {"usage": Usage(), "cost": 0.0, "calls": 0})
            m["usage"] = m["usage"] + a.usage
            m["cost"] = None if m["cost"] is None or a.cost is None else m["cost"] + a.cost
            m["calls"] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "tool_calls": [t.to_dict() for t in self.tool_calls],
            "model_used": self.model_used,
            "provider_used": self.provider_used,
            "draft_accepted": self.draft_accepted,
            "accepted_index": self.accepted_index,
            "cascaded": self.cascaded,
            "strategy": self.strategy,
            "complexity": self.complexity,
            "total_cost": self.total_cost,
            "cost_saved": self.cost_saved,
            "baseline_cost": self.baseline_cost,
            "cost_saved_is_estimate": self.cost_saved_is_estimate,
            "cost_estimated": self.cost_estimated,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "usage": self.usage.to_dict(),
            "finish_reason": self.finish_reason,
            "models": {k: {"usage": v["usage"].to_dict(), "cost": v["cost"], "calls": v["calls"]}
                       for k, v in self.models.items()},
            "attempts": [a.to_dict() for a in self.attempts],
            "decisions": self.decisions,
            "validator_cost": self.validator_cost,
            "validator_calls": self.validator_calls,
            "speculative_started": self.speculative_started,
            "tokens_saved_by_abort": self.tokens_saved_by_abort,
            "time_saved_by_abort_ms": self.time_saved_by_abort_ms,
            "request_id": self.request_id,
            "budget": self.budget,
        }

    def __getitem__(self, key: str) -> Any:
        if key in ("cascaded", "models"):
            return self.to_dict()[key]
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default
