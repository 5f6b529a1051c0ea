"""`PolicyFollower`: the latest policy published in a store, picked up without a restart.

The request path reads the cached record (`latest()`, no I/O); when it is older than `refresh_s`,
one background task asks the store for the version (one small read on Redis) and fetches the
document only when the version changed. A store that is down keeps the last policy in use.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from ..errors import ConfigError
from .base import DecisionStore, PolicyRecord

logger = logging.getLogger("cascadeflow_integrations")


class PolicyFollower:
    """Follows `store`'s published policy; `on_update(record)` is called on each new version."""

    def __init__(self, store: DecisionStore, *, refresh_s: float = 5.0,
                 on_update: Callable[[PolicyRecord], None] | None = None) -> None:
        if refresh_s <= 0:
            raise ConfigError(f"refresh_s must be > 0 seconds, got {refresh_s!r}")
        self.store = store
        self.refresh_s = refresh_s
        self.on_update = on_update
        self.record: PolicyRecord | None = None
        self._checked = 0.0
        self._task: asyncio.Task[PolicyRecord | None] | None = None
        self._closed = False

    @property
    def version(self) -> int:
        return self.record.version if self.record else 0

    def latest(self) -> PolicyRecord | None:
        """The policy in use now; schedules a refresh in the background when it is due."""
        if not self._closed and time.monotonic() - self._checked >= self.refresh_s and (
                self._task is None or self._task.done()):
            self._checked = time.monotonic()
            try:
                self._task = asyncio.get_running_loop().create_task(self.refresh())
            except RuntimeError:  # no running loop (sync caller): refresh on the next async call
                pass
        return self.record

    async def refresh(self) -> PolicyRecord | None:
        """Check the store now; returns the policy in use."""
        try:
            poll = getattr(self.store, "policy_version", None)
            if poll is not None and await poll() == self.version:
                return self.record
            rec = await self.store.get_policy()
        except Exception as e:  # the store is down or the document is bad: keep the policy in use
            logger.warning("policy refresh from %r failed (%s: %s); keeping version %d", self.store,
                           type(e).__name__, e, self.version)
            return self.record
        finally:
            self._checked = time.monotonic()
        if rec is not None and rec.version != self.version:
            self.record = rec
            logger.info("policy version %d picked up from %r", rec.version, self.store)
            if self.on_update is not None:
                try:
                    self.on_update(rec)
                except Exception:
                    logger.exception("policy on_update callback failed for version %d", rec.version)
        return self.record

    async def aclose(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    def __repr__(self) -> str:
        return f"PolicyFollower({self.store!r}, version={self.version})"

