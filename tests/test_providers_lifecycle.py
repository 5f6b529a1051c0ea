"""Stream lifecycle against a real loopback SSE server: early close, cancel, drops, timeouts, loops."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cassette_tools import anthropic_event, anthropic_message_end, anthropic_message_start, groq_chunk, openai_chunk

from cascadeflow_integrations.config import ModelConfig
from cascadeflow_integrations.errors import (
    ConnectionFailedError,
    ProviderTimeoutError,
    StreamInterruptedError,
)
from cascadeflow_integrations.providers import Provider, create_provider
from cascadeflow_integrations.types import ChatRequest, FinishDelta, Message, ModelDelta, TextDelta

pytestmark = pytest.mark.compat

PROVIDERS = ["openai", "anthropic", "groq"]


def text_event(provider: str, i: int) -> bytes:
    if provider == "openai":
        return openai_chunk({"content": f"w{i} "}).encode()
    if provider == "groq":
        return groq_chunk({"content": f"w{i} "}).encode()
    return anthropic_event(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"w{i} "}},
    ).encode()


def first_event(provider: str) -> bytes:
    if provider == "anthropic":
        start = anthropic_message_start(5) + anthropic_event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )
        return start.encode()
    return b""


def last_event(provider: str) -> bytes:
    if provider == "openai":
        return (openai_chunk({}, finish="stop") + "data: [DONE]\n\n").encode()
    if provider == "groq":
        return (groq_chunk({}, finish="stop") + "data: [DONE]\n\n").encode()
    return anthropic_message_end("end_turn", 5, 3).encode()


class SSEServer:
    """Loopback HTTP/1.1 server streaming chunked SSE; records requests and client disconnects."""

    def __init__(self, provider: str, mode: str, events: int = 200, delay: float = 0.03) -> None:
        self.provider, self.mode, self.events, self.delay = provider, mode, events, delay
        self.requests = 0
        self.sent = 0
        self.disconnected_at: float | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                outer.requests += 1
                self.rfile.read(int(self.headers.get("content-length") or 0))
                if outer.mode == "hang":
                    time.sleep(2.0)
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream; charset=utf-8")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                try:
                    self._chunk(first_event(outer.provider))
                    for i in range(outer.events):
                        self._chunk(text_event(outer.provider, i))
                        outer.sent += 1
                        if outer.mode == "drop" and i == 1:
                            # abrupt close without the terminating chunk
                            self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        time.sleep(outer.delay)
                except OSError:
                    outer.disconnected_at = time.monotonic()
                    return
                self._chunk(last_event(outer.provider))
                self.wfile.write(b"0\r\n\r\n")

            def _chunk(self, data: bytes) -> None:
                if data:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def base_url(self) -> str:
        root = f"http://127.0.0.1:{self.port}"
        return root + "/v1" if self.provider == "openai" else root


@contextlib.contextmanager
def serve(provider: str, mode: str = "slow", **kw: Any) -> Iterator[SSEServer]:
    server = SSEServer(provider, mode, **kw)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


def make(provider: str, base_url: str, **kw: Any) -> Provider:
    key = {"openai": "sk-loop-test-123456", "anthropic": "sk-ant-loop-123456", "groq": "gsk_loop123456"}[provider]
    name = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "groq": "llama-3.3-70b-versatile"}[provider]
    kw.setdefault("max_retries", 0)
    return create_provider(ModelConfig(name=name, provider=provider, api_key=key, base_url=base_url, **kw))


REQUEST = ChatRequest(messages=[Message("user", "Tell me a long story.")])


async def wait_for(predicate: Any, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_closing_stream_early_closes_connection(provider: str) -> None:
    with serve(provider) as server:
        p = make(provider, server.base_url())
        texts = 0
        async with contextlib.aclosing(p.stream(REQUEST)) as stream:  # type: ignore[type-var]
            async for d in stream:
                if isinstance(d, TextDelta):
                    texts += 1
                    if texts == 2:
                        break
        closed_at = time.monotonic()
        await wait_for(lambda: server.disconnected_at is not None)
        await p.aclose()
        assert server.disconnected_at is not None, "server never saw the client go away"
        assert server.disconnected_at - closed_at < 0.5
        assert server.sent < 20 and server.requests == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_cancelling_consumer_task_closes_connection(provider: str) -> None:
    with serve(provider) as server:
        p = make(provider, server.base_url())
        got_two = asyncio.Event()

        async def consume() -> None:
            n = 0
            async for d in p.stream(REQUEST):
                if isinstance(d, TextDelta):
                    n += 1
                    if n == 2:
                        got_two.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(got_two.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        cancelled_at = time.monotonic()
        await wait_for(lambda: server.disconnected_at is not None)
        await p.aclose()
        assert server.disconnected_at is not None and server.disconnected_at - cancelled_at < 0.5
        assert server.sent < 20


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_connection_drop_mid_stream_raises_after_yielded_deltas(provider: str) -> None:
    with serve(provider, mode="drop") as server:
        # retries enabled on purpose: nothing may be retried once the body started
        p = make(provider, server.base_url(), max_retries=2)
        seen: list[Any] = []
        with pytest.raises(StreamInterruptedError) as info:
            async for d in p.stream(REQUEST):
                seen.append(d)
        await p.aclose()
        assert [d.text for d in seen if isinstance(d, TextDelta)] == ["w0 ", "w1 "]
        assert isinstance(seen[0], ModelDelta) and not any(isinstance(d, FinishDelta) for d in seen)
        assert server.requests == 1
        assert "sk-" not in str(info.value) and "gsk_" not in str(info.value)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_timeout_before_first_byte(provider: str) -> None:
    with serve(provider, mode="hang") as server:
        p = make(provider, server.base_url(), timeout=0.3)
        with pytest.raises(ProviderTimeoutError):
            async for _ in p.stream(REQUEST):
                pass
        await p.aclose()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_connection_refused(provider: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}" + ("/v1" if provider == "openai" else "")
    p = make(provider, base)
    with pytest.raises(ConnectionFailedError):
        await p.complete(REQUEST)
    await p.aclose()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_one_client_per_event_loop(provider: str) -> None:
    with serve(provider, events=3, delay=0) as server:
        p = make(provider, server.base_url())

        async def run() -> str:
            return "".join([d.text async for d in p.stream(REQUEST) if isinstance(d, TextDelta)])

        # a second asyncio.run() is a new loop: the first loop's client must not be reused
        assert asyncio.run(run()) == "w0 w1 w2 "
        assert asyncio.run(run()) == "w0 w1 w2 "
        asyncio.run(p.aclose())


def test_tool_error_flag_reaches_anthropic_as_is_error():
    from cascadeflow_integrations.providers._convert import anthropic_messages
    from cascadeflow_integrations.tools.call import ToolCall
    from cascadeflow_integrations.types import Message

    _, msgs = anthropic_messages([
        Message("user", "weather?"),
        Message("assistant", "", [ToolCall("t1", "get_weather", {"city": "Paris"})]),
        Message("tool", "service unavailable", tool_call_id="t1", is_error=True),
    ])
    assert msgs[-1] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t1", "content": "service unavailable", "is_error": True}]}
