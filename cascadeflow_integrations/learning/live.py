"""`Learner`: an agent's learning side — decision log, shadow calls, feedback, its policy, refits.

Everything here runs after the response: `on_result` only queues the call for the log and, for a
`shadow_rate` share of accepted drafts, starts a background task that asks the next model too (at
most `max_shadow_concurrency` at once, at most `max_shadow_pending` waiting; more are skipped and
counted). `aclose()` cancels shadow tasks and a running refit, and drains the log.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .._checks import _share
from ..stores.base import DecisionStore, Label, prompt_fingerprint
from .certify import GuaranteeMonitor
from .labels import COMPARABLE_KINDS, agreement, answer_kind
from .log import DecisionLogger, last_user_text
from .policy import Policy, PolicyFileError, PolicyValidator

logger = logging.getLogger("cascadeflow_integrations")


@dataclass(slots=True)
class ShadowAnswer:
    """What the shadow call returned and what it cost (kept out of the request's total_cost)."""

    text: str
    tool_calls: list[Any]
    cost: float
    finish_reason: str | None = "stop"


#: (messages, options, draft) -> the strongest model's answer, or with draft=True the cheapest model's
ShadowCall = Callable[..., Awaitable[ShadowAnswer]]
#: requests routed direct by the policy, by id of their call options, awaiting their result
_MAX_SKIPS = 4096
#: request ids remembered for feedback (about 10 MB at most)
_MAX_SERVED = 100_000


def load_policy(policy: Any) -> tuple[Policy | None, str | None]:
    """(policy, error): a `Policy`, or one read from a path; a bad file gives (None, why) so the caller falls back."""
    if policy is None or isinstance(policy, Policy):
        return policy, None
    if isinstance(policy, (str, Path)):
        try:
            return Policy.load(policy), None
        except PolicyFileError as e:
            return None, str(e)
    raise ConfigError(f"policy={policy!r} is neither a Policy nor a path: pass Policy.load(...) or 'policy.json'")


class Learner:
    def __init__(
        self,
        store: DecisionStore | None,
        *,
        owns_store: bool,
        shadow_rate: float,
        log_prompts: bool,
        policy: Policy | None,
        shadow_call: ShadowCall | None,
        checks: Any = None,
        max_shadow_concurrency: int = 4,
        max_shadow_pending: int = 64,
        seed: int | None = None,
        judge: Any = None,
    ) -> None:
        shadow_rate = _share("shadow_rate", shadow_rate)  # the option's rule (cascade.spec)
        if shadow_rate > 0 and store is None:
            raise ConfigError("shadow_rate needs a decision log to keep its labels: pass decision_log='cascade.db'")
        self.store = store
        self._owns_store = owns_store
        self.shadow_rate = float(shadow_rate)
        self.log = DecisionLogger(store, log_prompts=log_prompts) if store is not None else None
        #: what computes the checks a policy decides on (None: the free checks)
        self._checks = checks
        self.validator = PolicyValidator(policy, checks) if policy is not None else None
        self._shadow_call = shadow_call
        #: the agent's JudgeValidator, when it has one: it labels answers no extraction can compare (free text)
        self.judge = judge if store is not None else None
        # one semaphore per event loop: sync entry points run calls on a background loop, async ones on yours
        self._sems: dict[Any, asyncio.Semaphore] = {}
        self._max_concurrency = max_shadow_concurrency
        self._max_pending = max_shadow_pending
        self._tasks: set[asyncio.Task[Any]] = set()
        self._rnd = random.Random(seed)
        self._refit_every: int | None = None
        self._refit_kw: dict[str, Any] = {}
        self._new_labels = 0
        self._refit: asyncio.Task[Any] | None = None
        self.shadow_cost = 0.0
        self.shadow_calls = 0
        self.shadow_skipped = 0
        self.refits = 0
        self._skips: dict[int, float] = {}
        #: request ids this agent served, newest last (bounded): feedback for others is kept apart
        self._served: OrderedDict[str, None] = OrderedDict()
        #: the live check of the policy's promise on the labels its own decisions produce
        self.monitor: GuaranteeMonitor | None = None
        if policy is not None:
            self._watch(policy)

    @property
    def policy(self) -> Policy | None:
        return self.validator.policy if self.validator is not None else None

    def swap(self, policy: Policy) -> None:
        """Use `policy` from the next decision on (one reference assignment: calls in flight finish as they began)."""
        if self.validator is None:
            self.validator = PolicyValidator(policy, self._checks)
        else:
            self.validator.policy = policy
            self.validator.hold = None  # a new certified policy: its own check starts afresh
        self._watch(policy)

    # ---- the guarantee on live traffic ------------------------------------------------------

    def _watch(self, policy: Policy) -> None:
        weight = 1.0 / self.shadow_rate if self.shadow_rate > 0 else 1.0
        self.monitor = GuaranteeMonitor(policy.target_quality, 1.0 - policy.confidence, max_weight=weight)

    def _observe(self, accepted: bool, draft_quality: float, weight: float = 1.0) -> None:
        """One label of a decision the current policy made (the strong answer is the reference: quality 1)."""
        monitor, policy = self.monitor, self.policy
        if monitor is None or policy is None or not monitor.update(accepted, draft_quality, 1.0, weight):
            return
        state = monitor.state()
        policy.report["guarantee_alarm"] = state
        if self.store is not None:
            self.store.guarantee_alarms += 1
        if self.validator is not None:
            self.validator.hold = "its guarantee failed on live traffic: escalating until a refit certifies again"
        logger.warning(
            "policy %s: the live check says its promise (quality share >= %.0f%% at %.0f%% confidence) no longer "
            "holds after %d labels (evidence %.1f >= %.1f): every draft escalates until a refit certifies again",
            policy.name, 100 * policy.target_quality, 100 * policy.confidence, state["labels"], state["evidence"],
            state["alarm_at"])
        if self._refit_every is not None and (self._refit is None or self._refit.done()):
            try:
                self._refit = asyncio.get_running_loop().create_task(self._background_refit())
            except RuntimeError:
                pass

    # ---- routing: skip the draft ------------------------------------------------------------

    def route(self, messages: Sequence[Any], routing: Any, tools: Any, opts: Any = None) -> Any:
        """The router's decision, or direct when the policy expects the draft to be rejected."""
        policy = self.policy
        if policy is None or policy.skip is None or routing.strategy != "cascade":
            return routing
        if self.validator is not None and self.validator.hold is not None:
            return routing  # after an alarm every request drafts, so its escalation labels the new traffic
        try:
            skip, p = policy.route(last_user_text(messages), routing.complexity, tools)
        except Exception as e:  # a policy that cannot estimate this prompt leaves the routing as it was
            logger.warning("policy %s could not route this request (%s); cascading", policy.name, e)
            return routing
        from ..routing import RoutingDecision

        if not skip:
            # the policy's estimate feeds the cache-aware rule: a likely escalation re-sends a long prompt
            return RoutingDecision(routing.strategy, routing.complexity, routing.reason,
                                   {**routing.features, "p_escalate": round(1.0 - (p or 0.0), 4)})

        t = policy.skip.threshold
        why = f"policy {policy.name}: estimate {p:.2f} that a draft would be accepted" + (
            f" < {t:.2f}" if isinstance(t, float) else f" (skip {t})")
        info = {"name": policy.name, "estimate": round(p or 0.0, 4), "threshold": t}
        if opts is not None and self.shadow_rate > 0:
            if len(self._skips) >= _MAX_SKIPS:  # calls that failed never reached on_result: forget the oldest
                self._skips.pop(next(iter(self._skips)))
            self._skips[id(opts)] = p or 0.0
        return RoutingDecision("direct", routing.complexity, f"{why} -> direct",
                               {**routing.features, "policy": info})

    # ---- after each call ------------------------------------------------------------------

    def on_result(self, result: Any, messages: Sequence[Any], opts: Any) -> None:
        """Called by the engine just before COMPLETE: queue the row; maybe start a shadow call."""
        try:
            self._on_result(result, messages, opts)
        except Exception as e:  # learning never fails a request
            logger.warning("decision log: call %s not logged (%s)", getattr(result, "request_id", "?"), e)

    def _on_result(self, result: Any, messages: Sequence[Any], opts: Any) -> None:
        if self.log is not None:
            self.log.on_result(result, messages, opts.tools)
            self._served[result.request_id] = None
            if len(self._served) > _MAX_SERVED:
                self._served.popitem(last=False)
        skipped = self._skips.pop(id(opts), None) if self._skips else None
        if (skipped is not None and self.shadow_rate > 0 and self._shadow_call is not None and self.store is not None
                and self._rnd.random() < self.shadow_rate):
            # Skipped requests get no draft, so nothing would ever say the skip was wrong: shadow-draft a share.
            self._spawn(self._shadow_draft(result, list(messages), opts))
        if result.strategy == "cascade" and not result.draft_accepted or skipped is not None:
            self._observe(False, 0.0)  # escalated, or sent direct by the policy: the strong answer was served
        if result.strategy == "cascade" and not result.draft_accepted:
            self._count_label()
            if self.judge is not None and result.drafts and result.attempts and result.attempts[0].error is None:
                prompt = last_user_text(messages)
                if answer_kind(prompt, opts.tools) not in COMPARABLE_KINDS:  # no agreement label: ask the judge
                    self._spawn(self._judge(result.request_id, list(messages), opts, result.drafts[0].text, 1.0, 0.0))
        if (self.shadow_rate > 0 and self._shadow_call is not None and result.draft_accepted
                and self._rnd.random() < self.shadow_rate):
            self._start_shadow(result, messages, opts)

    def _start_shadow(self, result: Any, messages: Sequence[Any], opts: Any) -> None:
        self._spawn(self._shadow(result, list(messages), opts))

    def _spawn(self, coro: Any) -> None:
        """A bounded background task (shadow call or judge): skipped and counted when too many wait."""
        if len(self._tasks) >= self._max_pending:
            self.shadow_skipped += 1
            coro.close()
            return
        loop = asyncio.get_running_loop()
        if loop not in self._sems:
            self._sems[loop] = asyncio.Semaphore(self._max_concurrency)
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _judge(self, request_id: str, messages: list[Any], opts: Any, text: str, weight: float,
                     cost: float) -> None:
        """Label a draft by the judge model's verdict (grade/10)."""
        from ..quality.base import Draft, ValidationRequest

        await asyncio.sleep(0)
        assert self.judge is not None
        async with self._sems[asyncio.get_running_loop()]:
            try:
                d = await self.judge.validate(ValidationRequest(messages, opts.tools), Draft(text=text), 0.0)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                logger.info("judge label for %s failed: %s", request_id, e)
                return
        self.shadow_cost += d.cost
        if self.store is not None:
            self.store.add_label(Label(request_id, min(1.0, max(0.0, d.score)), source="judge", target="draft",
                                       cost=cost + d.cost, weight=weight, detail=d.reason[:200]))
            self._count_label()

    async def _call_shadow(self, result: Any, messages: list[Any], opts: Any, draft: bool = False) -> Any:
        """One bounded shadow call after the response was handed over, its cost counted; None if it failed."""
        await asyncio.sleep(0)  # the response is handed over first
        assert self._shadow_call is not None
        async with self._sems[asyncio.get_running_loop()]:
            try:
                ans = await (self._shadow_call(messages, opts, draft=True) if draft
                             else self._shadow_call(messages, opts))
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a failed shadow call costs a label, never the caller anything
                logger.info("shadow %s for %s failed: %s", "draft" if draft else "call", result.request_id, e)
                return None
        self.shadow_calls += 1
        self.shadow_cost += ans.cost
        return ans

    async def _shadow(self, result: Any, messages: list[Any], opts: Any) -> None:
        ans = await self._call_shadow(result, messages, opts)
        if ans is None:
            return
        prompt = last_user_text(messages)
        kind = answer_kind(prompt, opts.tools)
        a = agreement(kind, prompt, result.content, ans.text, result.tool_calls, ans.tool_calls)
        if a is None and self.judge is not None:
            await self._judge(result.request_id, messages, opts, result.content, 1.0 / self.shadow_rate, ans.cost)
            return
        if a is None or self.store is None:
            return
        self.store.add_label(Label(result.request_id, a, source="shadow", target="draft", cost=ans.cost,
                                   weight=1.0 / self.shadow_rate, detail="agreement with the next model"))
        self._observe(True, a, 1.0 / self.shadow_rate)
        self._count_label()

    async def _shadow_draft(self, result: Any, messages: list[Any], opts: Any) -> None:
        """Draft a request the policy routed direct, and log that draft with its label as a row of its own."""
        from ..stores.base import DecisionRow
        from .features import features as recipe, free_checks
        from .labels import extract_answer

        assert self.store is not None
        ans = await self._call_shadow(result, messages, opts, draft=True)
        if ans is None:
            return
        prompt = last_user_text(messages)
        kind = answer_kind(prompt, opts.tools)
        a = agreement(kind, prompt, ans.text, result.content, ans.tool_calls, result.tool_calls)
        if a is None:
            return

        def features() -> tuple[list[Any], dict[str, float]]:
            checks = free_checks(prompt, ans.text, result.complexity, None, ans.finish_reason, opts.tools,
                                 ans.tool_calls)
            return checks, recipe(prompt, ans.text, checks, complexity=result.complexity, kind=kind,
                                  tools=opts.tools, tool_calls=ans.tool_calls)

        checks, feats = await asyncio.to_thread(features)
        rid = f"{result.request_id}.draft"
        self.store.append(DecisionRow(
            request_id=rid, prompt_hash=prompt_fingerprint(prompt), complexity=result.complexity, answer_kind=kind,
            strategy="cascade", decision=None, features=feats,
            checks=[{"name": c.name, "passed": c.passed, "score": round(c.score, 4)} for c in checks],
            attempts=[{"model": "", "phase": "draft", "cost": ans.cost},
                      {"model": result.model_used, "phase": "verifier", "cost": result.total_cost}],
            draft_answer=extract_answer(kind, ans.text, prompt), final_answer=extract_answer(kind, result.content, prompt),
            total_cost=result.total_cost, baseline_cost=result.baseline_cost,
            extra={"shadow_draft_of": result.request_id}))
        self.store.add_label(Label(rid, a, source="shadow", target="draft", cost=ans.cost, weight=1.0 / self.shadow_rate,
                                   detail="shadow draft of a request routed direct"))
        self._count_label()

    # ---- feedback and fitting ---------------------------------------------------------------

    def feedback(self, request_id: str, correct: bool | None = None, score: float | None = None,
                 target: str = "final") -> bool:
        if self.store is None:
            raise ConfigError("feedback needs a decision log: CascadeAgent(models, decision_log='cascade.db')")
        if not isinstance(request_id, str) or not request_id:
            raise ConfigError(f"request_id must be the id from result.request_id, got {request_id!r}")
        if (correct is None) == (score is None):
            raise ConfigError("feedback takes exactly one of correct=True/False or score=0..1")
        if correct is not None and not isinstance(correct, bool):
            raise ConfigError(f"correct must be True or False, got {correct!r}")
        value = (1.0 if correct else 0.0) if correct is not None else score
        known = request_id in self._served
        # An id this agent never served may be another process's (a fleet sharing the store): the label is
        # kept, but only joins a fit through a logged row with that id, so a mistyped id never counts.
        label = Label(request_id, value, source="feedback", target=target,  # type: ignore[arg-type]
                      detail="" if known else "request id not served by this agent")
        ok = self.store.add_label(label)
        if ok and known:
            self._count_label()
        return ok and known

    async def fit(self, target_quality: float = 0.95, refit_every: int | None = None, **kw: Any) -> Policy:
        """Fit on the log now, use the result; with `refit_every`, refit in the background every N new labels."""
        if self.store is None:
            raise ConfigError("fit needs a decision log: CascadeAgent(models, decision_log='cascade.db')")
        if refit_every is not None and (not isinstance(refit_every, int) or refit_every < 1):
            raise ConfigError(f"refit_every must be a positive number of labels, got {refit_every!r}")
        from .fit import afit

        if self.log is not None:
            await self.log.flush()
        policy = await afit(self.store, target_quality, **kw)
        await self._publish(policy)
        self._refit_every = refit_every
        self._refit_kw = {"target_quality": target_quality, **kw}
        self._new_labels = 0
        return policy

    async def _publish(self, policy: Policy) -> None:
        self.swap(policy)
        self.refits += 1
        if self.store is not None:
            await self.store.put_policy(policy.to_dict())
        logger.info("policy %s in use (held-out %s)", policy.name, policy.report.get("heldout"))

    def _count_label(self) -> None:
        self._new_labels += 1
        if self._refit_every is not None and self._new_labels >= self._refit_every and (
                self._refit is None or self._refit.done()):
            self._new_labels = 0
            try:
                self._refit = asyncio.get_running_loop().create_task(self._background_refit())
            except RuntimeError:  # no loop here (sync feedback): the next label in a loop triggers it
                self._new_labels = self._refit_every

    async def _background_refit(self) -> None:
        from .fit import NotEnoughLabels, afit

        try:
            if self.log is not None:
                await self.log.flush()
            assert self.store is not None
            kw = dict(self._refit_kw)
            policy = await afit(self.store, kw.pop("target_quality"), **kw)
        except NotEnoughLabels as e:
            logger.info("background refit skipped: %s", e)
            return
        except asyncio.CancelledError:
            raise
        except Exception as e:
            logger.warning("background refit failed; the current policy stays: %s", e)
            return
        await self._publish(policy)

    async def drain_shadows(self) -> None:
        """Wait for the shadow calls started so far (tests, benchmarks, a clean shutdown)."""
        await _settle(list(self._tasks), cancel=False)

    async def aclose(self) -> None:
        pending = [*self._tasks, *([self._refit] if self._refit is not None else [])]
        await _settle([t for t in pending if not t.done()], cancel=True)
        if self.log is not None:  # a store of ours is closed next, which writes (or drops and counts) the rows
            await self.log.aclose(flush_store=not self._owns_store)
        if self.store is not None and self._owns_store:
            await self.store.aclose()


async def _settle(tasks: list[asyncio.Task[Any]], cancel: bool) -> None:
    """Wait for (or cancel and wait for) tasks that may live on another event loop (sync entry points)."""
    here = asyncio.get_running_loop()
    by_loop: dict[Any, list[asyncio.Task[Any]]] = {}
    for t in tasks:
        by_loop.setdefault(t.get_loop(), []).append(t)
    for loop, ts in by_loop.items():
        if loop is here:
            if cancel:
                for t in ts:
                    t.cancel()
            await asyncio.gather(*ts, return_exceptions=True)
        elif loop.is_running():

            async def finish(ts: list[asyncio.Task[Any]] = ts) -> None:
                if cancel:
                    for t in ts:
                        t.cancel()
                await asyncio.gather(*ts, return_exceptions=True)

            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(finish(), loop))


__all__ = ["Learner", "ShadowAnswer", "load_policy"]
