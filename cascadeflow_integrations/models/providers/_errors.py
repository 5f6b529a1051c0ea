"""Map SDK / transport exceptions and mid-stream error events to `cascadeflow_integrations.errors`.

Classification is by duck typing (status code, body, class names in the MRO) so one function
serves openai, anthropic and groq on both their httpx and httpx2 majors.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

from ...errors import (
    AuthenticationError,
    BadRequestError,
    ConnectionFailedError,
    OverloadedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    StreamInterruptedError,
    redact,
)

__all__ = [
    "classify_exception",
    "is_sdk_or_transport_error",
    "missing_key_error",
    "stream_error",
    "truncated_stream_error",
]

_TIMEOUT_NAMES = frozenset({"APITimeoutError", "TimeoutException"})
_CONNECTION_NAMES = frozenset({"APIConnectionError", "TransportError", "NetworkError", "StreamError"})
_SDK_NAMES = frozenset({"APIError", "OpenAIError", "AnthropicError", "GroqError"}) | _TIMEOUT_NAMES | _CONNECTION_NAMES
_OVERLOADED_TYPES = frozenset({"overloaded_error", "api_error", "server_error", "service_unavailable"})


def _mro_names(exc: BaseException) -> set[str]:
    return {c.__name__ for c in type(exc).__mro__}


def is_sdk_or_transport_error(exc: BaseException) -> bool:
    """True for SDK errors and httpx/httpx2 transport errors (others, e.g. vcrpy's, propagate)."""
    return bool(_mro_names(exc) & _SDK_NAMES) or hasattr(exc, "status_code")


def _inner_error(body: Any) -> dict[str, Any]:
    # openai/groq hand over the inner `error` object, anthropic the whole `{"type":"error","error":{}}`
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):
            return inner
        return body
    return {}


def _retry_after(headers: Any) -> float | None:
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(float(ms) / 1000.0, 0.0)
        value = headers.get("retry-after")
    except (TypeError, ValueError, AttributeError):
        return None
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(parsed.timestamp() - time.time(), 0.0)


def _request_id(exc: BaseException, headers: Any) -> str | None:
    rid = getattr(exc, "request_id", None)
    if rid is None and headers is not None:
        try:
            rid = headers.get("x-request-id") or headers.get("request-id")
        except (TypeError, AttributeError):
            return None
    return str(rid) if rid else None


def _error_class(status: int | None, error_type: str | None) -> type[ProviderError]:
    if error_type in _OVERLOADED_TYPES:
        return OverloadedError
    if status is None:
        return ProviderError
    if status == 429 or error_type == "rate_limit_error":
        return RateLimitError
    if status in (401, 403):
        return AuthenticationError
    if status == 408:
        return ProviderTimeoutError
    if status >= 500:
        return OverloadedError
    if status == 409:
        # conflicts are transient (the SDKs retry them too)
        return OverloadedError
    return BadRequestError


def _describe(inner: dict[str, Any], fallback: str) -> tuple[str, str | None]:
    message = inner.get("message")
    error_type = inner.get("type")
    code = inner.get("code")
    text = str(message) if message else fallback
    details = list(dict.fromkeys(str(x) for x in (error_type, code) if x))
    return (f"{text} [{', '.join(details)}]" if details else text), (str(error_type) if error_type else None)


def classify_exception(
    exc: BaseException, *, provider: str, model: str, api_key: str | None, started: bool = False
) -> ProviderError:
    """The library error for an SDK/transport exception. `started`: deltas were already yielded.

    Only redacted text and plain fields are copied from `exc`; raise the result outside the
    `except` block that caught `exc`, so it is neither `__cause__` nor `__context__`.
    """
    names = _mro_names(exc)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        inner = _inner_error(getattr(exc, "body", None))
        response = getattr(exc, "response", None)
        message, error_type = _describe(inner, str(exc))
        cls = _error_class(status, error_type)
        headers = getattr(response, "headers", None)
        retry_after = _retry_after(headers) if cls is RateLimitError else None
        return cls(
            redact(f"HTTP {status}: {message}", api_key),
            provider=provider,
            model=model,
            status_code=status,
            retry_after=retry_after,
            error_type=error_type,
            request_id=_request_id(exc, headers),
        )
    text = redact(f"{type(exc).__name__}: {exc}", api_key)
    if names & _TIMEOUT_NAMES:
        if started:
            return StreamInterruptedError(
                f"timed out mid-stream: {text}", provider=provider, model=model, error_type="timeout"
            )
        return ProviderTimeoutError(f"timed out: {text}", provider=provider, model=model, error_type="timeout")
    if started or "RemoteProtocolError" in names or "ReadError" in names:
        return StreamInterruptedError(
            f"stream interrupted: {text}", provider=provider, model=model, error_type="connection"
        )
    if names & _CONNECTION_NAMES:
        return ConnectionFailedError(f"connection failed: {text}", provider=provider, model=model)
    return ProviderError(text, provider=provider, model=model)


def stream_error(payload: dict[str, Any], *, provider: str, model: str, api_key: str | None) -> ProviderError:
    """The error for an error event inside an HTTP 200 stream.

    Always `StreamInterruptedError` (the response had started), with `error_type` set to the
    provider's type (e.g. `overloaded_error`) and `status_code` to the one the event names, if any.
    """
    inner = _inner_error(payload)
    message, error_type = _describe(inner, "error event in stream")
    status = inner.get("status_code")
    return StreamInterruptedError(
        redact(f"error event mid-stream: {message}", api_key),
        provider=provider,
        model=model,
        status_code=status if isinstance(status, int) else None,
        error_type=error_type,
    )


def truncated_stream_error(*, provider: str, model: str) -> StreamInterruptedError:
    """The body ended before the provider's end-of-response marker."""
    return StreamInterruptedError(
        "stream ended before the response was complete", provider=provider, model=model, error_type="truncated"
    )


def missing_key_error(*, provider: str, model: str, env_var: str | None) -> AuthenticationError:
    """Raised before any network call when no API key is configured."""
    hint = f"set {env_var} or pass api_key=" if env_var else "pass api_key="
    return AuthenticationError(f"no API key: {hint} in ModelConfig", provider=provider, model=model)
