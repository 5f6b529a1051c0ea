"""Error hierarchy. Every provider error names provider and model and never holds an API key."""

from __future__ import annotations

import re

_KEY_PATTERN = re.compile(r"(sk-ant-[A-Za-z0-9_\-]{4,}|sk-[A-Za-z0-9_\-]{4,}|gsk_[A-Za-z0-9]{4,}|Bearer\s+\S+)")


def redact(text: str, *secrets: str | None) -> str:
    """Remove API keys (known secrets and anything shaped like one) from text."""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return _KEY_PATTERN.sub("***", text)


class CascadeError(Exception):
    """Base class for errors raised by cascadeflow_integrations."""


class ProviderError(CascadeError):
    """A provider call failed. `retryable` says whether a later attempt may succeed.

    It is raised without the SDK's exception chained (that one may quote the key back), so
    `status_code`, `error_type`, `request_id` and the redacted `message` are what is kept of it.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str,
        status_code: int | None = None,
        retry_after: float | None = None,
        error_type: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.status_code = status_code
        self.retry_after = retry_after
        self.error_type = error_type
        self.request_id = request_id
        self.message = redact(message)
        super().__init__(f"{provider}/{model}: {self.message}")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(provider={self.provider!r}, model={self.model!r}, "
            f"status_code={self.status_code!r}, error_type={self.error_type!r}, request_id={self.request_id!r}, "
            f"message={self.message!r})"
        )


class RateLimitError(ProviderError):
    retryable = True


class OverloadedError(ProviderError):
    """The provider is overloaded or failed on its side (5xx, 529, `overloaded_error`)."""

    retryable = True


class AuthenticationError(ProviderError):
    pass


class ProviderTimeoutError(ProviderError):
    retryable = True


class BadRequestError(ProviderError):
    pass


class StreamInterruptedError(ProviderError):
    """The stream broke after it started (connection lost or a mid-stream error event)."""

    retryable = True


class ConnectionFailedError(ProviderError):
    retryable = True
