"""Ctrl-C during a sync call stops the cascade on the background loop (issue 16, item 6).

A real SIGINT is sent to the main thread (where pytest runs the test) while the draft streams
slowly from the loopback server; the caller must see `KeyboardInterrupt`, the server must see the
connection closed, and the strong model, next in line after a rejected draft, must never be asked.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from replay_helpers import CHEAP, STRONG, model, reject, say

from cascadeflow_integrations import CascadeAgent
from cascadeflow_integrations._sync import _background_loop
from cascadeflow_integrations.replay import ReplayServer
from cascadeflow_integrations.streaming import StreamEventType

pytestmark = pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="sends SIGINT to the main thread")

SLOW = " ".join(f"word{i}" for i in range(150))  # 150 events 50 ms apart: far longer than the test waits


@pytest.fixture
def server(module_replay_server: ReplayServer) -> ReplayServer:
    assert threading.current_thread() is threading.main_thread()
    say(module_replay_server, CHEAP, SLOW, delay=0.05)
    say(module_replay_server, STRONG, "The strong answer.")
    return module_replay_server


@contextmanager
def ctrl_c_while_streaming(server: ReplayServer) -> Iterator[None]:
    """Send SIGINT to the main thread shortly after the draft request reached the server."""
    main = threading.main_thread().ident
    assert main is not None
    stop = threading.Event()

    def watch() -> None:
        while not server.stats.requests and not stop.is_set():
            time.sleep(0.01)
        if not stop.wait(0.3):  # let a few events flow first
            signal.pthread_kill(main, signal.SIGINT)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)
    return predicate()


def background_tasks() -> int:
    async def count() -> int:
        return len(asyncio.all_tasks()) - 1  # minus this one

    return asyncio.run_coroutine_threadsafe(count(), _background_loop()).result(5)


def assert_stopped(server: ReplayServer) -> None:
    assert wait_until(lambda: server.stats.disconnected >= 1), "the draft's connection was never closed"
    assert [r["model"] for r in server.stats.requests] == [CHEAP]
    assert server.pending() == [STRONG]
    assert background_tasks() == 0  # nothing left running on the background loop


def make_agent(server: ReplayServer) -> CascadeAgent:
    return CascadeAgent([model(server, CHEAP), model(server, STRONG)], validator=reject)


def test_run_sync(server):
    agent = make_agent(server)
    with pytest.raises(KeyboardInterrupt), ctrl_c_while_streaming(server):
        agent.run_sync("Tell me a story.")
    assert_stopped(server)


def test_stream_events_sync(server):
    agent = make_agent(server)
    seen: list[Any] = []
    with pytest.raises(KeyboardInterrupt), ctrl_c_while_streaming(server):
        for ev in agent.stream_events_sync("Tell me a story."):
            seen.append(ev.type)
    assert StreamEventType.SWITCH not in seen
    assert_stopped(server)


def test_stream_events_sync_consumer_raises(server):
    agent = make_agent(server)
    with pytest.raises(KeyboardInterrupt):
        for ev in agent.stream_events_sync("Tell me a story."):
            if ev.type is StreamEventType.CHUNK:
                raise KeyboardInterrupt
    assert_stopped(server)


def test_chat_cascade_invoke_and_stream(server):
    from cascadeflow_integrations.langchain import ChatCascade

    llm = ChatCascade(models=[model(server, CHEAP), model(server, STRONG)], validator=reject)
    with pytest.raises(KeyboardInterrupt), ctrl_c_while_streaming(server):
        llm.invoke("Tell me a story.")
    assert_stopped(server)

    server.reset()
    say(server, CHEAP, SLOW, delay=0.05)
    say(server, STRONG, "The strong answer.")
    with pytest.raises(KeyboardInterrupt), ctrl_c_while_streaming(server):
        for _ in llm.stream("Tell me a story."):
            pass
    assert_stopped(server)


def test_cascade_llm_chat_and_stream_chat(server):
    from llama_index.core.llms import ChatMessage

    from cascadeflow_integrations.llama_index import CascadeLLM

    llm = CascadeLLM([model(server, CHEAP), model(server, STRONG)], validator=reject)
    messages = [ChatMessage(role="user", content="Tell me a story.")]
    with pytest.raises(KeyboardInterrupt), ctrl_c_while_streaming(server):
        llm.chat(messages)
    assert_stopped(server)

    server.reset()
    say(server, CHEAP, SLOW, delay=0.05)
    say(server, STRONG, "The strong answer.")
    with pytest.raises(KeyboardInterrupt), ctrl_c_while_streaming(server):
        for _ in llm.stream_chat(messages):
            pass
    assert_stopped(server)
