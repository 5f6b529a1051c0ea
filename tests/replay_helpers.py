"""Shared helpers for tests that talk to the loopback replay server through the real SDKs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cascadeflow_integrations import CascadeAgent, ModelConfig
from cascadeflow_integrations.replay import Reply, ReplayServer
from cascadeflow_integrations.replay.wire import anthropic_stream, openai_stream, words

CHEAP = "gpt-4o-mini"
STRONG = "gpt-4o"


def model(server: ReplayServer, name: str, provider: str = "openai", cost: float = 0.0, **kw: Any) -> ModelConfig:
    url = server.openai_url if provider == "openai" else server.url
    return ModelConfig(name=name, provider=provider, base_url=url, api_key="sk-test-not-a-real-key",
                       max_retries=0, cost=cost, **kw)


def agent(server: ReplayServer, *names: str, **kw: Any) -> CascadeAgent:
    return CascadeAgent([model(server, n) for n in (names or (CHEAP, STRONG))], **kw)


def say(server: ReplayServer, name: str, text: str, usage: tuple[int, int] = (20, 10), delay: float = 0.0,
        **kw: Any) -> None:
    """Queue an OpenAI-format streamed answer for model `name`."""
    server.add(name, Reply(events=openai_stream(name, words(text), usage=usage), delay=delay, **kw))


def say_anthropic(server: ReplayServer, name: str, text: str, usage: tuple[int, int] = (20, 10)) -> None:
    server.add(name, Reply(events=anthropic_stream(name, words(text), usage=usage)))


async def collect(aiter: Any) -> list[Any]:
    return [ev async for ev in aiter]


def kinds(events: list[Any]) -> list[str]:
    """Event types with consecutive repeats folded, e.g. ['routing', 'chunk*', 'complete']."""
    out: list[str] = []
    for e in events:
        k = e.type.value
        if out and out[-1].rstrip("*") == k:
            out[-1] = k + "*"
        else:
            out.append(k)
    return out


def accept(request: Any, draft: Any) -> bool:
    return True


def reject(request: Any, draft: Any) -> bool:
    return False


ROOT = Path(__file__).resolve().parents[1]


def run_offline(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run `python *args` from the repo root with no API key (examples and the demo replay offline)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "PYTHONIOENCODING": "utf-8"}
    env.pop("OPENAI_API_KEY", None)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
