"""Cost from provider-reported usage and each model's prices (USD per 1K tokens)."""

from __future__ import annotations

from .config import ModelConfig
from .types import Usage


def usage_cost(model: ModelConfig, usage: Usage) -> float:
    """What this usage costs at the model's prices. No token guessing: usage comes from the provider."""
    return (usage.input_tokens * model.price_in + usage.output_tokens * model.price_out) / 1000.0


def baseline_cost(strongest: ModelConfig, input_tokens: int, output_tokens: int) -> float:
    """Estimated cost of sending the same request to the strongest model only.

    Input tokens are those the provider counted for the request; output tokens are those of the
    final answer. Tokenizers differ between providers, so this is an estimate and labelled so.
    """
    return (input_tokens * strongest.price_in + output_tokens * strongest.price_out) / 1000.0
