"""Sync entry points over the async engine, safe inside a running event loop (Jupyter, LangGraph).

Sync calls run on one private background loop thread. That keeps async SDK clients bound to a
single loop (no "attached to a different loop") and never calls `asyncio.run` inside a loop.

An exception in the calling thread while it waits (Ctrl-C's `KeyboardInterrupt`, most often)
cancels the work on the background loop and waits for it to unwind, so its HTTP streams are
closed and no later step (an escalation) starts; then the caller's exception propagates.

Each step runs in a copy of the caller's context, as `asyncio.to_thread` does, so context
variables (the caller's OpenTelemetry span, for one) reach the engine.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger("cascadeflow_integrations")
#: name of the background loop's thread
SYNC_THREAD = "cascadeflow-sync"

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()
#: how long an interrupted caller waits for the cancelled work to unwind (closing its streams)
_CANCEL_GRACE = 10.0


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            t = threading.Thread(target=loop.run_forever, name="cascadeflow-sync", daemon=True)
            t.start()
            _loop = loop
        return _loop


class _Call:
    """One coroutine run as a task on the background loop; `result` waits for it from another thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any],
                 ctx: contextvars.Context | None = None) -> None:
        self._loop = loop
        self._task: asyncio.Task[Any] | None = None
        self._settled = threading.Event()  # set once the task is done, cancelled or not
        loop.call_soon_threadsafe(self._start, coro, ctx or contextvars.copy_context())

    def _start(self, coro: Coroutine[Any, Any, Any], ctx: contextvars.Context) -> None:
        self._task = ctx.run(self._loop.create_task, coro)  # the task runs in a copy of the caller's context
        self._task.add_done_callback(lambda _: self._settled.set())

    def _cancel(self) -> None:
        if self._task is not None:  # scheduled after `_start`, so always set by now
            self._task.cancel()

    def result(self) -> Any:
        try:
            self._settled.wait()
        except BaseException:
            # The caller was interrupted: stop the work too, and let it close what it opened.
            self._loop.call_soon_threadsafe(self._cancel)
            if not self._settled.wait(_CANCEL_GRACE):
                log.warning("an interrupted sync call is still unwinding on the background loop")
            raise
        assert self._task is not None
        return self._task.result()  # done: reading it from this thread is safe


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, whether or not a loop is running here."""
    if threading.current_thread().name == "cascadeflow-sync":
        coro.close()
        raise RuntimeError("run_sync called from the cascadeflow background loop: use the async API there")
    result: T = _Call(_background_loop(), coro).result()
    return result


def iter_sync(agen: AsyncIterator[T]) -> Iterator[T]:
    """Iterate an async iterator from sync code. Stopping early, or an interrupt, closes it."""
    loop = _background_loop()
    it = agen.__aiter__()
    ctx = contextvars.copy_context()
    try:
        while True:
            done, item = _Call(loop, _anext(it), ctx).result()
            if done:
                return
            yield item  # type: ignore[misc]  # not None unless done
    finally:
        # after an interrupt the step was cancelled and has unwound, so the generator is not running
        aclose = getattr(it, "aclose", None)
        if aclose is not None:
            _Call(loop, aclose(), ctx).result()


async def _anext(it: AsyncIterator[T]) -> tuple[bool, T | None]:
    try:
        return False, await it.__anext__()
    except StopAsyncIteration:
        return True, None


async def threaded(it: Iterator[T]) -> AsyncGenerator[T, None]:
    """A sync iterator stepped in worker threads, one step at a time; closing it closes the iterator.

    Adapters use it on the private loop: a framework model's sync client there keeps its async client
    (often shared per process) on the caller's own event loop.
    """
    done = object()
    try:
        while (item := await asyncio.to_thread(next, it, done)) is not done:
            yield item  # type: ignore[misc]  # not `done`
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            await asyncio.to_thread(close)
