"""Sync entry points over the async engine, safe inside a running event loop (Jupyter, LangGraph).

Sync calls run on one private background loop thread. That keeps async SDK clients bound to a
single loop (no "attached to a different loop") and never calls `asyncio.run` inside a loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            t = threading.Thread(target=loop.run_forever, name="cascadeflow-sync", daemon=True)
            t.start()
            _loop = loop
        return _loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, whether or not a loop is running here."""
    loop = _background_loop()
    if threading.current_thread().name == "cascadeflow-sync":
        raise RuntimeError("run_sync called from the cascadeflow background loop: use the async API there")
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


def iter_sync(agen: AsyncIterator[T]) -> Iterator[T]:
    """Iterate an async iterator from sync code. Stopping early closes the async iterator."""
    loop = _background_loop()
    it = agen.__aiter__()
    try:
        while True:
            fut = asyncio.run_coroutine_threadsafe(_anext(it), loop)
            done, item = fut.result()
            if done:
                return
            yield item  # type: ignore[misc]  # not None unless done
    finally:
        aclose = getattr(it, "aclose", None)
        if aclose is not None:
            asyncio.run_coroutine_threadsafe(aclose(), loop).result()


async def _anext(it: AsyncIterator[T]) -> tuple[bool, T | None]:
    try:
        return False, await it.__anext__()
    except StopAsyncIteration:
        return True, None
