"""`CascadeAgent`: the public entry point of the cascade engine."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, cast

from .._checks import check_flag, check_seconds, estimate_prompt_tokens
from .._log import enable_verbose
from .._sync import iter_sync, run_sync
from .engine import CallOptions, CascadeRun, Event, StreamingMode
from ..budget import BudgetHook
from ..errors import CascadeError, ConfigError
from .hooks import RunHook
from ..models.members import CascadeMember, build_chain, resolve_member
from ..messages import to_messages
from ..otel import TraceHook, start_call
from ..quality._model import resolve_members_with
from ..quality.base import Validator, ValidatorFn, as_validator
from ..result import CascadeResult
from .spec import CascadeSpec, decider, refuse_build_options
from .streaming import Complete, Error
from ..types import Message

logger = logging.getLogger("cascadeflow_integrations")

# a model-based check given a model of its own resolves it as the agent resolves its chain
# (quality/ does not import models/: this layer, which knows both, connects them)
resolve_members_with(resolve_member)

QueryLike = "str | Sequence[Message | dict[str, Any]]"


class TextStreamManager:
    """Streams text cascades (present with 2+ models, as in the seed API)."""

    def __init__(self, agent: CascadeAgent) -> None:
        self.agent = agent

    def stream(self, query: Any, **kwargs: Any) -> AsyncIterator[Event]:
        return self.agent.stream_events(query, **kwargs)


class ToolStreamManager(TextStreamManager):
    """Streams cascades with tools (present with 2+ models)."""

    def stream(self, query: Any, tools: Any = None, **kwargs: Any) -> AsyncIterator[Event]:
        return self.agent.stream_events(query, tools=tools, **kwargs)


class CascadeAgent:
    """Drafts with the cheapest model, validates, escalates along the chain, streaming events.

    Models are ordered cheapest to strongest: `ModelConfig`s, `Member(model, input_cost=..., ...)`
    wrappers or ready `CascadeMember`s (with an adapter imported, its framework's models too).
    With one model every call is direct.
    """

    def __init__(self, models: Sequence[Any], *, verbose: bool = False, tool_executor: Any = None,
                 **options: Any) -> None:
        """`options` are the cascade options of `spec.OPTIONS` (docs/options.md); an unknown one is an
        `UnknownOptionError` naming it and the closest option, a bad value a `ConfigError` (both ValueErrors). Those marked per call are this agent's defaults for every call."""
        if isinstance(models, (str, bytes)) or not isinstance(models, Sequence):
            raise ConfigError("CascadeAgent models must be a list, cheapest first: models=[ModelConfig(...), ...]")
        #: the validated options (every default and rule in `spec.OPTIONS`)
        self.spec = spec = CascadeSpec(options)
        #: the chain as the engine sees it (labels are unique)
        self.members: list[CascadeMember] = build_chain(models)
        #: the models as given
        self.models: list[Any] = list(models)
        self.verbose = verbose
        self.streaming_mode = _mode(spec.streaming_mode)
        validator = spec.validator
        self.validator = _validator(validator)
        quality_threshold = spec.quality_threshold
        self.thresholds = _thresholds(quality_threshold)
        self._fixed_threshold = quality_threshold if isinstance(quality_threshold, (int, float)) else None
        router = spec.router
        if router is None:
            from ..routing import Router

            router = Router()
        self.router = router
        self.timeout = spec.timeout
        self.draft_timeout = spec.draft_timeout
        self.tool_executor = tool_executor
        from ..quality.toolrisk import ToolRiskCheck

        #: gates drafted calls to high-risk tools (marked `risk="high"`, or named like a pattern here)
        self.tool_risk = ToolRiskCheck(spec.high_risk_tools)
        self.speculative_escalation = spec.speculative_escalation
        cascading = len(self.members) > 1
        self.text_streaming_manager = TextStreamManager(self) if cascading else None
        self.tool_streaming_manager = ToolStreamManager(self) if cascading else None
        if verbose:
            enable_verbose()
        #: where budgets, and (a `DecisionStore` such as `RedisStore`) the decision log and the published
        #: policy are shared
        store = self.store = spec.store
        self.budget = _budget(spec.budget, store)
        if self.budget is not None:
            self.budget.check_chain(self.members)  # an unpriced member would make the budget never bind
        #: the cache rule (`cache_cost.CacheAwareRouting`): direct when a draft plus its likely escalation
        #: costs more than the strong model alone, given each model's recent cache share; None: off
        self.cache_routing = _cache_routing(spec.cache_routing)
        self._cache_seed: asyncio.Future[None] | None = None
        #: record prompt and answer text on OpenTelemetry spans (off: prompts stay out of traces)
        self.trace_content = spec.trace_content
        shared = _is_decision_store(store)
        decision_log, policy = spec.decision_log, spec.policy
        if decision_log is None and shared:
            decision_log = store
        #: why a policy file was not used (the agent then decides with the validator and thresholds)
        self.policy_error: str | None = None
        self._learner = self._learning(decision_log, spec.shadow_rate, policy, spec.log_prompts, validator)
        # The store's published policy is used, and a new version picked up while the process runs
        # (a policy= given here is pinned instead).
        self._follower = self._follow(store) if shared and policy is None else None

    def _learning(self, decision_log: Any, shadow_rate: Any, policy: Any, log_prompts: Any, validator: Any) -> Any:
        """The decision log, shadow calls and fitted policy, when any is asked for (else None: no cost at all)."""
        if decision_log is None and policy is None and not shadow_rate:
            return None
        from ..learning.live import Learner, load_policy
        from ..stores import open_store

        loaded, error = load_policy(policy)
        self.policy_error = error
        if error is not None:
            logger.error("policy not used, falling back to the validator and thresholds: %s", error)
        store = open_store(decision_log) if decision_log is not None else None
        learner = Learner(store, owns_store=not hasattr(decision_log, "append"), shadow_rate=shadow_rate,
                          log_prompts=log_prompts, policy=loaded,
                          checks=self.validator if validator is not None else None,
                          shadow_call=self._shadow_call if len(self.members) > 1 else None,
                          judge=_find_judge(self.validator))
        if learner.validator is not None:
            self.validator = learner.validator
        return learner

    def _follow(self, store: Any) -> Any:
        from ..stores.follow import PolicyFollower

        def use(record: Any) -> None:
            from ..learning.policy import Policy

            policy = Policy.from_dict(record.doc, source=f"{store!r} version {record.version}")
            if self._learner is not None:
                self._learner.swap(policy)
                self.validator = self._learner.validator
            else:
                self.validator = policy.as_validator()

        return PolicyFollower(store, on_update=use)

    def __repr__(self) -> str:
        return f"CascadeAgent(models={[m.label for m in self.members]}, streaming_mode={self.streaming_mode.value!r})"

    # ---- what the engine receives ---------------------------------------------------------

    def route(self, messages: list[Message], opts: CallOptions) -> Any:
        """The routing decision for one call (direct when the chain has one member)."""
        if len(self.members) == 1:
            from ..routing import RoutingDecision

            complexity = opts.complexity_hint or self.router.route(messages, opts.tools).complexity
            return RoutingDecision("direct", complexity, "single model configured")
        routing = self.router.route(messages, opts.tools, complexity_hint=opts.complexity_hint,
                                    force_direct=opts.force_direct)
        if self._learner is not None:
            routing = self._learner.route(messages, routing, opts.tools, opts)
        if self.cache_routing is not None and routing.strategy == "cascade":
            routing = self._cache_route(messages, opts, routing)
        return routing

    def _cache_route(self, messages: list[Message], opts: CallOptions, routing: Any) -> Any:
        from ..routing import RoutingDecision

        assert self.cache_routing is not None
        if self._cache_seed is None and self.decision_log is not None:
            self._cache_seed = asyncio.ensure_future(self._seed_cache_routing())  # once, off the request's path
        chain = [m for m in self.members if m.label not in opts.skip_models]
        # a fitted policy that knows this request's escalation probability puts it in its features
        p = (routing.features or {}).get("p_escalate")
        cmp = self.cache_routing.decide(messages, opts.tools, chain,
                                        p_escalate=float(p) if isinstance(p, (int, float)) else None)
        if cmp is None:
            return routing
        feats = {**(routing.features or {}), "cache": {"cascade_usd": cmp.cascade_usd, "direct_usd": cmp.direct_usd,
                                                         "p_escalate": cmp.p_escalate, "direct": cmp.go_direct}}
        if not cmp.go_direct:
            return RoutingDecision(routing.strategy, routing.complexity, routing.reason, feats)
        return RoutingDecision("direct", routing.complexity, f"{routing.reason}; cache: {cmp.explain()} -> direct",
                               feats)

    async def _seed_cache_routing(self) -> None:
        assert self.cache_routing is not None
        try:
            n = await asyncio.wait_for(self.cache_routing.seed(self.decision_log), 30.0)
            logger.info("cache routing: learned from %d decision-log rows", n)
        except Exception as e:  # noqa: BLE001 - the rule then learns from live calls only
            logger.warning("cache routing: could not read the decision log (%s)", e)

    def _hooks(self, opts: CallOptions, extra: Sequence[RunHook], learn: bool) -> list[RunHook]:
        """One call's run hooks, made for it: its budget, its spans, the learner, then the caller's (an adapter's)."""
        hooks: list[RunHook] = []
        if opts.budget is not None:
            hooks.append(BudgetHook(opts.budget, opts.budget_key))
        trace = start_call(opts.trace_content)
        if trace is not None:
            hooks.append(TraceHook(trace))
        if learn and (self._learner is not None or self.cache_routing is not None):
            hooks.append(_Learn(self._on_complete))
        hooks.extend(extra)
        ctx = opts.run_context
        if ctx is not None and not isinstance(ctx, RunHook) and (hasattr(ctx, "wrap") or hasattr(ctx, "settle")):
            hooks.append(_DuckContext(ctx))  # a run context written against the duck-typed `wrap`/`settle`
        return hooks

    def _on_complete(self, result: CascadeResult, messages: list[Message], opts: CallOptions) -> None:
        if self.cache_routing is not None:
            try:
                self.cache_routing.observe(result, messages, opts.tools)
            except Exception as e:  # noqa: BLE001 - bookkeeping never fails a request
                logger.warning("cache routing: call %s not recorded (%s)", result.request_id, e)
        if self._learner is not None:
            self._learner.on_result(result, messages, opts)

    async def _shadow_call(self, messages: Sequence[Message], opts: CallOptions, draft: bool = False) -> Any:
        """A shadow call off the user's path (no log, no shadow of its own): the same request to the strongest
        model, or with `draft=True` to the cheapest (the draft a request routed direct did not get)."""
        from dataclasses import replace

        from ..learning.live import ShadowAnswer
        from ..routing import RoutingDecision

        shadow = replace(opts, force_direct=True, mode=StreamingMode.BUFFERED, live_drafts=False, run_context=None)
        shadow.hooks = self._hooks(shadow, (), learn=False)  # its own budget hold and spans; no log, no shadow
        def direct(messages: list[Message], o: CallOptions) -> Any:
            return RoutingDecision("direct", o.complexity_hint or "moderate", "shadow draft")

        chain, route = ([self.members[0]], direct) if draft else (self.members, self.route)
        async for ev in CascadeRun(chain, route, list(messages), shadow, _json_parser).events():
            if isinstance(ev, Complete):
                r = ev.result
                return ShadowAnswer(r.content, list(r.tool_calls), r.total_cost or 0.0, r.finish_reason)
            if isinstance(ev, Error):
                raise ev.error
        raise CascadeError("the shadow call ended without a result")

    # ---- learning from traffic --------------------------------------------------------------

    @property
    def policy(self) -> Any:
        """The fitted policy deciding drafts (`learning.Policy`), or None."""
        return self._learner.policy if self._learner is not None else None

    @property
    def decision_log(self) -> Any:
        """The decision-log store (`stores.DecisionStore`), or None."""
        return self._learner.store if self._learner is not None else None

    @property
    def shadow_cost(self) -> float:
        """What the shadow calls so far cost (never part of any result's total_cost)."""
        return self._learner.shadow_cost if self._learner is not None else 0.0

    def feedback(self, request_id: str, correct: bool | None = None, *, score: float | None = None) -> bool:
        """Label a call you served: `correct=True/False` (thumbs, a passing test) or `score=0..1`.

        Keyed by `result.request_id` (LangChain: `response_metadata["cascade"]["request_id"]`, LlamaIndex:
        `raw["cascade"]["request_id"]`). Returns True when the label was recorded for a call this agent served.
        False: the log's queue was full (dropped), or the id is not one this agent served (kept apart: it joins a
        fit only if a logged row has that id, e.g. another process of a fleet sharing the store). Labelling the
        same id again replaces the earlier label.
        """
        if self._learner is None or self._learner.store is None:
            raise ConfigError("feedback needs a decision log: CascadeAgent(models, decision_log='cascade.db')")
        return bool(self._learner.feedback(request_id, correct, score))

    async def fit(self, target_quality: float = 0.95, *, refit_every: int | None = None,
                  save: Any = None, **kw: Any) -> Any:
        """Fit a policy on the decision log and decide with it from the next call on (it becomes the validator).

        `refit_every=N` refits in the background after every N new labels and swaps the policy atomically;
        `save="policy.json"` also writes it. Other keywords go to `learning.fit`. Raises `NotEnoughLabels`
        (saying how many more are needed per answer kind) when the log holds too few.
        """
        if self._learner is None or self._learner.store is None:
            raise ConfigError("fit needs a decision log: CascadeAgent(models, decision_log='cascade.db')")
        policy = await self._learner.fit(target_quality, refit_every, **kw)
        self.validator = self._learner.validator
        if save is not None:
            policy.save(save)
        return policy

    def fit_sync(self, target_quality: float = 0.95, **kw: Any) -> Any:
        """`fit` from sync code."""
        return run_sync(self.fit(target_quality, **kw))

    async def aclose(self) -> None:
        """Stop following the store's policy, cancel shadow calls and refits, drain the decision log, close
        the members' clients."""
        if self._follower is not None:
            await self._follower.aclose()
        if self._cache_seed is not None and not self._cache_seed.done():
            self._cache_seed.cancel()
            if self._cache_seed.get_loop() is asyncio.get_running_loop():
                with contextlib.suppress(asyncio.CancelledError):
                    await self._cache_seed
        if self._learner is not None:
            await self._learner.aclose()
        for m in self.members:
            await m.aclose()

    async def __aenter__(self) -> CascadeAgent:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- public API ------------------------------------------------------------------------

    def stream_events(
        self,
        query: Any,
        max_tokens: int | None = None,
        temperature: float | None = None,
        complexity_hint: str | None = None,
        force_direct: bool | None = None,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        *,
        system_prompt: str | None = None,
        streaming_mode: StreamingMode | str | None = None,
        validator: Validator | ValidatorFn | Sequence[Validator | ValidatorFn] | None = None,
        quality_threshold: float | dict[str, float] | None = None,
        stop: Sequence[str] | None = None,
        parallel_tool_calls: bool | None = None,
        timeout: float | None = None,
        draft_timeout: float | None = None,
        live_drafts: bool = False,
        run_context: Any = None,
        hooks: Sequence[RunHook] = (),
        speculative_escalation: bool | None = None,
        budget: Any = None,
        budget_key: Any = None,
        **extra: Any,
    ) -> AsyncIterator[Event]:
        """Stream the cascade as typed events (`streaming.Event`: `Routing`, `TextChunk`, …, `Complete` or `Error`).

        Bad input raises `ConfigError` (a ValueError) here, before any network call. Extra keyword arguments go
        to the provider request as-is (e.g. `top_p`, `seed`, `response_format`; any name inside `extra_body`),
        but a near-miss of a call option (`draft_timout=`) is an `UnknownOptionError`. `live_drafts=True`
        yields draft events as they arrive in every mode, for adapters that do their own buffering;
        `run_context` is handed to every member's request as is (an adapter's members read it); `hooks` are
        the call's own `hooks.RunHook`s, after the agent's (an adapter's child runs).
        `budget_key` is the call's budget key (`"tenant-42"`) or metadata for `Budget(per=...)`;
        `budget` replaces the agent's budget for this call.
        """
        if self._follower is not None:
            self._follower.latest()  # no I/O: schedules a background refresh when one is due
        messages = to_messages(query, system_prompt)
        refuse_build_options(extra, _CALL_KEYWORDS)
        if "extra_body" in extra:  # the SDKs' escape hatch: its keys go into the request body as they are
            body = extra.pop("extra_body")
            if not isinstance(body, dict):
                raise ConfigError(f"extra_body must be a dict of request parameters, got {type(body).__name__}")
            extra = {**body, **extra}
        # the call's overrides merged onto the agent's options once, checked by the same rules: the run's plan
        plan = self.spec.merge({"max_tokens": max_tokens, "temperature": temperature,
                                "complexity_hint": complexity_hint, "force_direct": force_direct,
                                "streaming_mode": streaming_mode, "validator": validator,
                                "quality_threshold": quality_threshold, "stop": stop, "timeout": timeout,
                                "draft_timeout": draft_timeout, "speculative_escalation": speculative_escalation,
                                "budget": budget})
        opts = self._options(plan, tools, tool_choice, streaming_mode, validator, quality_threshold,
                             parallel_tool_calls, extra)
        opts.live_drafts = live_drafts
        opts.budget = _budget(budget, self.store) if budget is not None else self.budget
        if budget is not None:
            opts.budget.check_chain(self.members)
        if opts.budget is not None:
            opts.budget.key_for(budget_key)  # a missing or bad key is a ValueError now, before any network call
            opts.budget_key = budget_key
        elif budget_key is not None:
            raise ConfigError("budget_key was given but no budget is set: pass CascadeAgent(budget=Budget(...))")
        opts.trace_content = self.trace_content
        self._fit(messages, opts)
        opts.run_context = run_context
        opts.tool_risk = self.tool_risk
        opts.speculative = plan["speculative_escalation"]
        opts.hooks = self._hooks(opts, hooks, learn=True)
        return CascadeRun(self.members, self.route, messages, opts, _json_parser).events()

    def stream(self, query: Any, **kwargs: Any) -> AsyncIterator[Event]:
        """Alias of `stream_events` (the seed API's text-streaming name)."""
        return self.stream_events(query, **kwargs)

    async def run(self, query: Any = None, *, messages: Any = None, execute_tools: bool = False,
                  max_steps: int = 5, **kwargs: Any) -> CascadeResult:
        """Run the cascade and return its result. Raises the final model's error if it fails.

        `messages=` (a message list) takes precedence over `query`. With `execute_tools=True` and
        a `tool_executor`, tool calls are executed and fed back until the model answers, at most
        `max_steps` cascade calls; the returned result's cost and usage cover every step.
        """
        conversation = messages if messages is not None else query
        if conversation is None:
            raise ConfigError("run() needs a query: pass query='...' or messages=[...]")
        if execute_tools and self.tool_executor is None:
            raise ConfigError("execute_tools=True needs CascadeAgent(tool_executor=ToolExecutor([...]))")
        if max_steps < 1:
            raise ConfigError(f"max_steps must be >= 1, got {max_steps}")
        kwargs.setdefault("streaming_mode", StreamingMode.BUFFERED)
        result = await self._run_once(conversation, kwargs)
        if not execute_tools:
            return result
        history = to_messages(conversation, kwargs.pop("system_prompt", None))
        steps = [result]
        while result.tool_calls and len(steps) < max_steps:
            history.append(Message("assistant", result.content, list(result.tool_calls)))
            for r in await self.tool_executor.execute_many(result.tool_calls):
                history.append(Message("tool", r.to_message()["content"], tool_call_id=r.call_id))
            result = await self._run_once(history, kwargs)
            steps.append(result)
        return _merge_steps(steps)

    async def _run_once(self, conversation: Any, kwargs: dict[str, Any]) -> CascadeResult:
        async for ev in self.stream_events(conversation, **kwargs):
            if isinstance(ev, Complete):
                return ev.result
            if isinstance(ev, Error):
                raise ev.error
        raise CascadeError("the cascade ended without a result")  # unreachable unless a bug

    def run_sync(self, query: Any, **kwargs: Any) -> CascadeResult:
        """`run` from sync code; works inside a running event loop too (Jupyter, LangGraph)."""
        return run_sync(self.run(query, **kwargs))

    def stream_events_sync(self, query: Any, **kwargs: Any) -> Iterator[Event]:
        """`stream_events` from sync code; works inside a running event loop too."""
        return iter_sync(self.stream_events(query, **kwargs))

    # ---- validation of call options --------------------------------------------------------

    def _options(self, plan: dict[str, Any], tools: Any, tool_choice: Any, streaming_mode: Any, validator: Any,
                 quality_threshold: Any, parallel_tool_calls: Any, extra: dict[str, Any]) -> CallOptions:
        check_flag("parallel_tool_calls", parallel_tool_calls)
        norm_tools = norm_choice = None
        if tools is not None:
            from ..tools.schema import normalize_tool_choice, normalize_tools

            norm_tools = normalize_tools(tools)
            norm_choice = normalize_tool_choice(tool_choice, norm_tools)
        elif tool_choice is not None:
            raise ConfigError("tool_choice was given without tools: pass tools=[...] too")
        fixed = quality_threshold if isinstance(quality_threshold, (int, float)) else self._fixed_threshold
        return CallOptions(
            max_tokens=plan["max_tokens"], temperature=plan["temperature"], stop=plan["stop"],
            tools=norm_tools, tool_choice=norm_choice, parallel_tool_calls=parallel_tool_calls,
            mode=_mode(streaming_mode) if streaming_mode is not None else self.streaming_mode,
            validator=self._decider(validator),
            threshold=_check_threshold(fixed),
            thresholds=_thresholds(quality_threshold) if isinstance(quality_threshold, dict) else self.thresholds,
            complexity_hint=plan["complexity_hint"], force_direct=plan["force_direct"],
            timeout=plan["timeout"], draft_timeout=plan["draft_timeout"], extra=extra)

    def _decider(self, validator: Any) -> Validator:
        """The agent's validator, or the call's under the agent's policy (`spec.decider`: a policy decides)."""
        if validator is None:
            return self.validator
        current = self.validator if callable(getattr(self.validator, "with_checks", None)) else None
        return cast(Validator, decider(_validator(validator), current))

    def _fit(self, messages: list[Message], opts: CallOptions) -> None:
        """Clamp max_tokens to each member's `max_output_tokens`; skip members whose `context_window` is too small.

        The prompt's size is estimated (characters / 4). Only limits the member declares (for SDK members:
        those set on the `ModelConfig`) are enforced.
        """
        prompt: int | None = None
        too_small: list[str] = []
        for m in self.members:
            limit_out: int | None = getattr(m, "max_output_tokens", None)
            window: int | None = getattr(m, "context_window", None)
            out = opts.max_tokens
            if out is not None and limit_out is not None and out > limit_out:
                logger.info("max_tokens %d is above %s's max_output_tokens: clamped to %d", out, m.label, limit_out)
                out = opts.model_max_tokens[m.label] = limit_out
            if window is not None:
                if prompt is None:
                    prompt = estimate_prompt_tokens(messages, opts.tools)
                if prompt + (out or 0) > window:
                    too_small.append(f"{m.label}'s context_window is {window}")
                    opts.skip_models.add(m.label)
        if len(opts.skip_models) == len(self.members):
            raise ValueError(
                f"the prompt does not fit any model: about {prompt} tokens (estimated as characters / 4) plus "
                f"max_tokens {opts.max_tokens or 0}, but {'; '.join(too_small)}: shorten the conversation, lower "
                "max_tokens, or add a model with a larger context_window")
        if too_small:
            logger.warning("skipping %s for this call: the prompt (about %d tokens, estimated) plus max_tokens %d "
                           "does not fit (%s)", ", ".join(sorted(opts.skip_models)), prompt, opts.max_tokens or 0,
                           "; ".join(too_small))


#: the keywords `stream_events` takes itself: a per-call near-miss of one of them is a typo, not a provider parameter
_CALL_KEYWORDS = frozenset(inspect.signature(CascadeAgent.stream_events).parameters) - {"self", "query", "extra"}


def _find_judge(v: Any) -> Any:
    """The JudgeValidator in a validator (or a composition of them), if any: it labels free-text drafts."""
    from ..quality.judge import JudgeValidator

    if isinstance(v, JudgeValidator):
        return v
    for sub in getattr(v, "validators", None) or []:
        if (found := _find_judge(sub)) is not None:
            return found
    return None


def _merge_steps(steps: list[CascadeResult]) -> CascadeResult:
    """The last step's answer, with cost, usage, attempts and decisions of every step."""
    final = steps[-1]
    if len(steps) == 1:
        return final
    for s in steps[:-1]:
        final.total_cost = _add(final.total_cost, s.total_cost)
        final.baseline_cost = _add(final.baseline_cost, s.baseline_cost)
        final.cost_saved = _add(final.cost_saved, s.cost_saved)
        final.usage = final.usage + s.usage
        final.latency_ms += s.latency_ms
        final.validator_cost += s.validator_cost
        final.validator_calls += s.validator_calls
    final.attempts = [a for s in steps for a in s.attempts]
    final.decisions = [d for s in steps for d in s.decisions]
    final.decided = [d for s in steps for d in s.decided]
    final.ttft_ms = steps[0].ttft_ms
    return final


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _json_parser() -> Any:
    from ..tools.json_stream import ProgressiveJSONParser

    return ProgressiveJSONParser()


def _is_decision_store(store: Any) -> bool:
    if store is None:
        return False
    from ..stores.base import DecisionStore

    return isinstance(store, DecisionStore)


def _cache_routing(v: Any) -> Any:
    """The spec has checked the value (True, False, None or a CacheAwareRouting); True means the default rule."""
    from ..cache_cost import CacheAwareRouting

    if v is True:
        return CacheAwareRouting()
    return None if v is False or v is None else v


def _budget(budget: Any, store: Any) -> Any:
    """A budget (already checked by the spec) bound to the agent's store."""
    if budget is not None:
        budget.bind(store)
    return budget


def _mode(mode: StreamingMode | str) -> StreamingMode:
    try:
        return StreamingMode(mode)
    except ValueError:
        valid = ", ".join(m.value for m in StreamingMode)
        raise ConfigError(f"streaming_mode {mode!r} is not one of {valid}") from None


def _validator(v: Any) -> Validator:
    if v is None:
        from ..quality import default_validator

        return default_validator()
    if isinstance(v, (list, tuple)):
        from ..quality import AllOf

        return AllOf([as_validator(x) for x in v])
    return as_validator(v)


def _thresholds(q: Any) -> Any:
    from ..quality import Thresholds

    if isinstance(q, dict):
        return Thresholds().override(q)
    return Thresholds()


def _check_threshold(t: float | None) -> float | None:
    if t is not None and not 0 <= t <= 1:
        raise ConfigError(f"quality_threshold must be between 0 and 1, got {t}")
    return t


def _positive(name: str, v: Any) -> float | None:
    return check_seconds(name, v)


class _Learn(RunHook):
    """The agent's decision log, cache routing and shadow calls: told each result before `Complete`."""

    def __init__(self, on_complete: Callable[[CascadeResult, list[Message], CallOptions], None]) -> None:
        self.on_complete_fn = on_complete

    def on_complete(self, run: Any, result: Any) -> None:
        self.on_complete_fn(result, run.messages, run.opts)


class _DuckContext(RunHook):
    """A `run_context` with the older duck-typed hooks: `wrap(member, request, stream)`, `settle(request, d)`."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    def wrap(self, member: Any, request: Any, stream: Any) -> Any:
        wrap = getattr(self.ctx, "wrap", None)
        return wrap(member, request, stream) if wrap is not None else stream

    async def on_decision(self, run: Any, request: Any, decision: dict[str, Any]) -> None:
        settle = getattr(self.ctx, "settle", None)
        if settle is not None and request is not None:
            await settle(request, {k: v for k, v in decision.items() if k != "error"})
