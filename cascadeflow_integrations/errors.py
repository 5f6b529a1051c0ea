"""Every error the library raises on purpose, in one tree under `CascadeError`.

    CascadeError
    ├── ConfigError (also ValueError)         an option or argument that cannot be used, raised before any call
    ├── ProviderError                         a provider call failed (names provider and model, never the key)
    │   ├── RateLimitError, OverloadedError, ProviderTimeoutError,
    │   │   StreamInterruptedError, ConnectionFailedError  (retryable)
    │   └── AuthenticationError, BadRequestError
    ├── BudgetError
    │   ├── BudgetExceededError               a call would take a budget past its limit
    │   └── BudgetUnavailableError            the budget store is unreachable and the budget fails closed
    ├── PolicyFileError (also ValueError)     a policy file that cannot be used
    ├── LabelError (also ValueError)
    │   ├── MissingLabel                      a record carries no label on one side
    │   ├── NotEnoughLabels                   too few labels to fit
    │   └── RecordError                       a record that cannot be read
    ├── RecordsFileError (also ValueError)    a records file (CSV/JSONL) that cannot be used
    ├── InputError (also ValueError)          a file or path the learning CLI cannot use
    └── JSONStreamError (also ValueError)     streamed tool-call JSON that cannot be parsed (tools.json_stream)

The ValueError bases are kept so that `except ValueError` written against earlier releases keeps working.
The old homes (`budget`, `learning.policy`, `learning.fit`, `learning.cli`, `quality.calibrate`) re-export them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

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


class ConfigError(CascadeError, ValueError):
    """An option or argument that cannot be used; the message names it and the fix. Raised before any call.

    Every face raises it for a bad option: `CascadeAgent`, `ModelConfig`, `Member`, `Budget`, the stores,
    the checks, and the pydantic faces `ChatCascade` and `CascadeLLM` (whose pydantic `ValidationError` it
    replaces, keeping pydantic's message and chaining it as the cause).
    """


class UnknownOptionError(ConfigError, TypeError):
    """A keyword that is no option (the message names the closest one); also a `TypeError`, as Python's own is."""


def closest(name: str, known: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The entry of `known` closest to `name` (a likely typo of it), or None."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=cutoff)
    return close[0] if close else None


def unknown_keyword(where: str, key: str, known: Iterable[str]) -> UnknownOptionError:
    """Python's "unexpected keyword argument" error, with the closest keyword `where` takes."""
    close = closest(key, known)
    return UnknownOptionError(f"{where} got an unexpected keyword argument {key!r}"
                              + (f" (did you mean {close!r}?)" if close else ""))


def config_error(e: Exception, owner: str, known: Iterable[str] = ()) -> ConfigError:
    """`e` (a pydantic `ValidationError` or a `ValueError`) as one `ConfigError` naming `owner`.

    A single error that is already a `ConfigError` is returned as it is, so its class (e.g.
    `UnknownOptionError`) survives pydantic's wrapping; keywords that are no field of `owner` (pydantic's
    `extra_forbidden`) make an `UnknownOptionError` naming the closest of `known`.
    """
    if isinstance(e, ConfigError):
        return e
    errors = getattr(e, "errors", None)
    if not callable(errors):
        return ConfigError(f"{owner}: {e}")
    parts: list[str] = []
    inner: list[BaseException] = []
    unknown = 0
    for err in errors():
        cause = (err.get("ctx") or {}).get("error")
        where = ".".join(str(x) for x in err.get("loc", ())) or "value"
        if isinstance(cause, BaseException):
            inner.append(cause)
            parts.append(str(cause))
        elif err.get("type") == "extra_forbidden":
            unknown += 1
            close = closest(where, known)
            parts.append(f"unknown option {where!r}" + (f" (did you mean {close!r}?)" if close else ""))
        else:
            # the input's type only: a value that fails may be a secret given in the wrong place
            parts.append(f"{where}: {err.get('msg', 'invalid')} (got a {type(err.get('input')).__name__})")
    if len(inner) == 1 and len(parts) == 1 and isinstance(inner[0], ConfigError):
        return inner[0]
    cls = UnknownOptionError if unknown == len(parts) else ConfigError
    return cls(f"{owner}: " + "; ".join(parts))


class BudgetError(CascadeError):
    """Base class of the budget errors."""


class BudgetExceededError(BudgetError):
    """A call would take a budget past its limit (raised before any model is called)."""

    def __init__(self, key: str, limit_usd: float, spent_usd: float, reserved_usd: float = 0.0,
                 needed_usd: float = 0.0) -> None:
        self.key = key
        self.limit_usd = limit_usd
        self.spent_usd = spent_usd
        self.reserved_usd = reserved_usd
        self.needed_usd = needed_usd
        super().__init__(
            f"budget {key!r} exceeded: limit ${limit_usd:.6f}, spent ${spent_usd:.6f}"
            f" (+${reserved_usd:.6f} reserved by calls in flight); this call may cost up to ${needed_usd:.6f}")


class BudgetUnavailableError(BudgetError):
    """The budget store could not be reached and the budget fails closed (`on_store_error="closed"`)."""


class PolicyFileError(CascadeError, ValueError):
    """A policy file or document that cannot be used (malformed, hostile, or of another format)."""


class LabelError(CascadeError, ValueError):
    """Base class of the errors about labels and labelled records."""


class MissingLabel(LabelError):
    """The record carries no label on this side (a malformed one raises a plain ValueError)."""


class NotEnoughLabels(LabelError):
    """Too few labels to fit; `needed` says how many more, in all and per answer kind."""

    def __init__(self, message: str, have: int, needed: int, per_kind: dict[str, int]) -> None:
        super().__init__(message)
        self.have = have
        self.needed = needed
        self.per_kind = per_kind


class RecordError(LabelError):
    """A record that cannot be read (a malformed label, a missing prompt); `index` is its position (from 0)."""

    def __init__(self, index: int, problem: str) -> None:
        super().__init__(f"record {index}: {problem}")
        self.index = index
        self.problem = problem


class RecordsFileError(CascadeError, ValueError):
    """A records file that cannot be used; the message names the file, row and column, and what is expected."""


class InputError(CascadeError, ValueError):
    """A records file, log or output path the CLI cannot use; the message is the whole line to print."""


__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BudgetError",
    "BudgetExceededError",
    "BudgetUnavailableError",
    "CascadeError",
    "ConfigError",
    "ConnectionFailedError",
    "InputError",
    "LabelError",
    "MissingLabel",
    "NotEnoughLabels",
    "OverloadedError",
    "PolicyFileError",
    "ProviderError",
    "ProviderTimeoutError",
    "RateLimitError",
    "RecordError",
    "RecordsFileError",
    "StreamInterruptedError",
    "UnknownOptionError",
    "redact",
]
