"""Run hooks: the engine calls a list of hooks and imports none of the features built on them."""

from __future__ import annotations

import ast
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from replay_helpers import CHEAP, STRONG, model, reject, say

from cascadeflow_integrations import CascadeAgent
from cascadeflow_integrations.hooks import RoutePlan, RunHook
from cascadeflow_integrations.streaming import Complete, DraftDecision, Error, Routing, Switch

ROOT = Path(__file__).resolve().parents[1]


def test_engine_imports_no_feature_built_on_hooks() -> None:
    tree = ast.parse((ROOT / "cascadeflow_integrations" / "cascade" / "engine.py").read_text(encoding="utf-8"))
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    for feature in ("budget", "otel", "opentelemetry", "langchain", "llama_index", "learning", "agent"):
        assert not any(m == feature or m.startswith(feature + ".") for m in imported), feature
    assert "hooks" in imported


class Recorder(RunHook):
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.validating_entered = 0

    def on_start(self, run: Any) -> None:
        self.calls.append(("start",))

    async def on_route(self, run: Any, routing: Any, routed: list[Any], plan: RoutePlan) -> None:
        self.calls.append(("route", routing.strategy, [m.label for m in routed]))

    def on_attempt_start(self, run: Any, attempt: Any, member: Any, phase: str, level: int) -> None:
        self.calls.append(("attempt_start", member.label, phase, level))

    def wrap(self, member: Any, request: Any, stream: Any) -> Any:
        self.calls.append(("wrap", member.label))
        return stream

    def on_attempt_streamed(self, run: Any, attempt: Any) -> None:
        self.calls.append(("streamed", attempt.model))

    @contextmanager
    def _around(self) -> Any:
        self.validating_entered += 1
        yield

    def validating(self, run: Any) -> Any:
        return self._around()

    def on_attempt_end(self, run: Any, attempt: Any, member: Any, draft: Any, error: Any, decision: Any) -> None:
        self.calls.append(("attempt_end", member.label, draft.text, None if decision is None else decision.accepted))

    async def on_decision(self, run: Any, request: Any, decision: dict[str, Any]) -> None:
        self.calls.append(("decision", decision["model"], decision["accepted"], request.phase))

    def on_complete(self, run: Any, result: Any) -> None:
        self.calls.append(("complete", result.model_used))

    async def on_close(self, run: Any, complete: bool, error: Any) -> None:
        self.calls.append(("close", complete, error))


async def test_a_hook_sees_an_escalated_call_in_order(module_replay_server) -> None:
    server = module_replay_server
    say(server, CHEAP, "Not sure.")
    say(server, STRONG, "Paris.")
    agent = CascadeAgent([model(server, CHEAP), model(server, STRONG)], validator=reject)
    hook = Recorder()
    events = [e async for e in agent.stream_events("Capital of France?", hooks=[hook])]
    assert isinstance(events[-1], Complete)
    assert hook.calls == [
        ("start",), ("route", "cascade", [CHEAP, STRONG]),
        ("attempt_start", CHEAP, "draft", 0), ("wrap", CHEAP), ("streamed", CHEAP),
        ("attempt_end", CHEAP, "Not sure.", False), ("decision", CHEAP, False, "draft"),
        ("attempt_start", STRONG, "verifier", 1), ("wrap", STRONG), ("streamed", STRONG),
        ("attempt_end", STRONG, "Paris.", None), ("complete", STRONG), ("close", True, None)]
    assert hook.validating_entered == 1


class Refuse(RunHook):
    async def on_route(self, run: Any, routing: Any, routed: list[Any], plan: RoutePlan) -> None:
        plan.refused, plan.refused_phase = PermissionError("not today"), "gate"
        plan.extra["budget"] = {"action": "refused"}


class Approve(RunHook):
    """Amends a decision: what it writes is what the event says and what the result records."""

    async def on_decision(self, run: Any, request: Any, decision: dict[str, Any]) -> None:
        decision.update(accepted=True, reason="approved by a hook")


async def test_hooks_can_refuse_and_amend_decisions(module_replay_server) -> None:
    server = module_replay_server
    agent = CascadeAgent([model(server, CHEAP), model(server, STRONG)], validator=reject)
    hook = Recorder()
    events = [e async for e in agent.stream_events("Hi?", hooks=[Refuse(), hook])]
    assert [type(e) for e in events] == [Routing, Error]
    assert events[0].data["budget"] == {"action": "refused"} and events[1].phase == "gate"
    assert hook.calls[-1][:2] == ("close", False) and not any(c[0] == "attempt_start" for c in hook.calls)

    say(server, CHEAP, "Draft answer.")
    events = [e async for e in agent.stream_events("Hi?", hooks=[Approve()])]
    decision = next(e for e in events if isinstance(e, DraftDecision))
    assert decision.accepted and decision.reason == "approved by a hook"
    assert not any(isinstance(e, Switch) for e in events)
    result = events[-1].result
    assert result.decisions[0]["reason"] == "approved by a hook" and result.attempts[0].accepted


async def test_a_duck_typed_run_context_still_wraps_and_settles(module_replay_server) -> None:
    server = module_replay_server
    say(server, CHEAP, "Not sure.")
    say(server, STRONG, "Paris.")
    seen: list[Any] = []

    class Context:  # the older contract: `wrap` and `settle`, no RunHook
        def wrap(self, member: Any, request: Any, stream: Any) -> Any:
            seen.append(("wrap", member.label, request.run_context is self))
            return stream

        async def settle(self, request: Any, decision: dict[str, Any]) -> None:
            seen.append(("settle", decision["model"], "error" in decision))

    agent = CascadeAgent([model(server, CHEAP), model(server, STRONG)], validator=reject)
    [e async for e in agent.stream_events("Capital?", run_context=Context())]
    assert seen == [("wrap", CHEAP, True), ("settle", CHEAP, False), ("wrap", STRONG, True)]
