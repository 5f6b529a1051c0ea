"""OpenTelemetry spans for cascade calls (optional extra `[otel]`: `opentelemetry-api`).

One span per cascade call, a child span per model attempt and per model-based check, with the
OpenTelemetry GenAI semantic conventions (`gen_ai.*`) plus the cascade's own `cascade.*`
attributes. Nothing is recorded, and nothing is imported (never on the event loop), unless the
application has imported `opentelemetry-api` and set a tracer provider. Prompt and answer
text are recorded only with `CascadeAgent(trace_content=True)` or
`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`.

Spans are started with an explicit parent (the context current where the call began), never
made current across the engine's `yield`s: an async generator may resume in another context.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from .cascade.hooks import RoutePlan, RunHook
# the tracer and the checks' span are below quality/ (which opens check spans); these names stay here
from ._trace import SCOPE, _api, _set_error, check_span, provider_name, tracer  # noqa: F401 - re-exported

CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def content_enabled(opt_in: bool) -> bool:
    return opt_in or os.environ.get(CONTENT_ENV, "").strip().lower() in ("1", "true", "yes")


def _server(cfg: Any) -> tuple[str | None, int | None]:
    url = getattr(cfg, "resolved_base_url", None) or (getattr(cfg, "endpoint", None) or (None, None))[1]
    if not url:
        return None, None
    parts = urlsplit(url)
    return parts.hostname, parts.port


def _messages_json(messages: Any) -> str:
    out = []
    for m in messages:
        parts: list[dict[str, Any]] = []
        if m.content:
            parts.append({"type": "text", "content": m.content if isinstance(m.content, str) else str(m.content)})
        for c in getattr(m, "tool_calls", None) or ():
            parts.append({"type": "tool_call", "id": getattr(c, "id", ""), "name": getattr(c, "name", ""),
                          "arguments": getattr(c, "arguments", None)})
        out.append({"role": m.role, "parts": parts})
    return json.dumps(out, default=str)


def _output_json(text: str, tool_calls: Any, finish_reason: str | None) -> str:
    parts: list[dict[str, Any]] = [{"type": "text", "content": text}] if text else []
    for c in tool_calls or ():
        parts.append({"type": "tool_call", "id": c.id, "name": c.name, "arguments": c.arguments})
    return json.dumps([{"role": "assistant", "parts": parts, "finish_reason": finish_reason or ""}], default=str)


class CallTrace:
    """The spans of one cascade call. Created only when tracing is on (see `start_call`)."""

    __slots__ = ("tracer", "parent", "span", "ctx", "content")

    def __init__(self, tracer: Any, parent: Any, content: bool) -> None:
        self.tracer = tracer
        self.parent = parent
        self.content = content
        self.span: Any = None
        self.ctx: Any = None

    def start(self, messages: Any, opts: Any) -> None:
        from opentelemetry import trace

        attrs: dict[str, Any] = {"gen_ai.operation.name": "chat", "cascade.streaming_mode": opts.mode.value}
        if opts.max_tokens is not None:
            attrs["gen_ai.request.max_tokens"] = opts.max_tokens
        if opts.temperature is not None:
            attrs["gen_ai.request.temperature"] = opts.temperature
        if self.content:
            attrs["gen_ai.input.messages"] = _messages_json(messages)
        self.span = self.tracer.start_span("cascade", context=self.parent, kind=trace.SpanKind.INTERNAL,
                                           attributes=attrs)
        self.ctx = trace.set_span_in_context(self.span, self.parent)

    def routed(self, routing: Any, models: list[str]) -> None:
        self.span.set_attribute("cascade.strategy", routing.strategy)
        self.span.set_attribute("cascade.complexity", routing.complexity)
        self.span.set_attribute("cascade.models", models)

    def budget(self, key: Any, action: str) -> None:
        self.span.set_attribute("cascade.budget.key", key)
        self.span.set_attribute("cascade.budget.action", action)

    def attempt(self, cfg: Any, phase: str, level: int, opts: Any) -> Any:
        from opentelemetry import trace

        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider_name(cfg.provider),
            "gen_ai.request.model": cfg.name, "gen_ai.response.model": cfg.name, "cascade.member": cfg.label,
            "cascade.phase": phase, "cascade.level": level}
        if opts.max_tokens is not None:
            attrs["gen_ai.request.max_tokens"] = opts.max_tokens
        if opts.temperature is not None:
            attrs["gen_ai.request.temperature"] = opts.temperature
        host, port = _server(cfg)
        if host:
            attrs["server.address"] = host
            if port:
                attrs["server.port"] = port
        return self.tracer.start_span(f"chat {cfg.name}", context=self.ctx, kind=trace.SpanKind.CLIENT,
                                      attributes=attrs)

    def attempt_done(self, span: Any, attempt: Any, draft: Any, error: BaseException | None,
                     decision: Any = None, end_ns: int | None = None) -> None:
        if attempt.reported_model:
            span.set_attribute("gen_ai.response.model", attempt.reported_model)
        span.set_attribute("gen_ai.usage.input_tokens", attempt.usage.input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", attempt.usage.output_tokens)
        if attempt.finish_reason:
            span.set_attribute("gen_ai.response.finish_reasons", [attempt.finish_reason])
        if attempt.ttft_ms is not None:
            span.set_attribute("gen_ai.response.time_to_first_chunk", attempt.ttft_ms / 1000)
        if attempt.cost is not None:  # None: the member has no known price
            span.set_attribute("cascade.cost_usd", attempt.cost)
        if attempt.usage_estimated:
            span.set_attribute("cascade.usage_estimated", True)
        u = attempt.usage
        for name, n in (("cached_tokens", u.cached_tokens), ("cache_write_tokens", u.cache_write_tokens),
                        ("reasoning_tokens", u.reasoning_tokens)):
            if n:
                span.set_attribute(f"cascade.usage.{name}", n)
        if attempt.cost_estimated:
            span.set_attribute("cascade.cost_estimated", True)
        if attempt.aborted:
            span.set_attribute("cascade.aborted", attempt.aborted)
        if decision is not None:
            span.set_attribute("cascade.accepted", bool(decision.accepted))
            span.set_attribute("cascade.score", decision.score)
            span.set_attribute("cascade.reason", decision.reason)
        if self.content and error is None:
            span.set_attribute("gen_ai.output.messages", _output_json(draft.text, draft.tool_calls,
                                                                      attempt.finish_reason))
        if error is not None:
            _set_error(span, error)
        span.end(end_time=end_ns)

    @contextmanager
    def current(self) -> Iterator[None]:
        """Make the call's span current around one await (checks nest their spans under it)."""
        from opentelemetry import context

        token = context.attach(self.ctx)
        try:
            yield
        finally:
            context.detach(token)

    def end(self, result: Any = None, error: BaseException | None = None) -> None:
        span = self.span
        if result is not None:
            decisions = result.decisions
            first = decisions[0] if decisions else None
            escalated = result.strategy == "cascade" and len(result.attempts) > 1
            span.set_attribute("cascade.decision", "direct" if result.strategy == "direct" and not decisions
                               else "escalated" if escalated else "accepted")
            span.set_attribute("cascade.escalated", escalated)
            if first is not None:
                span.set_attribute("cascade.score", first.get("score", 0.0))
                span.set_attribute("cascade.reason", first.get("reason", ""))
            span.set_attribute("gen_ai.response.model", result.model_used)
            span.set_attribute("gen_ai.provider.name", provider_name(result.provider_used))
            span.set_attribute("gen_ai.usage.input_tokens", result.usage.input_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", result.usage.output_tokens)
            if result.finish_reason:
                span.set_attribute("gen_ai.response.finish_reasons", [result.finish_reason])
            for name, value in (("cascade.cost_usd", result.total_cost), ("cascade.cost_saved_usd", result.cost_saved),
                                ("cascade.baseline_cost_usd", result.baseline_cost)):
                if value is not None:  # None when a member's price is unknown
                    span.set_attribute(name, value)
            if result.validator_cost:
                span.set_attribute("cascade.validator_cost_usd", result.validator_cost)
            if self.content:
                span.set_attribute("gen_ai.output.messages", _output_json(result.content, result.tool_calls,
                                                                          result.finish_reason))
        if error is not None:
            _set_error(span, error)
        span.end()


def start_call(content: bool) -> CallTrace | None:
    """A `CallTrace` parented on the current context, or None when tracing is off (the common, free case)."""
    t = tracer()
    if t is None:
        return None
    from opentelemetry import context

    return CallTrace(t, context.get_current(), content_enabled(content))


def now_ns() -> int:
    return time.time_ns()


class TraceHook(RunHook):
    """OpenTelemetry spans as a run hook: the call's span, one span per member call, checks nested under it."""

    def __init__(self, trace: CallTrace) -> None:
        self.trace = trace
        #: by id of the attempt: its span, and when its model call ended
        self.spans: dict[int, tuple[Any, int | None]] = {}
        self.ended = False

    def on_start(self, run: Any) -> None:
        self.trace.start(run.messages, run.opts)

    async def on_route(self, run: Any, routing: Any, routed: list[Any], plan: RoutePlan) -> None:
        self.trace.routed(routing, [m.label for m in routed])
        budget = plan.extra.get("budget")  # the budget hook ran first: its reservation, unless it refused
        if budget is not None and plan.refused is None:
            self.trace.budget(budget["key"], budget["action"])

    def on_attempt_start(self, run: Any, attempt: Any, member: Any, phase: str, level: int) -> None:
        self.spans[id(attempt)] = (self.trace.attempt(member, phase, level, run.opts), None)

    def on_attempt_streamed(self, run: Any, attempt: Any) -> None:
        entry = self.spans.get(id(attempt))
        if entry is not None:
            self.spans[id(attempt)] = (entry[0], now_ns())

    def validating(self, run: Any) -> Any:
        return self.trace.current()

    def on_attempt_end(self, run: Any, attempt: Any, member: Any, draft: Any, error: BaseException | None,
                       decision: Any) -> None:
        entry = self.spans.pop(id(attempt), None)
        if entry is not None:
            self.trace.attempt_done(entry[0], attempt, draft, error, decision, entry[1])

    async def on_close(self, run: Any, complete: bool, error: BaseException | None) -> None:
        if not self.ended:
            self.ended = True
            self.trace.end(run.result if complete else None, error)
