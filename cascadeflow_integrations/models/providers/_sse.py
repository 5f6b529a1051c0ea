"""A small, allocation-light Server-Sent-Events decoder plus a fast JSON decode for its payloads.

The SDKs' typed stream iterators build a pydantic model per chunk; decoding the bytes here and
handing each `data:` payload straight to the JSON scanner keeps streaming at plain-httpx speed.
"""

from __future__ import annotations

import codecs
import json
import json.scanner
from collections.abc import Callable
from typing import Any

__all__ = ["DONE", "SSEDecoder", "loads"]

#: The OpenAI/Groq end-of-stream sentinel payload.
DONE = "[DONE]"

_scan_once = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # typeshed stub is wrong


def _loads(data: str) -> Any:
    """`json.loads` for one payload, via the C scanner (skips loads' type and encoding checks)."""
    try:
        obj, end = _scan_once(data, 0)
    except StopIteration:
        return json.loads(data)  # raises the usual, descriptive JSONDecodeError
    if end != len(data) and data[end:].strip():
        return json.loads(data)
    return obj


loads: Callable[[str], Any] = _loads


class SSEDecoder:
    """Feed byte chunks, get `(event, data)` pairs for each complete event.

    `event` is the `event:` field (None when absent); `data` is the payload text (multiple `data:`
    lines joined by `\\n`, per the SSE spec). Comments (`: ...`), `id:` and `retry:` are ignored.
    """

    __slots__ = ("_buf", "_decoder")

    def __init__(self) -> None:
        self._buf = ""
        # incremental, so a multi-byte UTF-8 character split across chunks decodes correctly
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, chunk: bytes) -> list[tuple[str | None, str]]:
        """Decode one chunk; a trailing partial event is kept for the next call."""
        text = self._decoder.decode(chunk)
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if self._buf:
            text = self._buf + text
        blocks = text.split("\n\n")
        self._buf = blocks.pop()
        out: list[tuple[str | None, str]] = []
        for block in blocks:
            if block[:6] == "data: " and "\n" not in block:
                # the common case: one `data:` line is the whole event
                out.append((None, block[6:]))
            elif block[:7] == "event: " and block.count("\n") == 1:
                # Anthropic's shape: one `event:` line, one `data:` line
                name, _, line = block.partition("\n")
                if line[:6] == "data: ":
                    out.append((name[7:].strip(), line[6:]))
                else:
                    event = _parse_block(block)
                    if event is not None:
                        out.append(event)
            elif block:
                event = _parse_block(block)
                if event is not None:
                    out.append(event)
        return out

    def flush(self) -> list[tuple[str | None, str]]:
        """The event still pending at end of body (one not terminated by a blank line)."""
        block, self._buf = self._buf + self._decoder.decode(b"", final=True), ""
        event = _parse_block(block.strip("\n")) if block.strip() else None
        return [event] if event is not None else []


def _parse_block(block: str) -> tuple[str | None, str] | None:
    event: str | None = None
    data: list[str] = []
    for line in block.split("\n"):
        if line[:5] == "data:":
            data.append(line[6:] if line[5:6] == " " else line[5:])
        elif line[:6] == "event:":
            event = line[6:].strip()
        # ":" comments, "id:" and "retry:" carry nothing we use
    return (event, "\n".join(data)) if data else None
