"""A loopback server that replays provider responses at a realistic pace.

The SDKs talk to it over real HTTP (chunked SSE, keep-alive), so tests, the demo, the examples
and the benchmarks exercise the real SDKs and engine; only the provider is replaced. It listens
on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger(__name__)


class _QuietServer(ThreadingHTTPServer):
    request_queue_size = 128  # listen backlog (socketserver's 5 refuses connections in a burst of calls)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients closing keep-alive connections early is normal here (cancellation tests, aborts).
        logger.debug("replay: connection from %s ended abruptly", client_address, exc_info=True)


@dataclass
class Reply:
    """One scripted response.

    `events` are SSE events (without the blank-line separator) for streaming requests; `body` is
    the JSON body for non-streaming ones. `first_delay`/`delay` pace the events (seconds;
    `first_delay` also delays a whole JSON body);
    `drop_after` cuts the connection after that many events, as a network failure would.
    `echo_key` replaces `{api_key}` in `body` with the key the request sent (`Authorization:
    Bearer` or `x-api-key`), as servers and proxies that quote a rejected key back do.
    """

    events: list[str] = field(default_factory=list)
    body: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    first_delay: float = 0.0
    delay: float = 0.0
    drop_after: int | None = None
    echo_key: bool = False


#: computes a reply from the request's JSON body (a provider whose answer depends on what it was sent)
Responder = Callable[[dict[str, Any]], Reply]


@dataclass
class _Route:
    model: str
    reply: Reply | Responder
    match: str | None
    repeat: bool


@dataclass
class Stats:
    requests: list[dict[str, Any]] = field(default_factory=list)
    completed: int = 0
    disconnected: int = 0
    #: monotonic times at which a client went away before the end of a stream
    disconnect_times: list[float] = field(default_factory=list)
    #: the client address of each request (one entry per request; repeats mean a reused connection)
    peers: list[tuple[str, int]] = field(default_factory=list)


class ReplayServer:
    """Serve scripted replies by the request's `model` (and optionally a substring of its body).

    Paths: `/v1/chat/completions` (OpenAI and compatible), `/openai/v1/chat/completions` (Groq),
    `/v1/messages` (Anthropic). Use `base_url` for OpenAI (`server.openai_url`), Anthropic
    (`server.url`) and Groq (`server.url`).
    """

    def __init__(self, port: int = 0) -> None:
        self._routes: list[_Route] = []
        self._lock = threading.Lock()
        self.stats = Stats()
        self._httpd = _QuietServer(("127.0.0.1", port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ---- scripting --------------------------------------------------------------------------

    def add(self, model: str, reply: Reply, *, match: str | None = None, repeat: bool = False) -> ReplayServer:
        """Queue a reply for `model`; with `match`, only for request bodies containing that text."""
        with self._lock:
            self._routes.append(_Route(model, reply, match, repeat))
        return self

    def respond(self, model: str, responder: Responder) -> ReplayServer:
        """Answer every request for `model` with `responder(request body)` (e.g. usage from a simulated cache)."""
        with self._lock:
            self._routes.append(_Route(model, responder, None, True))
        return self

    def reset(self) -> None:
        """Drop every queued reply and the statistics (reuse one server across tests)."""
        with self._lock:
            self._routes.clear()
        self.stats = Stats()

    def pending(self) -> list[str]:
        """Models whose non-repeating replies were never requested."""
        with self._lock:
            return [r.model for r in self._routes if not r.repeat]

    def _take(self, model: str, raw: str, body: dict[str, Any]) -> Reply | None:
        with self._lock:
            for i, r in enumerate(self._routes):
                if r.model == model and (r.match is None or r.match in raw):
                    if not r.repeat:
                        del self._routes[i]
                    reply = r.reply
                    break
            else:
                return None
        return reply if isinstance(reply, Reply) else reply(body)

    # ---- lifecycle --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    def start(self) -> ReplayServer:
        # a short poll interval keeps stop() quick: it waits for the next poll (the default 0.5 s, and even
        # 0.05 s, adds up over the hundreds of servers a test run starts); idle, 100 polls/s cost ~0.5% of a core
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01},
                                        name="replay-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _make_handler(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Each SSE event is its own small write: without this, Nagle's algorithm and delayed ACKs
        # add ~40 ms stalls that no real provider has.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            logger.debug("replay: " + format, *args)

        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            length = int(self.headers.get("content-length", "0"))
            raw = self.rfile.read(length).decode("utf-8") if length else ""
            try:
                body = json.loads(raw) if raw else {}
            except json.JSONDecodeError:
                body = {}
            server.stats.requests.append(body)
            server.stats.peers.append(self.client_address[:2])
            model = str(body.get("model", ""))
            reply = server._take(model, raw, body)
            if reply is None:
                self._send_json(404, json.dumps({"error": {
                    "message": f"replay server has no recording for model {model!r}", "type": "not_found",
                    "code": "model_not_found"}}), {})
                return
            if reply.status != 200 or not body.get("stream"):
                text = reply.body or "{}"
                if reply.echo_key:
                    key = self.headers.get("x-api-key") or self.headers.get("authorization", "").removeprefix("Bearer ")
                    text = text.replace("{api_key}", key)
                try:
                    self._send_json(reply.status, text, reply.headers, reply.first_delay)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    server.stats.disconnected += 1
                    self.close_connection = True
                return
            self._send_stream(reply)

        def _send_json(self, status: int, text: str, headers: dict[str, str], delay: float = 0.0) -> None:
            if delay:
                time.sleep(delay)  # a slow (or hanging) whole response
            data = text.encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            server.stats.completed += 1

        def _send_stream(self, reply: Reply) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream; charset=utf-8")
            self.send_header("transfer-encoding", "chunked")
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.end_headers()
            try:
                self.wfile.flush()
                if reply.first_delay:
                    time.sleep(reply.first_delay)
                for i, event in enumerate(reply.events):
                    if reply.drop_after is not None and i >= reply.drop_after:
                        # A truncated chunked body: the client sees the connection break mid-stream.
                        self.close_connection = True
                        self.wfile.flush()
                        self.connection.shutdown(2)
                        return
                    if i and reply.delay:
                        time.sleep(reply.delay)
                    data = (event + "\n\n").encode()
                    self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                server.stats.completed += 1
            except (BrokenPipeError, ConnectionResetError, OSError):
                server.stats.disconnected += 1
                server.stats.disconnect_times.append(time.monotonic())
                self.close_connection = True

    return Handler


@contextmanager
def replay_server() -> Iterator[ReplayServer]:
    """A started server, stopped on exit."""
    s = ReplayServer().start()
    try:
        yield s
    finally:
        s.stop()
