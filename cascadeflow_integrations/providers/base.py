"""The provider interface: one normalised streaming call and one whole call per model."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator

from ..config import ModelConfig
from ..types import ChatRequest, Completion, Delta


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
    def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        """Stream the response as normalised deltas."""

    @abc.abstractmethod
    async def complete(self, request: ChatRequest) -> Completion:
        """One non-streaming call."""

    async def aclose(self) -> None:
        """Close SDK clients held by this provider."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.config.name!r}, provider={self.config.provider!r})"
