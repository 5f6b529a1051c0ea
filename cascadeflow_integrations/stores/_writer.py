"""A bounded queue drained by one lazily started daemon thread, shared by the stores that write off the loop."""

from __future__ import annotations

import queue
import threading
from typing import Any


class QueuedWriter:
    """The request path's half: `_put` never blocks or raises; a full or closed queue drops and counts.

    Subclasses call `_init_writer` in `__init__` and implement `_writer` (the thread's loop).
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
