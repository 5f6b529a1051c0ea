"""Run hooks: what a cascade run tells the features around it (budget, tracing, learning, framework runs).

The engine knows the member chain, the call's options and a list of `RunHook`s, and nothing of what
the hooks do: `budget.BudgetHook`, `otel.TraceHook`, the agent's learner hook and the adapters' run
contexts (LangChain child runs, LlamaIndex spans) are hooks. A hook is made for one call (it may keep
that call's state); every method is optional and the base class's do nothing. Hooks run in list order.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RoutePlan", "RunHook"]


@dataclass(slots=True)
class RoutePlan:
    """What the hooks may change once the call is routed, before any member is called."""

    #: the members this call will use, cheapest first (a hook may narrow it)
    chain: list[Any]
    #: the first member's draft is the answer whatever the validator says (it is still validated and reported)
    final_draft: bool = False
    #: added to the `Routing` event's fields (`budget`)
    extra: dict[str, Any] = field(default_factory=dict)
    #: set to refuse the call: `Error` follows `Routing`, with this phase
    refused: BaseException | None = None
    refused_phase: str = ""


class RunHook:
    """One call's observer. `run` is the engine's `CascadeRun` (its `messages`, `opts`, `result`)."""

    def on_start(self, run: Any) -> None:
        """The call starts (before routing)."""

    async def on_route(self, run: Any, routing: Any, routed: list[Any], plan: RoutePlan) -> None:
        """The call is routed to `routed`; amend `plan` (narrow the chain, add event fields, refuse)."""

    def on_attempt_start(self, run: Any, attempt: Any, member: Any, phase: str, level: int) -> None:
        """A member is about to be called."""

    def wrap(self, member: Any, request: Any, stream: AsyncGenerator[Any, None]) -> AsyncGenerator[Any, None]:
        """Wrap a member's delta stream (e.g. in a framework's child run); return `stream` to leave it."""
        return stream

    def on_attempt_streamed(self, run: Any, attempt: Any) -> None:
        """The member's stream ended (its attempt is priced; a draft's decision may follow)."""

    def validating(self, run: Any) -> AbstractContextManager[Any]:
        """A context entered around the validator's call on a draft."""
        return nullcontext()

    def on_attempt_end(self, run: Any, attempt: Any, member: Any, draft: Any, error: BaseException | None,
                       decision: Any) -> None:
        """An attempt is over: with its decision (a draft), its error (final member, or cut off), or neither."""

    async def on_decision(self, run: Any, request: Any, decision: dict[str, Any]) -> None:
        """A draft's decision (the `DraftDecision` fields); a hook may amend it before it is recorded and sent."""

    def on_complete(self, run: Any, result: Any) -> None:
        """The result is final, just before `Complete` is sent."""

    async def on_close(self, run: Any, complete: bool, error: BaseException | None) -> None:
        """The call ended however it ended (complete, error, cancelled, abandoned), before the consumer
        sees its last event; called once."""


def overrides(hook: RunHook, name: str) -> bool:
    """Does `hook` implement `name` (so the engine can skip the base class's no-ops on per-attempt paths)?"""
    return getattr(type(hook), name) is not getattr(RunHook, name)
