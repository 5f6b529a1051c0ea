"""Provider layer: each official SDK normalised into `cascadeflow_integrations.types` deltas."""

from __future__ import annotations

from ..config import ModelConfig
from .base import Provider


def create_provider(config: ModelConfig) -> Provider:
    """The provider for a model config (OpenAI-compatible servers use the openai SDK)."""
    sdk = config.sdk
    if sdk == "anthropic":
        from .anthropic import AnthropicProvider

        return AnthropicProvider(config)
    if sdk == "groq":
        from .groq import GroqProvider

        return GroqProvider(config)
    from .openai import OpenAIProvider

    return OpenAIProvider(config)


__all__ = ["Provider", "create_provider"]
