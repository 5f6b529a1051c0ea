"""The provider interface: one normalised streaming call and one whole call per model."""

from __future__ import annotations

import abc
import json
from collections.abc import AsyncGenerator, Callable
from typing import Any

from ..config import ModelConfig
from ..errors import ProviderError
from ..types import ChatRequest, Completion, Delta
from ._errors import classify_exception, is_sdk_or_transport_error, stream_error


class Provider(abc.ABC):
    """A model reached through its official async SDK.

    `stream` is an async generator of deltas; closing it (`aclose`, `break`, cancellation) closes
    the HTTP response at once. It never retries after the first delta was yielded.
    """

    #: the SDK family: "openai", "anthropic" or "groq"
    sdk: str = ""
    supports_logprobs: bool = False

    def __init__(self, config: ModelConfig) -> None:
        self.config = config

    @property
    def model(self) -> str:
        return self.config.name

    @abc.abstractmethod
    def stream(self, request: ChatRequest) -> AsyncGenerator[Delta, None]:
        """Stream the response as normalised deltas."""

    @abc.abstractmethod
    async def complete(self, request: ChatRequest) -> Completion:
        """One non-streaming call."""

    async def aclose(self) -> None:
        """Close SDK clients held by this provider."""

    # ---- shared by the SDK providers -------------------------------------------------------

    def _error(self, exc: BaseException, started: bool) -> ProviderError:
        """Our error for an SDK or transport exception (`started`: after the response began).

        Callers raise it after leaving their `except` block: chained, the SDK's exception (whose
        message quotes the key when a server echoes it) would print with every traceback.
        """
        return classify_exception(exc, provider=self.config.provider, model=self.config.name,
                                  api_key=self.config.resolved_api_key(), started=started)

    def _stream_error(self, obj: dict[str, Any]) -> ProviderError:
        """Our error for an error payload inside a response body (HTTP status already 200)."""
        return stream_error(obj, provider=self.config.provider, model=self.config.name,
                            api_key=self.config.resolved_api_key())

    async def _fetch_json(self, create: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        """A whole JSON response from an SDK `with_streaming_response.create`, errors classified."""
        failure: ProviderError | None = None
        try:
            async with create(**kwargs) as resp:
                raw = await resp.http_response.aread()
        except Exception as exc:
            if not is_sdk_or_transport_error(exc):
                raise
            failure = self._error(exc, False)
        if failure is not None:
            raise failure  # outside the handler: see `_error`
        obj: dict[str, Any] = json.loads(raw)
        return obj

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.config.name!r}, provider={self.config.provider!r})"
