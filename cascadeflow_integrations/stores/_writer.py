"""A bounded queue drained by one lazily started daemon thread, shared by the stores that write off the loop."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from typing import Any

#: queued last: the writer finishes what came before it and ends
STOP = object()


class QueuedWriter:
    """The request path's half: `_put` never blocks or raises; a full or closed queue drops and counts.

    Subclasses call `_init_writer` in `__init__` and implement `_writer` (the thread's loop), which
    sets each `threading.Event` it takes from the queue (a flush barrier) and ends at `STOP`.
    """

    _thread_name = "cascadeflow-store"

    def _init_writer(self, max_queue: int) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        # counted by callers only (the writer keeps its own counts), so no increment is lost between threads
        self._dropped_full = 0

    def _put(self, item: Any) -> bool:
        if self._closed:
            self._dropped_full += 1
            return False
        if self._thread is None:
            self._start()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._dropped_full += 1
            return False
        return True

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                t = threading.Thread(target=self._writer, name=self._thread_name, daemon=True)
                t.start()
                self._thread = t

    def _writer(self) -> None:
        raise NotImplementedError

    def _flush_sync(self, timeout: float | None = None) -> bool:
        """Wait until the writer has handled everything queued before now (blocking; at most `timeout`
        seconds when given). True when it has."""
        if self._thread is None or not self._thread.is_alive():
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        barrier = threading.Event()
        try:
            self._queue.put(barrier, timeout=timeout)  # a full queue is drained by the writer meanwhile
        except queue.Full:
            return False
        return barrier.wait(_left(deadline))

    def _stop_sync(self, timeout: float | None = None) -> bool:
        """Refuse new items, let the writer finish the queue, and wait for it (blocking; at most `timeout`
        seconds when given). True when the writer has ended."""
        self._closed = True
        t = self._thread
        if t is None or not t.is_alive():
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self._queue.put(STOP, timeout=timeout)
        except queue.Full:
            return False
        t.join(_left(deadline))
        return not t.is_alive()

    async def _stop(self, timeout: float | None = None) -> bool:
        """`_stop_sync` off the event loop."""
        self._closed = True
        if self._thread is not None and self._thread.is_alive():
            return await asyncio.to_thread(self._stop_sync, timeout)
        return True


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())
