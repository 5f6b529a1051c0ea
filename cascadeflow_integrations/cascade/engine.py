"""The cascade run: draft, validate, escalate, while streaming typed events.

One `CascadeRun` per call. It consumes each provider's normalised deltas and yields public events;
it never sees provider specifics. The per-chunk path is kept small on purpose: it runs once per
token, and its cost is measured in `bench/overhead.py`.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import ExitStack, aclosing, suppress
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, cast

from .._checks import estimate_prompt_tokens
from ..errors import BadRequestError, ProviderError, ProviderTimeoutError
from .hooks import RoutePlan, RunHook, overrides
from ..models.members import CascadeMember
from ..models.normalize import PartialCall, ToolCallAccumulator
from ..quality._model import CheckModel
from ..quality.base import CheckResult, Decision, Draft, PartialDraft, ValidationRequest, Validator
from ..quality.base import check_partial_safely, validate_safely
from ..result import CascadeResult, ModelAttempt
from .streaming import Complete, DraftDecision, Error, Event, Routing, Switch, TextChunk, ToolCallComplete
from .streaming import ToolCallDelta as ToolCallDeltaEvent
from .streaming import ToolCallStart
from ..tools.call import ToolCall
from ..types import ChatRequest, FinishDelta, Message, ModelDelta, TextDelta, ToolCallDelta, Usage, UsageDelta

logger = logging.getLogger("cascadeflow_integrations")

#: what counts as the first output for time to first token: text or a tool call forming
_FIRST = (TextChunk, ToolCallStart)
#: hooks that need each attempt tracked and the call's end observed (budget, tracing)
_OBSERVING = ("on_start", "on_attempt_start", "on_attempt_streamed", "on_attempt_end", "on_close")


class StreamingMode(str, Enum):
    """How draft output reaches the consumer.

    - `optimistic`: draft chunks stream live; a SWITCH says how much to retract on escalation.
    - `buffered`: draft chunks are held until the draft is accepted, so nothing is ever retracted.
    - `guarded`: buffered, and validators watch the draft as it streams and abort it early.
    """

    OPTIMISTIC = "optimistic"
    BUFFERED = "buffered"
    GUARDED = "guarded"


@dataclass(slots=True)
class CallOptions:
    """Everything one call can set (validated by `CascadeAgent` before any network call)."""

    max_tokens: int | None
    temperature: float | None
    stop: list[str] | None
    tools: list[dict[str, Any]] | None
    tool_choice: str | dict[str, str] | None
    parallel_tool_calls: bool | None
    mode: StreamingMode
    validator: Validator
    threshold: float | None
    thresholds: Any
    complexity_hint: str | None
    force_direct: bool
    timeout: float | None
    draft_timeout: float | None
    #: yield draft events as they arrive even in buffered/guarded mode (adapters that buffer themselves)
    live_drafts: bool = False
    #: start the next model when a model-based check starts; cancel it if the check accepts the draft
    speculative: bool = False
    #: gates drafted calls to high-risk tools (`quality.ToolRiskCheck`); None: no gate
    tool_risk: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: max_tokens clamped to a model's max_output_tokens, by member label
    model_max_tokens: dict[str, int] = field(default_factory=dict)
    #: labels of members whose context_window the prompt cannot fit: left out of this call's chain
    skip_models: set[str] = field(default_factory=set)
    #: handed to every member's request as is (an adapter's members read their framework's context from it);
    #: the engine never looks into it
    run_context: Any = None
    #: this call's `hooks.RunHook`s (budget, tracing, the learner, an adapter's runs), made by the agent per call
    hooks: list[RunHook] = field(default_factory=list)
    #: the call's `Budget` (the agent's unless given per call) and its key or metadata (the agent's budget hook)
    budget: Any = None
    budget_key: Any = None
    #: record prompt and answer text on OpenTelemetry spans
    trace_content: bool = False


#: (messages, options) -> a `routing.RoutingDecision` for this call
RouteFn = Callable[[list[Message], CallOptions], Any]


class _ToolState(PartialCall):
    """A streamed tool call and what the engine shows of it: its parser, start and completion."""

    __slots__ = ("parser", "started", "call", "error")

    def __init__(self, index: int, parser: Any) -> None:
        super().__init__(index)
        self.parser = parser
        self.started = False
        self.call: ToolCall | None = None  # set when the call completes
        self.error: str | None = None


class _Aborted(Exception):
    """Raised inside a draft stream when guarded validation gives up on it."""


async def _until(stream: AsyncGenerator[Any, None], deadline: float, cfg: CascadeMember) -> AsyncGenerator[Any, None]:
    """`stream`'s deltas, each awaited within the call's deadline (`time.perf_counter()` time); closes `stream`."""
    async with aclosing(stream) as it:
        while True:
            try:
                d = await asyncio.wait_for(it.__anext__(), max(deadline - time.perf_counter(), 0))
            except StopAsyncIteration:
                return
            except asyncio.TimeoutError:
                raise ProviderTimeoutError("timed out (overall or draft timeout of the call)", provider=cfg.provider,
                                           model=cfg.label) from None
            yield d


_END = object()


class _Level:
    """One model's turn: its attempt record, the draft it fills, and (when started early) its pump."""

    __slots__ = ("level", "cfg", "attempt", "draft", "partial", "queue", "task")

    def __init__(self, level: int, cfg: CascadeMember, attempt: ModelAttempt, partial: PartialDraft | None) -> None:
        self.level = level
        self.cfg = cfg
        self.attempt = attempt
        self.draft = Draft(model=cfg.label)
        self.partial = partial
        self.queue: asyncio.Queue[Any] | None = None
        self.task: asyncio.Task[None] | None = None

    def pump(self, gen: AsyncGenerator[Event, None]) -> None:
        """Run `gen` in the background, keeping its events (and its end or error) for `events()`."""
        q: asyncio.Queue[Any] = asyncio.Queue()
        self.queue = q

        async def run() -> None:
            try:
                async with aclosing(gen) as it:
                    async for ev in it:
                        q.put_nowait(ev)
            except Exception as e:  # re-raised where the events are consumed
                q.put_nowait(e)
            else:
                q.put_nowait(_END)

        self.task = asyncio.ensure_future(run())

    async def events(self) -> AsyncIterator[Event]:
        assert self.queue is not None
        while True:
            item = await self.queue.get()
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    async def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with suppress(asyncio.CancelledError):
                await self.task


class CascadeRun:
    """One cascade call's state and event stream, over a chain of members (cheapest first).

    It receives everything it needs: the chain, the routing function and a factory of progressive
    JSON parsers (for tool-call arguments); it never reaches back into `CascadeAgent`.
    """

    def __init__(self, chain: Sequence[CascadeMember], route: RouteFn, messages: list[Message], opts: CallOptions,
                 json_parser: Callable[[], Any]) -> None:
        self.chain = list(chain)
        self.route = route
        self.json_parser = json_parser
        self._members = {m.label: m for m in self.chain}
        self.messages = messages
        self.opts = opts
        self.tool_mode = opts.tools is not None
        self.result = CascadeResult()
        self._t0 = 0.0
        self._deadline: float | None = None
        self._request: ChatRequest | None = None
        self._early: _Level | None = None
        self.hooks = list(opts.hooks)
        self._wraps = [h for h in self.hooks if overrides(h, "wrap")]
        self._closed_call = False
        self._capped = False  # a hook (the budget) allows the draft only: it is final whatever the validator says
        #: the members this call may use (those whose context window fits), set when routed
        self.available: list[CascadeMember] = []
        #: with hooks: each attempt not closed yet, with its member (by id of the attempt)
        self._open: dict[int, tuple[ModelAttempt, Any]] | None = None

    # ---- the run ---------------------------------------------------------------------------

    def events(self) -> AsyncIterator[Event]:
        """Yield ROUTING, then each model's events, then COMPLETE (or ERROR)."""
        if not any(overrides(h, name) for h in self.hooks for name in _OBSERVING):
            return self._run()  # the common case pays nothing for how the call ends
        self._open = {}
        return self._observed()

    async def _observed(self) -> AsyncGenerator[Event, None]:
        """`_run` with its hooks told how it ends, however it ends (error, cancel, break)."""
        for h in self.hooks:
            h.on_start(self)
        error: BaseException | None = None
        complete = False
        try:
            async with aclosing(self._run()) as run:
                async for ev in run:
                    tp = type(ev)
                    if tp is Complete or tp is Error:
                        # Settled and traced before the consumer sees the end: a caller that stops
                        # reading at COMPLETE finds its spend counted and its span exported.
                        if tp is Complete:
                            complete = True
                        else:
                            error = cast(Error, ev).error
                        await self._close_call(complete, error)
                    yield ev
        except GeneratorExit:  # the consumer stopped reading: not an error of the call
            raise
        except BaseException as e:
            error = e
            raise
        finally:
            await self._close_call(complete, error)

    def _opened(self, attempt: ModelAttempt, cfg: Any, phase: str, level: int) -> None:
        if self._open is not None:
            self._open[id(attempt)] = (attempt, cfg)
            for h in self.hooks:
                h.on_attempt_start(self, attempt, cfg, phase, level)

    def _closed(self, attempt: ModelAttempt) -> None:
        """The attempt's model call ended (its end time is taken now; its decision may follow)."""
        if self._open is not None and self._open.pop(id(attempt), None) is not None:
            for h in self.hooks:
                h.on_attempt_streamed(self, attempt)

    def _attempt_end(self, attempt: ModelAttempt, cfg: Any, draft: Draft, error: BaseException | None,
                     decision: Any = None) -> None:
        for h in self.hooks:
            h.on_attempt_end(self, attempt, cfg, draft, error, decision)

    async def _close_call(self, complete: bool, error: BaseException | None) -> None:
        for attempt, cfg in list((self._open or {}).values()):  # cancelled or broken off mid-stream
            self._close_attempt(attempt, cfg)
            self._attempt_end(attempt, cfg, Draft(model=cfg.label), error or asyncio.CancelledError())
        if self._open:
            self._open.clear()
        if not self._closed_call:
            self._closed_call = True
            for h in self.hooks:
                await h.on_close(self, complete, error)

    async def _ready(self) -> None:
        """The members' SDKs imported, off the loop: the first call of a process waits here, before any of its
        timeouts starts (start-up must not eat them; a budget waits for its store's client alike)."""
        for member in self.chain:
            ready = getattr(member, "ready", None)
            if ready is not None:
                await ready()

    async def _run(self) -> AsyncGenerator[Event, None]:
        opts = self.opts
        await self._ready()
        self._t0 = time.perf_counter()
        if opts.timeout:
            self._deadline = self._t0 + opts.timeout
        res = self.result
        routing = self.route(self.messages, opts)
        res.strategy, res.complexity = routing.strategy, routing.complexity
        policy = routing.features.get("policy") if routing.features else None
        extra: dict[str, Any] = {"policy": policy} if policy else {}
        members = self.available = [m for m in self.chain if m.label not in opts.skip_models]
        chain = members if routing.strategy == "cascade" else [members[-1]]
        refused: BaseException | None = None
        if self.hooks:
            plan = RoutePlan(chain)
            for h in self.hooks:
                await h.on_route(self, routing, chain, plan)
            chain, self._capped, refused = plan.chain, plan.final_draft, plan.refused
            extra.update(plan.extra)
        yield Routing(routing.strategy, routing.complexity, routing.reason, [m.label for m in self.chain],
                      opts.mode.value, tool_stream=self.tool_mode, **extra)
        logger.info("routing: %s (%s) %s", routing.strategy, routing.complexity, routing.reason)
        if refused is not None:
            yield Error(str(refused), refused, "", plan.refused_phase, "", "", tool_stream=self.tool_mode)
            return
        vreq = ValidationRequest(self.messages, opts.tools, routing.complexity, tool_choice=opts.tool_choice,
                                 max_tokens=opts.max_tokens, temperature=opts.temperature)
        threshold = opts.threshold if opts.threshold is not None else opts.thresholds.for_(routing.complexity)

        try:
            async for ev in self._levels(chain, routing, vreq, threshold):
                yield ev
        finally:
            vreq.drop_prefetched()
            if self._early is not None and self._early.task is not None:
                self._early.task.cancel()  # the consumer went away while the next model ran early

    def _begin(self, level: int, chain: list[CascadeMember], phase: str) -> _Level:
        cfg = chain[level]
        last = level == len(chain) - 1
        attempt = ModelAttempt(model=cfg.label, provider=cfg.provider, phase=phase)
        self.result.attempts.append(attempt)
        self._opened(attempt, cfg, phase, level)
        guard = not last and self.opts.mode is StreamingMode.GUARDED
        return _Level(level, cfg, attempt, PartialDraft() if guard else None)

    def _start_early(self, level: int, chain: list[CascadeMember], phase: str, vreq: ValidationRequest,
                     drafted_by: str) -> None:
        """Speculative escalation: start the next member now (called when a model check starts)."""
        if self._early is not None or level >= len(chain):
            return
        lv = self._early = self._begin(level, chain, phase)
        self.result.speculative_started = True
        logger.info("model check started: %s starts early", lv.cfg.label)
        escalation = {"cascade_escalated_from": drafted_by, "cascade_escalation_reason": "speculative"}
        lv.pump(self._stream_model(lv.cfg, level, phase, lv.attempt, lv.draft, vreq, lv.partial,
                                   level == len(chain) - 1, escalation))

    async def _levels(self, chain: list[CascadeMember], routing: Any, vreq: ValidationRequest,
                      threshold: float) -> AsyncIterator[Event]:
        opts, res = self.opts, self.result
        risk = opts.tool_risk if opts.tools else None
        escalation: dict[str, Any] = {}
        capped, hooks = self._capped, self.hooks
        for level, cfg in enumerate(chain):
            last = level == len(chain) - 1 and not capped
            index = self.chain.index(cfg)  # position in the configured chain (members may be skipped)
            phase = "direct" if routing.strategy == "direct" and not capped else ("verifier" if last else "draft")
            live = last or opts.mode is StreamingMode.OPTIMISTIC or opts.live_drafts
            early, self._early = self._early, None
            lv = early if early is not None and early.level == level else self._begin(level, chain, phase)
            attempt, draft, partial = lv.attempt, lv.draft, lv.partial
            held: list[Event] = []
            error: ProviderError | None = None
            aborted: str | None = None
            shown = [0, 0, 0]  # chars, chunks, tool calls the consumer saw from this model
            if not last:
                # Checks may call the draft's own member, and may start work with the draft (prefetch).
                vreq.draft_model = CheckModel(cfg)
                vreq.max_tokens = opts.model_max_tokens.get(cfg.label, opts.max_tokens)
                try:
                    opts.validator.start(vreq)
                except Exception as e:  # noqa: BLE001 - a prefetch must never fail the request
                    logger.warning("validator %s failed to start: %s", opts.validator.name, e)
            source = (lv.events() if lv.queue is not None else
                      self._stream_model(cfg, level, phase, attempt, draft, vreq, partial, last, escalation))
            try:
                async for ev in source:
                    if live:
                        tp = type(ev)
                        if res.ttft_ms is None and tp in _FIRST:
                            res.ttft_ms = (time.perf_counter() - self._t0) * 1000
                        yield ev
                        if tp is TextChunk:
                            shown[0] += len(ev.content)
                            shown[1] += 1
                        elif tp is ToolCallStart:
                            shown[2] += 1
                    else:
                        held.append(ev)
            except _Aborted as a:
                aborted = str(a)
                attempt.aborted = aborted
            except ProviderError as e:
                error = e
                attempt.error = str(e)
                logger.warning("model %s failed: %s", cfg.label, e)
            self._close_attempt(attempt, cfg)
            self._closed(attempt)
            draft_request = self._request  # before a next member started early replaces it

            if last or (error is not None and (capped or _fails_for_every_model(error, cfg, chain[level + 1:]))):
                if hooks:
                    self._attempt_end(attempt, cfg, draft, error)
                if error is not None:
                    yield Error(str(error), error, cfg.label, phase, cfg.provider, draft.text,
                                tool_stream=self.tool_mode)
                    return
                yield self._complete(draft, attempt, cfg, index, False, hooks)
                return

            # A draft: decide.
            gate = risk.run(vreq, draft) if risk is not None and draft.tool_calls else None
            if error is not None:
                decision = Decision(False, 0.0, 0.0, f"draft_error: {error}", threshold,
                                    [CheckResult("provider", False, 0.0, str(error))])
            elif aborted is not None:
                decision = Decision(False, 0.0, 0.0, f"aborted: {aborted}", threshold,
                                    [CheckResult("guarded", False, 0.0, aborted)])
                self._count_abort(attempt)
            elif gate is not None and not gate.passed:
                # Never taken from a draft model, whatever the validator says: no validation is paid for.
                decision = Decision(False, 0.0, 0.0, f"tool_risk failed: {gate.detail}", threshold, [gate])
            else:
                vreq.on_unsure = ((lambda: self._start_early(level + 1, chain, "verifier" if level + 2 == len(chain)
                                                             else "draft", vreq, cfg.label))
                                  if opts.speculative else None)
                if hooks:
                    with ExitStack() as around:  # e.g. model-based checks nest their spans under the call's span
                        for h in hooks:
                            around.enter_context(h.validating(self))
                        decision = await validate_safely(opts.validator, vreq, draft, threshold)
                else:
                    decision = await validate_safely(opts.validator, vreq, draft, threshold)
                vreq.on_unsure = None
                res.validator_cost += decision.cost
                res.validator_calls += decision.calls
            vreq.drop_prefetched()
            attempt.accepted = decision.accepted
            d = decision.to_dict()
            d.update(model=cfg.label, phase=phase, level=level, index=index, error=error)
            if hooks:
                self._attempt_end(attempt, cfg, draft, None, decision)
                for h in hooks:  # the budget may make a capped draft the answer; adapters end the draft's run
                    await h.on_decision(self, draft_request, d)
                attempt.accepted = d["accepted"]
            # the typed decision, with a hook's amendment (the budget's) on a copy
            res.decided.append(decision if d["accepted"] == decision.accepted and d["reason"] == decision.reason
                               else replace(decision, accepted=bool(d["accepted"]), reason=str(d["reason"])))
            res.decisions.append({k: v for k, v in d.items() if k != "error"})
            res.drafts.append(draft)
            logger.info("decision on %s: %s (%s, confidence %.2f)", cfg.label,
                        "accept" if decision.accepted else "escalate", decision.reason, decision.confidence)
            if d["accepted"] or capped:  # what the decision says once hooks amended it (the budget)
                if self._early is not None:
                    # The check accepted: the next model's tokens so far are paid and counted.
                    spec, self._early = self._early, None
                    await spec.cancel()
                    spec.attempt.aborted = "cancelled: the model check accepted the draft"
                    if spec.attempt.usage.total_tokens == 0:
                        # The prompt was sent, so count it even if no token came back yet (estimated).
                        spec.attempt.usage = Usage(self._known_input_tokens(), spec.attempt.chunks)
                        spec.attempt.usage_estimated = True
                    self._close_attempt(spec.attempt, spec.cfg)
                    self._closed(spec.attempt)
                    if hooks:
                        self._attempt_end(spec.attempt, spec.cfg, spec.draft, None)
                for ev in held:
                    if res.ttft_ms is None and type(ev) in _FIRST:
                        res.ttft_ms = (time.perf_counter() - self._t0) * 1000
                    yield ev
                yield DraftDecision(tool_stream=self.tool_mode, **d)
                yield self._complete(draft, attempt, cfg, index, True, hooks)
                return
            yield DraftDecision(tool_stream=self.tool_mode, **d)
            nxt = chain[level + 1]
            reason = ("draft_error" if error is not None else "aborted" if aborted else
                      "tool_risk" if gate is not None and not gate.passed else "quality_failed")
            yield Switch(f"Cascading to {nxt.label}", cfg.label, nxt.label, reason, decision.reason, error,
                         shown[0], shown[1], shown[2], tool_stream=self.tool_mode)
            logger.info("switch %s -> %s (%s)", cfg.label, nxt.label, reason)
            escalation = {"cascade_escalated_from": cfg.label, "cascade_escalation_reason": reason,
                          "cascade_escalation_detail": decision.reason}

    async def _stream_model(self, cfg: CascadeMember, level: int, phase: str, attempt: ModelAttempt, draft: Draft,
                            vreq: ValidationRequest, partial: PartialDraft | None,
                            last: bool, escalation: dict[str, Any]) -> AsyncGenerator[Event, None]:
        """One member's stream as events; fills `draft` and `attempt` as it goes."""
        opts = self.opts
        provider = cfg
        request = ChatRequest(
            messages=self.messages, max_tokens=opts.model_max_tokens.get(cfg.label, opts.max_tokens), temperature=opts.temperature,
            stop=opts.stop,
            tools=opts.tools, tool_choice=opts.tool_choice, parallel_tool_calls=opts.parallel_tool_calls,
            logprobs=(not last) and provider.supports_logprobs, extra=opts.extra, phase=phase,
            run_context=opts.run_context,
            metadata={"cascade_phase": phase, "cascade_level": level, "cascade_member": cfg.label, **escalation})
        self._request = request
        label, provider_name = cfg.label, cfg.provider
        tool_mode = self.tool_mode
        validator = opts.validator
        risk = opts.tool_risk if tool_mode and not last else None
        text_parts: list[str] = []
        logprobs: list[Any] = []
        parser = self.json_parser
        tools: ToolCallAccumulator[_ToolState] = ToolCallAccumulator(lambda i: _ToolState(i, parser()))
        open_tools: list[_ToolState] = []
        t_start = time.perf_counter()
        first = True
        deadline = self._deadline
        if not last and opts.draft_timeout:
            dl = t_start + opts.draft_timeout
            deadline = dl if deadline is None else min(deadline, dl)

        d: Any  # dispatched by exact type below (cheaper per chunk than isinstance chains)
        stream = provider.stream(request)
        for h in self._wraps:  # e.g. an adapter's child run around the member call
            stream = h.wrap(cfg, request, stream)
        if deadline is not None:
            stream = _until(cast(AsyncGenerator[Any, None], stream), deadline, cfg)
        try:
            async with aclosing(cast(AsyncGenerator[Any, None], stream)) as it:
                async for d in it:  # without a deadline, the plain loop: no step of ours between the deltas
                    tp = type(d)
                    if tp is TextDelta:
                        if first:
                            attempt.ttft_ms = (time.perf_counter() - t_start) * 1000
                            first = False
                        if open_tools:
                            for ev in self._complete_tools(open_tools, cfg.label):
                                yield ev
                        text = d.text
                        text_parts.append(text)
                        attempt.chunks += 1
                        if d.logprobs:
                            logprobs.extend(d.logprobs)
                        if tool_mode:
                            yield TextChunk(text, label, phase, provider_name, tool_stream=True)
                        else:  # a keyword argument costs a little per token: the common case passes none
                            yield TextChunk(text, label, phase, provider_name)
                        if partial is not None:
                            partial.text_parts.append(text)
                            partial.text_len += len(text)
                            partial.chunks += 1
                            if d.logprobs:
                                partial.logprobs.extend(d.logprobs)
                            why = check_partial_safely(validator, vreq, partial)
                            if why:
                                raise _Aborted(why)
                    elif tp is ToolCallDelta:
                        if first:
                            attempt.ttft_ms = (time.perf_counter() - t_start) * 1000
                            first = False
                        attempt.chunks += 1
                        st = tools.get(d.index)
                        if st is None:
                            if open_tools:  # calls stream one after another: a new index ends the previous
                                for ev in self._complete_tools(open_tools, cfg.label):
                                    yield ev
                            st = tools.open(d.index)
                            open_tools.append(st)
                        # PartialCall.merge, inline: the hot path gains no call, and the risk gate below
                        # sees the name before this fragment's arguments are kept
                        if d.id:
                            st.id = d.id
                        if d.name:
                            st.name = d.name
                        if not st.started and st.name:
                            st.started = True
                            if partial is not None and risk is not None and (why := risk.risk_of(vreq, st.name)):
                                raise _Aborted(f"tool_risk: drafted call to high-risk tool {st.name!r} ({why})")
                            yield ToolCallStart(st.index, st.id, st.name, label, phase, tool_stream=True)
                        if d.arguments:
                            st.parts.append(d.arguments)
                            if st.error is None:
                                try:
                                    st.parser.feed(d.arguments)
                                except ValueError as e:
                                    st.error = str(e)
                            yield ToolCallDeltaEvent(d.arguments, st.index, st.id, st.name,
                                                     None if st.error else st.parser.value, label, phase,
                                                     tool_stream=True)
                            if partial is not None and st.error is None:
                                partial.tool_names[st.index] = st.name
                                partial.tool_arguments[st.index] = st.parser.value
                                partial.chunks += 1
                                why = check_partial_safely(validator, vreq, partial)
                                if why:
                                    raise _Aborted(why)
                    elif tp is UsageDelta:
                        attempt.usage = d.usage
                    elif tp is FinishDelta:
                        attempt.finish_reason = d.reason
                    elif tp is ModelDelta:
                        attempt.reported_model = d.model
                if open_tools:
                    for ev in self._complete_tools(open_tools, cfg.label):
                        yield ev
        finally:
            # Filled even when the stream fails or is aborted: the ERROR event carries what was shown.
            attempt.latency_ms = (time.perf_counter() - t_start) * 1000
            draft.text = "".join(text_parts)
            draft.tool_calls = [s.call or s.to_call() for s in tools.ordered()]
            draft.finish_reason = attempt.finish_reason
            draft.logprobs = logprobs or None
            draft.usage = attempt.usage

    def _complete_tools(self, open_tools: list[_ToolState], model: str) -> list[Event]:
        out: list[Event] = []
        for st in open_tools:
            call = st.call = st.to_call()
            tool_call = call.to_dict()
            # The event gets the parser's final tree (never changed again; it shares closed parts
            # with the last TOOL_CALL_DELTA), not `call.arguments`, which the result hands out.
            tool_call["arguments"] = self._final_arguments(st, call)
            out.append(ToolCallComplete(st.index, tool_call, call.parse_error is None, call.parse_error, model,
                                        tool_stream=True))
        open_tools.clear()
        return out

    @staticmethod
    def _final_arguments(st: _ToolState, call: ToolCall) -> dict[str, Any]:
        if call.parse_error is None and st.error is None:
            try:
                final = st.parser.finish()
            except ValueError:  # e.g. blank arguments, which ToolCall reads as {}
                final = None
            if type(final) is dict:
                return final
        return copy.deepcopy(call.arguments)

    # ---- accounting ------------------------------------------------------------------------

    def _close_attempt(self, attempt: ModelAttempt, cfg: CascadeMember) -> None:
        u = attempt.usage
        if u.total_tokens == 0 and attempt.chunks:
            # The stream closed before the provider reported usage (abort, error): estimate
            # output tokens as chunks (about one token each) and input from a sibling call.
            attempt.usage = Usage(self._known_input_tokens(), attempt.chunks)
            attempt.usage_estimated = True
        elif u.output_tokens and not u.input_tokens:
            # Output counted but no prompt tokens (a stream that reports partial usage): the prompt was
            # sent and billed, so estimate it rather than price it at $0.
            attempt.usage = Usage(self._known_input_tokens(), u.output_tokens, 0, 0, u.reasoning_tokens)
            attempt.usage_estimated = True
        attempt.cost = cfg.price(attempt.usage)
        estimate = getattr(cfg, "cost_is_estimate", None)
        attempt.cost_estimated = bool(estimate is not None and estimate(attempt.usage))

    def _known_input_tokens(self) -> int:
        known = next((a.usage.input_tokens for a in self.result.attempts
                      if a.usage.input_tokens and not a.usage_estimated), 0)
        return known or estimate_prompt_tokens(self.messages, self.opts.tools)

    def _count_abort(self, attempt: ModelAttempt) -> None:
        # Estimated: what the draft would still have produced had it run to its token limit.
        if self.opts.max_tokens:
            saved = max(self.opts.max_tokens - attempt.chunks, 0)
            self.result.tokens_saved_by_abort += saved
            if attempt.chunks:
                self.result.time_saved_by_abort_ms += saved * attempt.latency_ms / attempt.chunks

    def _complete(self, draft: Draft, attempt: ModelAttempt, cfg: CascadeMember, index: int, accepted: bool,
                  hooks: Sequence[RunHook]) -> Complete:
        """The result filled in from the answer `draft` of chain member `index`, told to the hooks: the `Complete`."""
        res = self.result
        res.accepted_index = index
        res.content = draft.text
        res.tool_calls = draft.tool_calls
        res.model_used = cfg.label
        res.provider_used = cfg.provider
        res.finish_reason = attempt.finish_reason
        res.draft_accepted = accepted and res.strategy == "cascade" and attempt is res.attempts[0]
        for a in res.attempts:  # aborted/failed drafts may have been estimated before a sibling reported input
            if a.usage_estimated:
                known = self._known_input_tokens()
                if known != a.usage.input_tokens:
                    a.usage = Usage(known, a.usage.output_tokens, 0, 0, a.usage.reasoning_tokens)
                    a.cost = self._members[a.model].price(a.usage)
        res.cost_estimated = any(a.cost_estimated or a.usage_estimated for a in res.attempts)
        res.usage = sum((a.usage for a in res.attempts), Usage())
        costs = [a.cost for a in res.attempts]
        # An unknown price makes the total unknown: None, never a silent $0.
        res.total_cost = None if None in costs else sum(c for c in costs if c is not None) + res.validator_cost
        strongest = self.chain[-1]
        measured = next((a for a in res.attempts
                         if a.model == strongest.label and a.error is None and a.aborted is None), None)
        if measured is not None:
            res.baseline_cost = measured.cost
        else:
            # Estimated: the final answer's tokens at the strongest model's prices (tokenizers differ), with
            # the same cache reads and writes (serving all traffic, its cache would be as warm), billed at
            # its own cache prices; none for a member whose provider caches nothing (Anthropic unmarked).
            u = attempt.usage
            caches = getattr(strongest, "prompt_caching", True)
            res.baseline_cost = strongest.price(Usage(u.input_tokens, u.output_tokens,
                                                      u.cached_tokens if caches else 0,
                                                      u.cache_write_tokens if caches else 0, u.reasoning_tokens))
        res.cost_saved = (None if res.baseline_cost is None or res.total_cost is None
                          else res.baseline_cost - res.total_cost)
        res.latency_ms = (time.perf_counter() - self._t0) * 1000
        logger.info("complete: %s, cost %s, saved ~%s, %.0f ms", res.model_used, _usd(res.total_cost),
                    _usd(res.cost_saved), res.latency_ms)
        for h in hooks:
            h.on_complete(self, res)
        return Complete(res, tool_stream=self.tool_mode)


def _usd(v: float | None) -> str:
    return "unknown" if v is None else f"${v:.6f}"


#: Words of a 400 that depend on the model (its name, limits or supported parameters): another model may accept it.
_MODEL_SPECIFIC = ("model", "context", "maximum", "too long", "too large", "at most", "unsupported", "not supported",
                   "does not support")


def _fails_for_every_model(error: ProviderError, cfg: CascadeMember, rest: list[CascadeMember]) -> bool:
    """A draft's 400 that the rest of the chain would get too: fail fast instead of paying for every refusal.

    Only a 400/422 about the request itself, when every later model is behind the same provider endpoint;
    a 400 naming the model, its limits or a parameter it does not support still escalates.
    """
    if not isinstance(error, BadRequestError) or error.status_code not in (400, 422):
        return False
    endpoint = getattr(cfg, "endpoint", None)  # (SDK, base URL) of SDK members; others are never assumed equal
    if endpoint is None or any(getattr(m, "endpoint", None) != endpoint for m in rest):
        return False
    text = f"{error.error_type or ''} {error.message}".lower()
    return not any(w in text for w in _MODEL_SPECIFIC)
