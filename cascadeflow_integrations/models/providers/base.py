"""The provider interface: one normalised streaming call and one whole call per model."""

from __future__ import annotations

import abc
import json
from collections.abc import AsyncGenerator, Callable
from typing import Any

from ..._imports import installed, ready, warm
from ..config import ModelConfig
from ...errors import ProviderError
from ...types import ChatRequest, Completion, Delta, Samples, gather_samples  # noqa: F401 - re-exported
from ._errors import classify_exception, is_sdk_or_transport_error, stream_error


class Provider(abc.ABC):
    """A model reached through its official async SDK.

    `stream` is an async generator of deltas; closing it (`aclose`, `break`, cancellation) closes
    the HTTP response at once. It never retries after the first delta was yielded.
    """

    #: the SDK family: "openai", "anthropic" or "groq"
    sdk: str = ""
    supports_logprobs: bool = False
    #: the SDK's module: imported in a thread from construction on, never on the event loop
    sdk_module: str = ""
    #: modules the SDK imports lazily on its first request, when their package is installed
    sdk_lazy_modules: tuple[str, ...] = ()

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self._modules = [m for m in (self.sdk_module, *self.sdk_lazy_modules) if m and installed(m)]
        for m in self._modules:
            warm(m)

    async def ready(self) -> None:
        """Wait, off the event loop, until the SDK is imported (at once after the first call)."""
        for m in self._modules:
            await ready(m)

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

    #: one request can return several choices (OpenAI's `n`), so the prompt is paid once
    multi_choice: bool = False

    async def sample(self, request: ChatRequest, n: int) -> Samples:
        """`n` answers to `request`: one multi-choice request where supported, else `n` concurrent ones.

        A failing request is named in `Samples.errors` instead of raising, so callers can use the rest.
        """
        if n < 1:
            raise ValueError(f"sample() needs n >= 1, got {n}")
        if n > 1 and self.multi_choice:
            try:
                return await self._sample_multi(request, n)
            except ProviderError as e:
                return Samples(requests=1, errors=[str(e)])
        return await gather_samples(self.complete, request, n)

    async def _sample_multi(self, request: ChatRequest, n: int) -> Samples:
        raise NotImplementedError  # only providers with multi_choice = True

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
