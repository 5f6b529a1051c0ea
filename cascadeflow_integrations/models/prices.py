"""Prices: what a usage costs as the provider bills it, and a dated table of list prices.

A member's price comes from where it is added (`ModelConfig(input_cost=..., output_cost=...,
cached_input_cost=..., cache_write_cost=...)`, `Member(model, ...)`) or, failing that, from
`PRICE_TABLE`. A model with neither has no price: its cost is `None` in the result, never a silent $0.
Prompt tokens are billed in three parts: fresh input, cache reads and cache writes (`Usage`). A
missing cached-input or cache-write price bills those tokens at the input price (an upper bound for
reads) and the result says so (`cost_estimated`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from ..errors import ConfigError
from ..types import Usage

__all__ = ["PRICE_TABLE", "Price", "TablePrice", "lookup_price"]


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1K tokens: fresh input, output, cache reads (`cached_input`) and cache writes (`cache_write`).

    `None` for a cache price means unknown: those tokens are billed at the input price and
    `estimated(usage)` is True. Reasoning tokens are output tokens (billed as output).
    """

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None

    def __post_init__(self) -> None:
        for name in ("input", "output", "cached_input", "cache_write"):
            v = getattr(self, name)
            if v is not None and v < 0:
                raise ConfigError(f"prices must be >= 0 USD per 1K tokens, got {name}={v}")

    def cost(self, usage: Usage) -> float:
        """What this usage costs. No token guessing: usage comes from the provider."""
        read = min(usage.cached_tokens, usage.input_tokens)
        written = min(usage.cache_write_tokens, usage.input_tokens - read)
        fresh = usage.input_tokens - read - written
        pread = self.input if self.cached_input is None else self.cached_input
        pwrite = self.input if self.cache_write is None else self.cache_write
        return (fresh * self.input + read * pread + written * pwrite + usage.output_tokens * self.output) / 1000.0

    def estimated(self, usage: Usage) -> bool:
        """True when this usage has cache tokens this price does not know (billed at the input price)."""
        return bool((usage.cached_tokens and self.cached_input is None)
                    or (usage.cache_write_tokens and self.cache_write is None))

    @property
    def max_input(self) -> float:
        """The most one prompt token can cost (a cache write may cost more than fresh input): for worst cases."""
        return max(self.input, self.cache_write or 0.0, self.cached_input or 0.0)

    def with_input(self, input: float, output: float) -> Price:
        """The same cache prices with other input/output prices."""
        return Price(input, output, self.cached_input, self.cache_write)

    @classmethod
    def per_million(cls, input: float, output: float, cached_input: float | None = None,
                    cache_write: float | None = None) -> Price:
        """A price written in USD per 1M tokens, as providers publish them (records, the table, `fit`'s
        `draft_price=`): the one place that unit is converted."""
        return cls(input / 1000, output / 1000, None if cached_input is None else cached_input / 1000,
                   None if cache_write is None else cache_write / 1000)

    @classmethod
    def of(cls, v: object, default: Price) -> Price:
        """A `Price`, or a record's per-1M price (one number for both sides, or an `(input, output)` pair);
        `default` when unset."""
        if v is None or v == "":
            return default
        if isinstance(v, Price):
            return v
        if isinstance(v, (int, float, str)):
            return cls.per_million(float(v), float(v))
        try:
            a, b = cast(Sequence[Any], v)
            return cls.per_million(float(a), float(b))
        except (TypeError, ValueError):
            raise ConfigError(f"a price must be a Price or USD per 1M tokens as (input, output), got {v!r}") from None


@dataclass(frozen=True, slots=True)
class TablePrice(Price):
    """A list price from `PRICE_TABLE`, with the date it was read from the provider's pricing page."""

    as_of: str = ""


def _m(per_m_in: float, per_m_out: float, as_of: str, cached: float | None = None,
       write: float | None = None) -> TablePrice:
    # the table is written in USD per 1M tokens (how providers publish them); stored per 1K
    p = Price.per_million(per_m_in, per_m_out, cached, write)
    return TablePrice(p.input, p.output, p.cached_input, p.cache_write, as_of)


def _oai(per_m_in: float, per_m_out: float, cached: float, as_of: str) -> TablePrice:
    # OpenAI and Gemini (implicit caching): cache writes are billed as fresh input
    return _m(per_m_in, per_m_out, as_of, cached, per_m_in)


def _claude(per_m_in: float, per_m_out: float, as_of: str) -> TablePrice:
    # Anthropic: cache reads 0.1x input, 5-minute cache writes 1.25x input
    return _m(per_m_in, per_m_out, as_of, per_m_in * 0.1, per_m_in * 1.25)


def _uncached(per_m_in: float, per_m_out: float, as_of: str) -> TablePrice:
    # no prompt caching offered for the model: every prompt token is fresh input
    return _m(per_m_in, per_m_out, as_of, per_m_in, per_m_in)


#: Standard (non-batch, shortest-context tier) list prices of well-known models, USD, with their
#: cache-read and cache-write prices (Anthropic: the 5-minute cache; 1-hour writes cost 2x input).
#: Each entry is dated: prices change, so pass your own where you add a model when it matters.
PRICE_TABLE: dict[str, TablePrice] = {
    # OpenAI (openai.com/api/pricing)
    "gpt-4o": _oai(2.50, 10.00, 1.25, "2025-08-01"),
    "gpt-4o-mini": _oai(0.15, 0.60, 0.075, "2025-08-01"),
    "gpt-4.1": _oai(2.00, 8.00, 0.50, "2025-08-01"),
    "gpt-4.1-mini": _oai(0.40, 1.60, 0.10, "2025-08-01"),
    "gpt-4.1-nano": _oai(0.10, 0.40, 0.025, "2025-08-01"),
    "gpt-5": _oai(1.25, 10.00, 0.125, "2025-08-07"),
    "gpt-5-mini": _oai(0.25, 2.00, 0.025, "2025-08-07"),
    "gpt-5-nano": _oai(0.05, 0.40, 0.005, "2025-08-07"),
    "o3": _oai(2.00, 8.00, 0.50, "2025-08-01"),
    "o3-mini": _oai(1.10, 4.40, 0.55, "2025-08-01"),
    "o4-mini": _oai(1.10, 4.40, 0.275, "2025-08-01"),
    # Anthropic (anthropic.com/pricing)
    "claude-opus-4-1": _claude(15.00, 75.00, "2025-08-05"),
    "claude-opus-4-0": _claude(15.00, 75.00, "2025-08-05"),
    "claude-sonnet-4-5": _claude(3.00, 15.00, "2025-09-29"),
    "claude-sonnet-4-0": _claude(3.00, 15.00, "2025-08-05"),
    "claude-sonnet-4": _claude(3.00, 15.00, "2025-08-05"),
    "claude-opus-4": _claude(15.00, 75.00, "2025-08-05"),
    "claude-haiku-4-5": _claude(1.00, 5.00, "2025-10-15"),
    "claude-3-5-haiku-latest": _claude(0.80, 4.00, "2025-08-05"),
    "claude-3-haiku-20240307": _claude(0.25, 1.25, "2025-08-05"),
    # Groq (groq.com/pricing)
    "llama-3.1-8b-instant": _uncached(0.05, 0.08, "2025-08-01"),
    "llama-3.3-70b-versatile": _uncached(0.59, 0.79, "2025-08-01"),
    # Google Gemini (ai.google.dev/gemini-api/docs/pricing; prompts up to 200K tokens)
    "gemini-2.5-pro": _oai(1.25, 10.00, 0.31, "2025-08-01"),
    "gemini-2.5-flash": _oai(0.30, 2.50, 0.075, "2025-08-01"),
    "gemini-2.5-flash-lite": _oai(0.10, 0.40, 0.025, "2025-08-01"),
    "gemini-2.0-flash": _oai(0.10, 0.40, 0.025, "2025-08-01"),
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
