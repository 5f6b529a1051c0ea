"""Shared set-up for the examples: offline replay by default, live providers with `--live`.

Offline, a loopback server replays recorded provider responses and the examples point the real
SDKs at it through `base_url`; nothing else changes. Live, the models use your API keys.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from cascadeflow_integrations import ModelConfig
from cascadeflow_integrations.replay import Reply, ReplayServer
from cascadeflow_integrations.replay.wire import anthropic_stream, openai_body, openai_stream, words

__all__ = ["Reply", "anthropic_stream", "is_live", "models", "openai_body", "openai_stream", "replay", "words"]

#: list prices, USD per 1K tokens (input, output)
PRICES = {"gpt-4o-mini": (0.00015, 0.0006), "gpt-4o": (0.0025, 0.01)}


def is_live() -> bool:
    """`--live` on the command line."""
    return "--live" in sys.argv[1:]


@contextmanager
def replay(load: Callable[[ReplayServer], None]) -> Iterator[str | None]:
    """Yield the base_url to use: a replay server's (offline) or None (live, real providers)."""
    if is_live():
        if not os.environ.get("OPENAI_API_KEY"):
            sys.exit("--live needs OPENAI_API_KEY")
        print("LIVE: calling the providers with your API keys.")
        yield None
        return
    server = ReplayServer().start()
    load(server)
    print(f"OFFLINE: replaying recorded provider responses from {server.url} (run with --live to call providers).")
    try:
        yield server.openai_url
    finally:
        server.stop()


def models(base_url: str | None, names: tuple[str, ...] = ("gpt-4o-mini", "gpt-4o")) -> list[ModelConfig]:
    """The example chain at list prices, pointed at the replay server when offline."""
    return [ModelConfig(name=n, provider="openai", input_cost=PRICES[n][0], output_cost=PRICES[n][1],
                        base_url=base_url, api_key="replay" if base_url else None,
                        max_retries=0 if base_url else 2) for n in names]


def say(server: ReplayServer, model: str, text: str, match: str | None = None, usage: tuple[int, int] = (30, 20),
        delay: float = 0.01) -> None:
    """Queue a streamed text answer for `model` (for requests containing `match`)."""
    server.add(model, Reply(events=openai_stream(model, words(text), usage=usage), delay=delay), match=match)
