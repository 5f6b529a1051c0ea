"""Cascade events for LlamaIndex instrumentation.

`CascadeLLM` emits these through the instrumentation dispatcher inside the LLM call's span, so a
handler added with `get_dispatcher().add_event_handler(...)` sees them next to LlamaIndex's own
`LLMChatStartEvent`/`LLMChatEndEvent`, with the same `span_id`.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.instrumentation.events import BaseEvent
from pydantic import Field

from ..cascade.streaming import Complete, DraftDecision, Error, Routing, Switch

__all__ = [
    "CascadeCompleteEvent",
    "CascadeDecisionEvent",
    "CascadeErrorEvent",
    "CascadeEvent",
    "CascadeRoutingEvent",
    "CascadeSwitchEvent",
    "cascade_event",
]


class CascadeEvent(BaseEvent):
    """Base of every cascade event (subscribe to this to receive all of them)."""

    @classmethod
    def class_name(cls) -> str:
        return "CascadeEvent"


class CascadeRoutingEvent(CascadeEvent):
    """The router chose a strategy: `cascade` (draft first) or `direct` (strongest model only)."""

    strategy: str
    complexity: str
    reason: str = ""
    models: list[str] = Field(default_factory=list)
    streaming_mode: str = ""

    @classmethod
    def class_name(cls) -> str:
        return "CascadeRoutingEvent"


class CascadeDecisionEvent(CascadeEvent):
    """A draft was validated: accepted (answer served) or rejected (escalation follows)."""

    model: str
    accepted: bool
    confidence: float = 0.0
    reason: str = ""
    threshold: float | None = None
    level: int = 0
    #: the model's position in the configured chain
    index: int = 0
    #: the engine's full decision (score, checks, ...)
    details: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def class_name(cls) -> str:
        return "CascadeDecisionEvent"


class CascadeSwitchEvent(CascadeEvent):
    """The cascade escalates from one model to the next."""

    from_model: str
    to_model: str
    reason: str
    detail: str = ""

    @classmethod
    def class_name(cls) -> str:
        return "CascadeSwitchEvent"


class CascadeCompleteEvent(CascadeEvent):
    """The cascade finished; `result` is `CascadeResult.to_dict()`."""

    model_used: str
    #: True only when the first model's draft was accepted
    draft_accepted: bool
    #: the answering model's position in the configured chain
    accepted_index: int | None = None
    #: None when a model called has no known price
    total_cost: float | None
    cost_saved: float | None
    usage: dict[str, int] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def class_name(cls) -> str:
        return "CascadeCompleteEvent"


class CascadeErrorEvent(CascadeEvent):
    """The last model in the chain failed; the call raises `error` right after this event."""

    model: str
    error: str
    error_type: str

    @classmethod
    def class_name(cls) -> str:
        return "CascadeErrorEvent"


def cascade_event(ev: Any, span_id: str | None) -> CascadeEvent | None:
    """The instrumentation event for an engine event (None for content events)."""
    if isinstance(ev, Routing):
        return CascadeRoutingEvent(span_id=span_id, strategy=ev.strategy, complexity=ev.complexity,
                                   reason=ev.reason or "", models=ev.models or [],
                                   streaming_mode=ev.streaming_mode or "")
    if isinstance(ev, DraftDecision):
        return CascadeDecisionEvent(span_id=span_id, model=ev.model, accepted=ev.accepted,
                                    confidence=ev.confidence, reason=ev.reason, threshold=ev.threshold,
                                    level=ev.level, index=ev.index,
                                    details={k: v for k, v in ev.data.items() if k != "error"})
    if isinstance(ev, Switch):
        return CascadeSwitchEvent(span_id=span_id, from_model=ev.from_model, to_model=ev.to_model,
                                  reason=ev.reason, detail=ev.detail)
    if isinstance(ev, Complete):
        r = ev.result
        return CascadeCompleteEvent(span_id=span_id, model_used=r.model_used, draft_accepted=r.draft_accepted,
                                    accepted_index=r.accepted_index,
                                    total_cost=r.total_cost, cost_saved=r.cost_saved, usage=r.usage.to_dict(),
                                    result=r.to_dict())
    if isinstance(ev, Error):
        err = ev.error
        return CascadeErrorEvent(span_id=span_id, model=ev.model, error=str(err),
                                 error_type=type(err).__name__)
    return None
