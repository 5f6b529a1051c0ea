"""A minimal loopback LLM server for `bench/overhead.py`, run in its own process.

It speaks the real wire formats (built by `cascadeflow_integrations.replay.wire`, shaped like the
recorded OpenAI / Anthropic streams) over HTTP/1.1 keep-alive with a chunked SSE body, one
write per SSE event (TCP_NODELAY), like a real provider's streaming front end. It is a single
asyncio process, so 1,000+ concurrent connections cost it no threads.

    python bench/_server.py --words 2000 [--pace-us 0]

prints `PORT <n>` once listening on 127.0.0.1, then serves until killed.

* `POST /v1/chat/completions` (OpenAI) and `POST /v1/messages` (Anthropic); the reply is chosen by
  path and the request's `model`; `stream: false` gets a JSON body.
* A model named `hold-...` streams only up to its first content chunk, then holds the connection
  open (no further bytes) until the client closes it: used to keep 1,000 streams open at once.
* The listen backlog is 4096, so 1,000 clients can connect at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cascadeflow_integrations.replay.wire import (  # noqa: E402
    anthropic_body,
    anthropic_stream,
    openai_body,
    openai_stream,
)

TEXT = (
    "Paris grew from a small Gallic settlement on the Seine into the political, cultural and commercial "
    "capital of France. The Romans built baths, an arena and a forum on the left bank, and medieval kings "
    "made the city their seat, raising Notre-Dame, the Louvre fortress and the first university. In the "
    "nineteenth century Haussmann rebuilt the centre with broad boulevards, parks, sewers and uniform "
    "facades, and the great exhibitions left the Eiffel Tower behind. Today the city is known for its "
    "museums, its cafes, its food and its long tradition of art, science and political debate."
)


def words_n(n: int) -> list[str]:
    """`n` one-word stream pieces (a leading space on all but the first), ending on a full sentence."""
    base = TEXT.split(" ")
    out = [base[i % len(base)] for i in range(n)]
    out[-1] = out[-1].rstrip(".,") + "."
    return [out[0]] + [" " + w for w in out[1:]]


def _frame(event: str) -> bytes:
    data = (event + "\n\n").encode()
    return b"%X\r\n%s\r\n" % (len(data), data)


class Replies:
    def __init__(self, n_words: int) -> None:
        self.pieces = words_n(n_words)
        self.n_words = n_words
        self._cache: dict[tuple[str, str], tuple[list[bytes], int]] = {}

    def stream(self, fmt: str, model: str) -> tuple[list[bytes], int]:
        """Chunked frames, and how many frames come up to and including the first content chunk."""
        key = (fmt, model)
        got = self._cache.get(key)
        if got is None:
            usage = (42, self.n_words)
            if fmt == "anthropic":
                events = anthropic_stream(model, self.pieces, usage=usage)
                first = 4  # message_start, content_block_start, ping, first text delta
            else:
                events = openai_stream(model, self.pieces, usage=usage)
                first = 2  # role chunk, first content chunk
            got = ([_frame(e) for e in events], first)
            self._cache[key] = got
        return got

    def body(self, fmt: str, model: str) -> bytes:
        text = "".join(self.pieces)
        usage = (42, self.n_words)
        if fmt == "anthropic":
            return anthropic_body(model, text, usage=usage).encode()
        return openai_body(model, text, usage=usage).encode()


async def handle(replies: Replies, pace: float, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
    try:
        await _serve(replies, pace, reader, writer)
    except (OSError, asyncio.IncompleteReadError, ValueError):
        pass  # the client went away
    finally:
        writer.close()


async def _serve(replies: Replies, pace: float, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    transport = writer.transport
    while True:
        line = await reader.readline()
        if not line:
            return
        if line in (b"\r\n", b"\n"):
            continue
        method, path, _ = line.decode("latin-1").split(" ", 2)
        length = 0
        close = False
        while True:
            h = await reader.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            name, _, value = h.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        raw = await reader.readexactly(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        path = path.split("?", 1)[0]
        if method != "POST" or not (path.endswith("/chat/completions") or path.endswith("/messages")):
            msg = b'{"error":{"message":"not found","type":"not_found"}}'
            writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n"
                         b"content-length: %d\r\n\r\n%s" % (len(msg), msg))
            continue
        fmt = "anthropic" if path.endswith("/messages") else "openai"
        model = str(body.get("model", "m"))
        if not body.get("stream"):
            data = replies.body(fmt, model)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                         b"x-request-id: req_bench\r\n\r\n%s" % (len(data), data))
            await writer.drain()
            if close:
                return
            continue
        frames, first = replies.stream(fmt, model)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
                     b"transfer-encoding: chunked\r\ncache-control: no-cache\r\nx-request-id: req_bench\r\n\r\n")
        if model.startswith("hold-"):
            for f in frames[:first]:
                writer.write(f)
            await writer.drain()
            while await reader.read(65536):  # hold until the client hangs up
                pass
            return
        # One write per event: with an empty buffer, asyncio sends each at once (one send() each).
        write = writer.write
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for i, f in enumerate(frames):
            write(f)
            if pace:
                # on a schedule (event i+1 at t0 + (i+1) * pace): sleeps overshoot, so a plain
                # sleep(pace) per event would stream slower than the pace asked for
                await asyncio.sleep(max(0.0, t0 + (i + 1) * pace - loop.time()))
            elif transport.get_write_buffer_size() > 65536:
                await writer.drain()
        write(b"0\r\n\r\n")
        await writer.drain()
        if close:
            return


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--words", type=int, default=2000)
    ap.add_argument("--pace-us", type=float, default=0.0,
                    help="sleep between SSE events (microseconds; asyncio timers have ~1 ms resolution)")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 8192:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(8192, hard), hard))
    replies = Replies(args.words)
    pace = args.pace_us / 1e6

    async def serve() -> None:
        srv = await asyncio.start_server(lambda r, w: handle(replies, pace, r, w), "127.0.0.1", args.port,
                                         backlog=4096, limit=1 << 20)
        print(f"PORT {srv.sockets[0].getsockname()[1]}", flush=True)
        async with srv:
            await srv.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
