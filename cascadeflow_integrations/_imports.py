"""Heavy modules (the provider SDKs, redis) imported in a daemon thread: never on the event loop.

Importing an SDK takes half a second or more (seconds on a busy machine), and on the loop it stalls
every task meanwhile: other calls' timeouts expire (a budget's Redis reply sits unread) although
nothing is slow but our own start-up. `warm(name)` starts the import once per process and returns at
once (constructors call it); `await ready(name)` waits for it without blocking the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import importlib.util
import os
import sys
import threading
from types import ModuleType

_lock = threading.Lock()
_imports: dict[str, concurrent.futures.Future[ModuleType]] = {}
#: how long a fork waits for imports under way (a server forking workers right after building its agent)
FORK_WAIT_S = 60.0


def loaded(name: str) -> ModuleType | None:
    """`name` if some code of this process has imported it, else None (never imports anything)."""
    mod = sys.modules.get(name)
    if mod is None or getattr(getattr(mod, "__spec__", None), "_initializing", False):
        return None  # absent, or being imported by another thread right now
    return mod


def installed(name: str) -> bool:
    """True when the top-level package of `name` can be imported (without importing it)."""
    root = name.partition(".")[0]
    return root in sys.modules or importlib.util.find_spec(root) is not None


def warm(name: str) -> concurrent.futures.Future[ModuleType]:
    """Start importing `name` in a daemon thread (once per process); the future holds the module."""
    with _lock:
        fut = _imports.get(name)
        if fut is None:
            fut = _imports[name] = concurrent.futures.Future()
            fut.set_running_or_notify_cancel()  # a caller cancelled while waiting cannot cancel it for all
            mod = loaded(name)
            if mod is not None:
                fut.set_result(mod)
            else:
                threading.Thread(target=_load, args=(name, fut), name=f"cascadeflow-import-{name}",
                                 daemon=True).start()
    return fut


def _load(name: str, fut: concurrent.futures.Future[ModuleType]) -> None:
    try:
        fut.set_result(importlib.import_module(name))
    except BaseException as e:  # raised to whoever awaits it; the next warm() tries again
        with _lock:
            if _imports.get(name) is fut:
                del _imports[name]
        fut.set_exception(e)


async def ready(name: str) -> ModuleType:
    """The module `name`, imported off the event loop (at once when already imported)."""
    fut = warm(name)
    if not fut.done():
        # a thread waits, not a callback on the shared future: that would keep this loop alive for good
        await asyncio.to_thread(fut.exception)
    return fut.result()


def _before_fork() -> None:
    # A child forked mid-import inherits that import's module locks, held by a thread it does not have,
    # and would hang at its first use of the module: let the imports under way finish first.
    with _lock:
        pending = [f for f in _imports.values() if not f.done()]
    for f in pending:
        try:
            f.exception(timeout=FORK_WAIT_S)
        except concurrent.futures.TimeoutError:
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork)
