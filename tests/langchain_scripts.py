"""Scripted provider replies for the LangChain tests, served by the loopback replay server.

Every reply is a real OpenAI wire stream, matched by a substring of the request body, so the
real openai SDK and the real engine run end to end; only the provider is replaced.
"""

from __future__ import annotations

import atexit
import json
import threading
from typing import Any

from cascadeflow_integrations import ModelConfig
from cascadeflow_integrations.replay import ReplayServer, Reply
from cascadeflow_integrations.replay.wire import openai_stream, words

CHEAP = "gpt-4o-mini"
STRONG = "gpt-4o"
OVERRIDE = "gpt-4o-2024-08-06"
PRICES = {CHEAP: 0.0004, STRONG: 0.006, OVERRIDE: 0.006}

JOKE = {"setup": "Why did the cat sit on the computer?", "punchline": "To keep an eye on the mouse."}

#: (substring of the request body, text or None, tool calls (name, args dict)); first match wins.
STANDARD_SCRIPT: list[tuple[str | None, str | None, list[tuple[str, dict[str, Any]]]]] = [
    ('"name":"JokeDict"', None, [("JokeDict", JOKE)]),
    ('"name":"Joke"', None, [("Joke", JOKE)]),
    ("Hello Group", None, [("unicode_customer", {"customer_name": "你好啊集团",
                                                 "description": "A Chinese technology company"})]),
    ("Hello Corporation", None, [("unicode_customer", {"customer_name": "こんにちは株式会社",
                                                       "description": "A Japanese company"})]),
    ("magic_function_no_args()", None, [("magic_function_no_args", {})]),
    ("magic_function(3)", None, [("magic_function", {"input": 3})]),
    ("Pirate greeting", None, [("greeting_generator", {"answer_style": "pirate"})]),
    ('"content":"Hello!"', None, [("magic_function", {"input": 3})]),
    ("It's sunny", "It's sunny in San Francisco right now.", []),
    ("weather in San Francisco", None, [("get_weather", {"location": "San Francisco, CA"})]),
    ("What is 3 + 4", None, [("my_adder_tool", {"a": 3, "b": 4})]),
    ("What is 1 + 2", "1 + 2 equals 3.", []),
    ("haikus", ("Soft rain on the roof, the garden drinks in silence, green wakes everywhere.\n\n"
                "Cold moon over snow, a fox crosses the white field, tracks fill before dawn."), []),
    (None, "Hello! How can I help you today?", []),
]

_ids = iter(range(1, 1 << 30))


def reply(model: str, text: str | None = None, calls: list[tuple[str, dict[str, Any]]] = (),
          usage: tuple[int, int] = (20, 10), delay: float = 0.0) -> Reply:
    """One streamed OpenAI answer: text pieces and/or tool calls (fresh call ids each time)."""
    tool_calls = [(f"call_{next(_ids):08d}", name, json.dumps(args, ensure_ascii=False)) for name, args in calls]
    return Reply(events=openai_stream(model, words(text) if text else [], tool_calls=tool_calls, usage=usage),
                 delay=delay)


def load(server: ReplayServer, script: list[tuple[str | None, str | None, list[tuple[str, dict[str, Any]]]]],
         names: tuple[str, ...] = (CHEAP, STRONG, OVERRIDE)) -> None:
    """Serve `script` for every model in `names`, repeatedly."""
    for name in names:
        for match, text, calls in script:
            server.add(name, reply(name, text, calls), match=match, repeat=True)


def configs(server: ReplayServer, names: tuple[str, ...] = (CHEAP, STRONG)) -> list[ModelConfig]:
    return [ModelConfig(name=n, provider="openai", base_url=server.openai_url, api_key="sk-test-not-a-real-key",
                        max_retries=0, cost=PRICES.get(n, 0.001)) for n in names]


_shared: ReplayServer | None = None
_shared_lock = threading.Lock()


def standard_server() -> ReplayServer:
    """The replay server for the langchain-tests standard suites, started once per process."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ReplayServer().start()
            load(_shared, STANDARD_SCRIPT)
            atexit.register(_shared.stop)
        return _shared


