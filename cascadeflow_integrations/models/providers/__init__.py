"""Provider layer: each official SDK normalised into `cascadeflow_integrations.types` deltas."""

from __future__ import annotations

from collections.abc import Callable

from ...errors import ConfigError
from ..config import ModelConfig
from .base import Provider

ProviderFactory = Callable[[ModelConfig], Provider]


def _openai(config: ModelConfig) -> Provider:
    from .openai import OpenAIProvider

    return OpenAIProvider(config)


def _anthropic(config: ModelConfig) -> Provider:
    from .anthropic import AnthropicProvider

    return AnthropicProvider(config)


def _groq(config: ModelConfig) -> Provider:
    from .groq import GroqProvider

    return GroqProvider(config)


#: SDK family (`ModelConfig.sdk`) -> factory. Factories import their SDK module lazily.
PROVIDERS: dict[str, ProviderFactory] = {"openai": _openai, "anthropic": _anthropic, "groq": _groq}


def register_provider(sdk: str, factory: ProviderFactory) -> None:
    """Serve the SDK family `sdk` with `factory` (replaces an existing registration)."""
    if not sdk:
        raise ConfigError("register_provider needs an SDK family name, e.g. register_provider('openai', factory)")
    PROVIDERS[sdk] = factory


def create_provider(config: ModelConfig) -> Provider:
    """The provider for a model config (OpenAI-compatible servers use the openai SDK)."""
    try:
        factory = PROVIDERS[config.sdk]
    except KeyError:
        raise ConfigError(f"no provider registered for SDK {config.sdk!r}: use one of {sorted(PROVIDERS)} "
                         "or register_provider(...)") from None
    return factory(config)


__all__ = ["PROVIDERS", "Provider", "ProviderFactory", "create_provider", "register_provider"]
