"""`DecisionLogger`: turns each finished call into a decision row (and its free escalation label).

The event loop only queues a reference to the result (`on_result`, a few microseconds); a worker
thread builds the row (fingerprint, answer kind, features, extracted answers) and hands it to the
store. A full queue drops the call and counts it: logging never delays or fails a request.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from ..quality.base import Decision, Draft
from ..stores._writer import STOP, QueuedWriter
from ..cache_cost import prefix_fingerprint
from ..stores.base import DecisionRow, DecisionStore, Label, StoreStats, prompt_fingerprint
from .features import DEFAULT_HASH_BUCKETS, FeatureSet, features
from .labels import agreement, answer_kind, extract_answer

logger = logging.getLogger("cascadeflow_integrations")


def last_user_text(messages: Sequence[Any]) -> str:
    for m in reversed(messages):
        if getattr(m, "role", None) == "user":
            return str(m.text)
    return ""


def _summary(d: Decision) -> dict[str, Any]:
    """What a row keeps of a decision (the format stored logs have)."""
    out: dict[str, Any] = {"accepted": d.accepted, "score": round(d.score, 4), "threshold": d.threshold,
                           "reason": d.reason}
    if d.policy is not None:
        out["policy"] = d.policy
    return out


def build_row(result: Any, messages: Sequence[Any], tools: Any, log_prompts: bool,
              ts: float) -> tuple[DecisionRow, Label | None]:
    """The decision row of one finished call, and the escalation label when the draft was replaced.

    The typed decision is serialised here, at the store boundary. A policy's features of the same draft
    are reused when they were computed from the same inputs (and word buckets) as the log's own."""
    prompt = last_user_text(messages)
    kind = answer_kind(prompt, tools)
    drafts: list[Draft] = list(getattr(result, "drafts", None) or [])
    decided: list[Decision] = list(getattr(result, "decided", None) or [])
    decision = decided[0] if decided else None
    # the policy's own verdict is not one of the checks it read
    checks = [c for c in decision.checks if not c.name.startswith("policy:")] if decision is not None else []
    draft = drafts[0] if drafts else None
    feats: dict[str, float] = {}
    if result.strategy == "cascade" and draft is not None:
        known = decision.features if decision is not None else None
        if isinstance(known, FeatureSet) and known.matches(prompt, result.complexity, kind, DEFAULT_HASH_BUCKETS,
                                                           draft, checks):
            feats = dict(known.values)
        else:
            feats = features(prompt, draft.text, checks, complexity=result.complexity, kind=kind, tools=tools,
                             logprobs=draft.logprobs, tool_calls=draft.tool_calls)
    row = DecisionRow(
        request_id=result.request_id,
        ts=ts,
        prompt_hash=prompt_fingerprint(prompt),
        prompt=prompt if log_prompts else None,
        complexity=result.complexity,
        answer_kind=kind,
        strategy=result.strategy,
        attempts=[{"model": a.model, "phase": a.phase, "input_tokens": a.usage.input_tokens,
                   "output_tokens": a.usage.output_tokens, "cached_tokens": a.usage.cached_tokens,
                   "cache_write_tokens": a.usage.cache_write_tokens, "reasoning_tokens": a.usage.reasoning_tokens,
                   "cost": a.cost, "latency_ms": round(a.latency_ms, 2),
                   "finish_reason": a.finish_reason, "accepted": a.accepted, "error": a.error}
                  for a in result.attempts],
        checks=[{"name": c.name, "passed": c.passed, "score": round(c.score, 4)} for c in checks],
        decision=None if decision is None else _summary(decision),
        draft_answer=extract_answer(kind, draft.text, prompt) if draft is not None else None,
        final_answer=extract_answer(kind, result.content, prompt),
        features=feats,
        # None stays None (a member without a price): an unknown cost is never logged as $0
        total_cost=result.total_cost,
        baseline_cost=result.baseline_cost,
        prefix_hash=prefix_fingerprint(messages, tools),
    )
    label = None
    draft_ok = draft is not None and result.attempts and result.attempts[0].error is None
    if result.strategy == "cascade" and draft_ok and not result.draft_accepted and draft is not None:
        a = agreement(kind, prompt, draft.text, result.content, draft.tool_calls, result.tool_calls)
        if a is not None:
            label = Label(result.request_id, a, source="escalation", target="draft", ts=ts,
                          detail=f"draft {row.draft_answer!r} vs {row.final_answer!r}")
    return row, label


class DecisionLogger(QueuedWriter):
    """Queues finished calls and writes their rows from one worker thread."""

    _thread_name = "cascadeflow-decision-rows"

    def __init__(self, store: DecisionStore, *, log_prompts: bool = False, max_queue: int = 10_000) -> None:
        self.store = store
        self.log_prompts = log_prompts
        self._init_writer(max_queue)
        self._failed = 0
        self._logged = 0

    @property
    def stats(self) -> StoreStats:
        """The store's counts plus this logger's own drops (full queue, rows it could not build)."""
        s = self.store.stats
        return StoreStats(s.written, s.dropped + self._dropped_full + self._failed, s.queued + self._queue.qsize(), s.pruned,
                          s.guarantee_alarms)

    def on_result(self, result: Any, messages: Sequence[Any], tools: Any) -> bool:
        """Queue one finished call (on the event loop: no work beyond the queue)."""
        return self._put((result, list(messages), tools, time.time()))

    def _writer(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is STOP:
                    return
                if isinstance(job, threading.Event):
                    job.set()
                    continue
                result, messages, tools, ts = job
                try:
                    row, label = build_row(result, messages, tools, self.log_prompts, ts)
                except Exception as e:  # a row that cannot be built is lost, never the worker
                    self._failed += 1
                    logger.warning("decision log: could not build the row of %s (%s)",
                                   getattr(result, "request_id", "?"), e)
                    continue
                self.store.append(row)
                if label is not None:
                    self.store.add_label(label)
                self._logged += 1
            finally:
                self._queue.task_done()

    async def flush(self) -> None:
        """Wait until every queued call is in the store and the store has written it (a store with a
        `close_timeout`, such as `RedisStore`, waits at most that long while it cannot write)."""
        await asyncio.to_thread(self._flush_sync, self._limit())
        await self.store.flush()

    async def aclose(self, flush_store: bool = True) -> None:
        """Build the queued rows, stop the worker, and wait for the store to write them (`flush_store=False`:
        its owner closes it next, which writes them). Never longer than the store's `close_timeout`: rows it
        could not write by then stay in its queue, dropped and counted by its own `aclose()`."""
        if self._closed:
            return
        await self._stop(self._limit())
        if not flush_store:
            return
        await self.store.flush()
        left = self.store.stats.queued
        if left:
            logger.warning("decision log: %d row(s) not written to %r at close (unreachable?); its aclose() "
                           "drops and counts what it cannot write", left, self.store)

    def _limit(self) -> float | None:
        limit = getattr(self.store, "close_timeout", None)
        return float(limit) if isinstance(limit, (int, float)) else None
