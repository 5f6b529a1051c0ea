"""Cascade events for LangChain: dispatch to callback handlers, a typed handler, a cost tracker.

Why not `adispatch_custom_event`: it needs a parent run in the context and fails (or is
attributed to the enclosing chain) when the chat model is the root run, and
`stream()`/`astream()` never hand `_stream`/`_astream` a run manager. So `ChatCascade` pins
the run id and a callback manager in a ContextVar (`EventSink`) before the base class opens
the run, and emits `on_custom_event` through it, attributed to the chat-model run itself.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypedDict
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler, AsyncCallbackManager, BaseCallbackHandler, CallbackManager
from langchain_core.callbacks.manager import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.tracers.context import register_configure_hook

__all__ = [
    "CASCADE_EVENTS",
    "CascadeCallbackHandler",
    "CascadeCostCallback",
    "EventSink",
    "get_cascade_callback",
]

ROUTING = "cascade_routing"
DRAFT_CHUNK = "cascade_draft_chunk"
DECISION = "cascade_decision"
SWITCH = "cascade_switch"
COMPLETE = "cascade_complete"
ERROR = "cascade_error"
#: Names of the custom events `ChatCascade` emits, in the order they can occur.
CASCADE_EVENTS = (ROUTING, DRAFT_CHUNK, DECISION, SWITCH, COMPLETE, ERROR)


# ---- event payloads (all JSON-friendly) ------------------------------------------------------


class RoutingData(TypedDict, total=False):
    strategy: str  # "cascade" or "direct"
    complexity: str
    reason: str
    models: list[str]
    streaming_mode: str


class DraftChunkData(TypedDict, total=False):
    model: str
    phase: str
    provider: str
    text: str
    #: a tool-call fragment: index, id/name (first fragment only), args (JSON text fragment)
    tool_call_chunk: dict[str, Any] | None


class DecisionData(TypedDict, total=False):
    accepted: bool
    confidence: float
    score: float
    reason: str
    threshold: float
    checks: list[dict[str, Any]]
    validator_cost: float
    #: requests made by model-based checks for this decision (0: only free checks ran)
    validator_calls: int
    model: str
    phase: str
    level: int
    index: int  # the model's position in the configured chain
    error: str | None


class SwitchData(TypedDict, total=False):
    from_model: str
    to_model: str
    reason: str  # quality_failed | aborted | draft_error | tool_risk
    detail: str
    error: str | None


class ErrorData(TypedDict, total=False):
    error: str
    error_type: str
    model: str
    phase: str
    provider: str
    partial_content: str


#: `cascade_complete` data is `CascadeResult.to_dict()`.
CompleteData = dict[str, Any]


def jsonable(value: Any) -> Any:
    """A JSON-friendly copy of engine event data (exceptions become strings)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, BaseException):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return jsonable(to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    return str(value)


# ---- dispatch ----------------------------------------------------------------------------------

Manager = CallbackManager | AsyncCallbackManager
RunManager = CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun


@dataclass(frozen=True, slots=True)
class EventSink:
    """Where one chat-model run's custom events go: its handlers, under its run id."""

    manager: Manager
    run_id: UUID

    @classmethod
    def from_run_manager(cls, rm: RunManager) -> EventSink:
        # LLM run managers have no usable on_custom_event, so rebuild a manager with its handlers.
        kind = AsyncCallbackManager if isinstance(rm, AsyncCallbackManagerForLLMRun) else CallbackManager
        manager = kind(
            handlers=rm.handlers, inheritable_handlers=rm.inheritable_handlers, parent_run_id=rm.parent_run_id,
            tags=rm.tags, inheritable_tags=rm.inheritable_tags, metadata=rm.metadata,
            inheritable_metadata=rm.inheritable_metadata)
        return cls(manager, rm.run_id)

    def emit(self, name: str, data: dict[str, Any]) -> None:
        """Deliver from sync code."""
        if isinstance(self.manager, AsyncCallbackManager):
            from .._sync import run_sync

            run_sync(self.manager.on_custom_event(name, data, run_id=self.run_id))
        else:
            self.manager.on_custom_event(name, data, run_id=self.run_id)

    async def aemit(self, name: str, data: dict[str, Any]) -> None:
        """Deliver from async code."""
        if isinstance(self.manager, AsyncCallbackManager):
            await self.manager.on_custom_event(name, data, run_id=self.run_id)
        else:
            self.manager.on_custom_event(name, data, run_id=self.run_id)


#: The sink of the chat-model run being started in this context (set by `ChatCascade`).
current_sink: ContextVar[EventSink | None] = ContextVar("cascadeflow_event_sink", default=None)


# ---- handlers ----------------------------------------------------------------------------------


class CascadeCallbackHandler(BaseCallbackHandler):
    """Subclass and override the `on_cascade_*` hooks you need; pass it in `callbacks=[...]`.

    Every hook gets the event data (JSON-friendly) and the chat-model run's `run_id`.
    """

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, tags: list[str] | None = None,
                        metadata: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        hook = _HOOKS.get(name)
        if hook is not None:
            getattr(self, hook)(data, run_id=run_id)

    def on_cascade_routing(self, data: RoutingData, *, run_id: UUID) -> None:
        """The cascade chose a strategy (cascade or direct) and a complexity."""

    def on_cascade_draft_chunk(self, data: DraftChunkData, *, run_id: UUID) -> None:
        """A draft fragment, live, before the draft is judged (it may still be rejected)."""

    def on_cascade_decision(self, data: DecisionData, *, run_id: UUID) -> None:
        """The validator accepted or rejected a draft."""

    def on_cascade_switch(self, data: SwitchData, *, run_id: UUID) -> None:
        """The cascade escalated to the next model."""

    def on_cascade_complete(self, data: CompleteData, *, run_id: UUID) -> None:
        """The call finished; `data` is `CascadeResult.to_dict()` (costs, usage, decisions)."""

    def on_cascade_error(self, data: ErrorData, *, run_id: UUID) -> None:
        """The last model failed; the error is raised to the caller after this."""


class AsyncCascadeCallbackHandler(AsyncCallbackHandler):
    """The async twin of `CascadeCallbackHandler`: override the `async def on_cascade_*` hooks you need."""

    async def on_custom_event(self, name: str, data: Any, *, run_id: UUID, tags: list[str] | None = None,
                              metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        hook = _HOOKS.get(name)
        if hook is not None:
            await getattr(self, hook)(data, run_id=run_id)

    async def on_cascade_routing(self, data: RoutingData, *, run_id: UUID) -> None:
        """The cascade chose a strategy (cascade or direct) and a complexity."""

    async def on_cascade_draft_chunk(self, data: DraftChunkData, *, run_id: UUID) -> None:
        """A draft fragment, live, before the draft is judged (it may still be rejected)."""

    async def on_cascade_decision(self, data: DecisionData, *, run_id: UUID) -> None:
        """The validator accepted or rejected a draft."""

    async def on_cascade_switch(self, data: SwitchData, *, run_id: UUID) -> None:
        """The cascade escalated to the next model."""

    async def on_cascade_complete(self, data: CompleteData, *, run_id: UUID) -> None:
        """The call finished; `data` is `CascadeResult.to_dict()` (costs, usage, decisions)."""

    async def on_cascade_error(self, data: ErrorData, *, run_id: UUID) -> None:
        """The last model failed; the error is raised to the caller after this."""


_HOOKS = {name: "on_" + name for name in CASCADE_EVENTS}


class CascadeCostCallback(CascadeCallbackHandler):
    """Totals over every cascade call made while it is active (see `get_cascade_callback`)."""

    # Run in the emitting thread/task: no executor hop, and the lock keeps totals exact.
    run_inline = True

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.requests = 0
        self.total_cost = 0.0
        self.cost_saved = 0.0
        self.drafts_accepted = 0
        self.escalations = 0
        self.errors = 0
        #: calls with a model of unknown price (their cost is not in `total_cost`)
        self.unpriced = 0
        #: requests that paid for a model-based check, and what those checks cost in all
        self.model_checked = 0
        self.validator_cost = 0.0
        self.input_tokens = 0
        self.output_tokens = 0
        self.by_model: dict[str, dict[str, float]] = {}

    def on_cascade_switch(self, data: SwitchData, *, run_id: UUID) -> None:
        with self._lock:
            self.escalations += 1

    def on_cascade_error(self, data: ErrorData, *, run_id: UUID) -> None:
        with self._lock:
            self.errors += 1
            self.requests += 1

    def on_cascade_complete(self, data: CompleteData, *, run_id: UUID) -> None:
        usage = data.get("usage") or {}
        with self._lock:
            self.requests += 1
            if data.get("total_cost") is None:
                self.unpriced += 1
            self.total_cost += float(data.get("total_cost") or 0.0)
            self.cost_saved += float(data.get("cost_saved") or 0.0)
            self.drafts_accepted += bool(data.get("draft_accepted"))
            self.model_checked += bool(data.get("validator_calls"))
            self.validator_cost += float(data.get("validator_cost") or 0.0)
            self.input_tokens += int(usage.get("input_tokens") or 0)
            self.output_tokens += int(usage.get("output_tokens") or 0)
            for name, m in (data.get("models") or {}).items():
                slot = self.by_model.setdefault(name, {"calls": 0, "cost": 0.0})
                slot["calls"] += m.get("calls", 0)
                slot["cost"] += m.get("cost") or 0.0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __repr__(self) -> str:
        return (f"Cascade requests: {self.requests}\nDrafts accepted: {self.drafts_accepted}\n"
                f"Escalations: {self.escalations}\nTokens: {self.total_tokens}\n"
                f"Total cost (USD): ${self.total_cost:.6f}\nEstimated saved (USD): ${self.cost_saved:.6f}")


_cost_callback: ContextVar[CascadeCostCallback | None] = ContextVar("cascadeflow_cost_callback", default=None)
# Once, at import: every callback manager configured while the var is set gets the handler.
register_configure_hook(_cost_callback, inheritable=True)


@contextmanager
def get_cascade_callback() -> Iterator[CascadeCostCallback]:
    """Total cost, savings, accepted drafts and escalations of every cascade call inside the block.

    Like `get_openai_callback`: works for invoke/stream/batch, chains and graphs, and for
    concurrent calls (`asyncio.gather`) started inside the block.
    """
    cb = CascadeCostCallback()
    token = _cost_callback.set(cb)
    try:
        yield cb
    finally:
        _cost_callback.reset(token)
