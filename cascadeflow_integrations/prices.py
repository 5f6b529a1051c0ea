"""Prices: what a usage costs, and a dated table of list prices for well-known model names.

A member's price comes from where it is added (`ModelConfig(input_cost=..., output_cost=...)`,
`Member(model, input_cost=..., output_cost=...)`) or, failing that, from `PRICE_TABLE`. A model
with neither has no price: its cost is `None` in the result, never a silent $0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .types import Usage

__all__ = ["PRICE_TABLE", "Price", "TablePrice", "lookup_price"]


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1K input and output tokens."""

    input: float
    output: float

    def __post_init__(self) -> None:
        if self.input < 0 or self.output < 0:
            raise ValueError(f"prices must be >= 0 USD per 1K tokens, got input={self.input}, output={self.output}")

    def cost(self, usage: Usage) -> float:
        """What this usage costs. No token guessing: usage comes from the provider."""
        return (usage.input_tokens * self.input + usage.output_tokens * self.output) / 1000.0


@dataclass(frozen=True, slots=True)
class TablePrice(Price):
    """A list price from `PRICE_TABLE`, with the date it was read from the provider's pricing page."""

    as_of: str = ""


def _m(per_m_in: float, per_m_out: float, as_of: str) -> TablePrice:
    # the table is written in USD per 1M tokens (how providers publish them); stored per 1K
    return TablePrice(per_m_in / 1000, per_m_out / 1000, as_of)


#: Standard (non-batch, non-cached, shortest-context tier) list prices of well-known models, USD.
#: Each entry is dated: prices change, so pass your own where you add a model when it matters.
PRICE_TABLE: dict[str, TablePrice] = {
    # OpenAI (openai.com/api/pricing)
    "gpt-4o": _m(2.50, 10.00, "2025-08-01"),
    "gpt-4o-mini": _m(0.15, 0.60, "2025-08-01"),
    "gpt-4.1": _m(2.00, 8.00, "2025-08-01"),
    "gpt-4.1-mini": _m(0.40, 1.60, "2025-08-01"),
    "gpt-4.1-nano": _m(0.10, 0.40, "2025-08-01"),
    "gpt-5": _m(1.25, 10.00, "2025-08-07"),
    "gpt-5-mini": _m(0.25, 2.00, "2025-08-07"),
    "gpt-5-nano": _m(0.05, 0.40, "2025-08-07"),
    "o3": _m(2.00, 8.00, "2025-08-01"),
    "o3-mini": _m(1.10, 4.40, "2025-08-01"),
    "o4-mini": _m(1.10, 4.40, "2025-08-01"),
    # Anthropic (anthropic.com/pricing)
    "claude-opus-4-1": _m(15.00, 75.00, "2025-08-05"),
    "claude-opus-4-0": _m(15.00, 75.00, "2025-08-05"),
    "claude-sonnet-4-5": _m(3.00, 15.00, "2025-09-29"),
    "claude-sonnet-4-0": _m(3.00, 15.00, "2025-08-05"),
    "claude-sonnet-4": _m(3.00, 15.00, "2025-08-05"),
    "claude-opus-4": _m(15.00, 75.00, "2025-08-05"),
    "claude-haiku-4-5": _m(1.00, 5.00, "2025-10-15"),
    "claude-3-5-haiku-latest": _m(0.80, 4.00, "2025-08-05"),
    "claude-3-haiku-20240307": _m(0.25, 1.25, "2025-08-05"),
    # Groq (groq.com/pricing)
    "llama-3.1-8b-instant": _m(0.05, 0.08, "2025-08-01"),
    "llama-3.3-70b-versatile": _m(0.59, 0.79, "2025-08-01"),
    # Google Gemini (ai.google.dev/gemini-api/docs/pricing; prompts up to 200K tokens)
    "gemini-2.5-pro": _m(1.25, 10.00, "2025-08-01"),
    "gemini-2.5-flash": _m(0.30, 2.50, "2025-08-01"),
    "gemini-2.5-flash-lite": _m(0.10, 0.40, "2025-08-01"),
    "gemini-2.0-flash": _m(0.10, 0.40, "2025-08-01"),
}

# A dated snapshot id ("gpt-4o-mini-2024-07-18", "claude-haiku-4-5-20251001") is priced as its
# alias only when the table has no entry for the snapshot itself.
_SNAPSHOT_RE = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8})$")


def lookup_price(model_name: str | None) -> TablePrice | None:
    """The table's price for a model name (a dated snapshot falls back to its alias), or None."""
    if not model_name:
        return None
    name = model_name.strip()
    found = PRICE_TABLE.get(name)
    if found is None:
        alias = _SNAPSHOT_RE.sub("", name)
        if alias != name:
            found = PRICE_TABLE.get(alias)
    return found
