"""The library's OpenTelemetry tracer and the span of a model-based check (see `otel.py`).

Below `quality/`, which opens check spans, and `otel.py`, which opens the call's spans; nothing is
imported unless the application has imported `opentelemetry-api` (never on the event loop).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._imports import loaded

SCOPE = "cascadeflow_integrations"

_noop_types: tuple[type, ...] = ()
_tracers: dict[int, Any] = {}


def _api() -> Any:
    """The `opentelemetry.trace` module once this process has imported it, else None.

    Never imports it: calls start on the event loop, which the import would block. A tracer provider
    can only be set by code that imported the API, so until then there is nothing to trace to.
    """
    global _noop_types
    trace = loaded("opentelemetry.trace")
    if trace is not None and not _noop_types:
        _noop_types = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
    return trace


def tracer() -> Any:
    """The library's tracer, or None when OpenTelemetry is absent or no tracer provider is set."""
    trace = _api()
    if trace is None:
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, _noop_types):
        return None
    t = _tracers.get(id(provider))
    if t is None:
        from . import __version__

        t = _tracers[id(provider)] = provider.get_tracer(SCOPE, __version__)
    return t


def provider_name(provider: str) -> str:
    """`gen_ai.provider.name`: the well-known values of the conventions, else our provider name."""
    return {"together": "together_ai", "gemini": "gcp.gemini"}.get(provider, provider)


def _set_error(span: Any, error: BaseException) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("error.type", type(error).__name__)
    span.set_status(Status(StatusCode.ERROR, str(error)[:500]))


@contextmanager
def check_span(check: str, cfg: Any) -> Iterator[Any]:
    """A span around one model-based check's model call (None inside when tracing is off)."""
    t = tracer()
    if t is None:
        yield None
        return
    from opentelemetry import trace

    attrs: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.evaluation.name": check}
    provider, name = getattr(cfg, "provider", None), getattr(cfg, "name", None)
    if isinstance(provider, str):
        attrs["gen_ai.provider.name"] = provider_name(provider)
    if isinstance(name, str):
        attrs["gen_ai.request.model"] = name
    span = t.start_span(f"check {check}", kind=trace.SpanKind.CLIENT, attributes=attrs)
    try:
        yield span
    except BaseException as e:
        _set_error(span, e)
        raise
    finally:
        span.end()
