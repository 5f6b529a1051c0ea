"""A provider prompt cache, simulated for replays: the usage a provider would report for each request.

`PromptCache("openai")` caches every prompt prefix of 1024+ tokens automatically (reported in
128-token steps, as `cached_tokens` inside `prompt_tokens`); `PromptCache("anthropic")` writes only
at `cache_control` breakpoints and reads the longest cached prefix up to the last one (reads and
writes reported apart from `input_tokens`). Prefixes are
cut at message boundaries (tools, system, each message) and kept `ttl_s` seconds per model. Tokens
are counted as characters / 4 of the request's JSON, so the replay is deterministic.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ConfigError
from .server import Reply, Responder
from .wire import anthropic_body, anthropic_stream, openai_body, openai_stream, words

__all__ = ["CacheUsage", "PromptCache"]


@dataclass(frozen=True, slots=True)
class CacheUsage:
    """One request's prompt tokens: all of them, the cache reads and the cache writes."""

    prompt_tokens: int
    cache_read: int
    cache_write: int


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k != "cache_control"}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _marked(obj: Any) -> bool:
    if isinstance(obj, dict):
        return "cache_control" in obj or any(_marked(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_marked(v) for v in obj)
    return False


def tokens(obj: Any) -> int:
    """The simulated token count of a piece of a request (characters / 4 of its JSON, cache marks removed)."""
    return math.ceil(len(json.dumps(_strip(obj), sort_keys=True, ensure_ascii=False)) / 4)


class PromptCache:
    """Per model, the prompt prefixes a provider holds, and what each request reads and writes."""

    def __init__(self, style: Literal["openai", "anthropic"], *, ttl_s: float = 300.0, min_tokens: int = 1024,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if style not in ("openai", "anthropic"):
            raise ConfigError(f"PromptCache style must be 'openai' or 'anthropic', got {style!r}")
        self.style = style
        self.ttl_s = ttl_s
        self.min_tokens = min_tokens
        self.clock = clock
        self._held: dict[tuple[str, str], float] = {}  # (model, prefix hash) -> expiry
        self._lock = threading.Lock()

    def _segments(self, body: dict[str, Any]) -> list[Any]:
        segs: list[Any] = []
        if body.get("tools"):
            segs.append(body["tools"])
        if self.style == "anthropic" and body.get("system"):
            segs.append(body["system"])
        segs.extend(body.get("messages") or [])
        return segs

    def usage(self, body: dict[str, Any]) -> CacheUsage:
        """What the provider reports for this request, and its cache afterwards."""
        model = str(body.get("model", ""))
        segs = self._segments(body)
        h = hashlib.blake2b(digest_size=16)
        cum: list[tuple[int, str, bool]] = []  # (tokens so far, prefix hash, a breakpoint ends it)
        total = 0
        for seg in segs:
            h.update(json.dumps(_strip(seg), sort_keys=True, ensure_ascii=False).encode())
            total += tokens(seg)
            cum.append((total, h.copy().hexdigest(), _marked(seg)))
        now = self.clock()
        with self._lock:
            self._held = {k: exp for k, exp in self._held.items() if exp > now}
            if self.style == "anthropic":
                # reads are looked up at every block boundary up to the last breakpoint; writes only at breakpoints
                marks = [i for i, c in enumerate(cum) if c[2]]
                lookup = cum[:marks[-1] + 1] if marks else []
                stored = [cum[i] for i in marks]
            else:
                lookup = stored = cum
            read = max((n for n, key, _ in lookup if n >= self.min_tokens and (model, key) in self._held), default=0)
            for n, key, _ in stored:  # a hit refreshes the entry, a miss writes it
                if n >= self.min_tokens:
                    self._held[(model, key)] = now + self.ttl_s
        if self.style == "openai":
            return CacheUsage(total, read // 128 * 128, 0)
        last = max((n for n, _, _ in stored if n >= self.min_tokens), default=0)
        return CacheUsage(total, read, max(last - read, 0))

    def responder(self, answer: Callable[[dict[str, Any]], tuple[str, int]],
                  on_usage: Callable[[dict[str, Any], CacheUsage, int], None] | None = None) -> Responder:
        """A replay responder: `answer(body)` gives the text and its output tokens; usage from this cache.
        `on_usage(body, usage, output_tokens)` sees what each request is billed for."""

        def respond(body: dict[str, Any]) -> Reply:
            text, out = answer(body)
            u = self.usage(body)
            if on_usage is not None:
                on_usage(body, u, out)
            model = str(body.get("model", ""))
            stream = bool(body.get("stream"))
            if self.style == "openai":
                if not stream:
                    return Reply(body=openai_body(model, text, usage=(u.prompt_tokens, out), cached=u.cache_read))
                return Reply(events=openai_stream(model, words(text), usage=(u.prompt_tokens, out), cached=u.cache_read))
            fresh = u.prompt_tokens - u.cache_read - u.cache_write
            if not stream:
                return Reply(body=anthropic_body(model, text, usage=(fresh, out), cache_read=u.cache_read,
                                                 cache_write=u.cache_write))
            return Reply(events=anthropic_stream(model, words(text), usage=(fresh, out), cache_read=u.cache_read,
                                                 cache_write=u.cache_write))

        return respond
