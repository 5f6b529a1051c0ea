"""A small, allocation-light Server-Sent-Events decoder over raw response bytes.

The SDKs' typed stream iterators build a pydantic model per chunk; decoding the bytes here and
handing each `data:` payload to `json.loads` keeps streaming close to plain httpx speed.
"""

from __future__ import annotations

__all__ = ["DONE", "SSEDecoder"]

#: The OpenAI/Groq end-of-stream sentinel payload.
DONE = b"[DONE]"


class SSEDecoder:
    """Feed byte chunks, get `(event, data)` pairs for each complete event.

    `event` is the `event:` field (None when absent); `data` is the raw payload bytes (multiple
    `data:` lines joined by `\\n`, per the SSE spec). Comments (`: ...`) and `id:`/`retry:` are ignored.
    """

    __slots__ = ("_buf", "_data", "_event")

    def __init__(self) -> None:
        self._buf = b""
        self._data: bytes | None = None
        self._event: str | None = None

    def feed(self, chunk: bytes) -> list[tuple[str | None, bytes]]:
        """Decode one chunk; a trailing partial line is kept for the next call."""
        if self._buf:
            chunk = self._buf + chunk
        lines = chunk.split(b"\n")
        self._buf = lines.pop()
        out: list[tuple[str | None, bytes]] = []
        for line in lines:
            if line[-1:] == b"\r":
                line = line[:-1]
            if not line:
                # a blank line ends the event
                if self._data is not None:
                    out.append((self._event, self._data))
                    self._data = None
                self._event = None
            elif line[:5] == b"data:":
                payload = line[6:] if line[5:6] == b" " else line[5:]
                self._data = payload if self._data is None else self._data + b"\n" + payload
            elif line[:6] == b"event:":
                self._event = line[6:].strip().decode("utf-8", "replace")
            # ":" comments, "id:" and "retry:" lines carry nothing we use
        return out

    def flush(self) -> list[tuple[str | None, bytes]]:
        """Events still pending at end of body (a final event without its blank line)."""
        out: list[tuple[str | None, bytes]] = []
        if self._buf:
            out = self.feed(b"\n")
        if self._data is not None:
            out.append((self._event, self._data))
            self._data = None
            self._event = None
        return out
