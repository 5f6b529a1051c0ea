"""`ChatCascade`: a LangChain chat model that drafts with a cheap model and escalates when needed.

Message chunks only ever carry output the cascade kept: draft chunks are held until the draft is
accepted (released then) or rejected (dropped). The live draft is visible through the
`cascade_draft_chunk` custom event instead. See `events.py` for how events reach handlers.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterator, Sequence
from contextlib import aclosing, asynccontextmanager
from typing import Any, cast
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackManager, CallbackManager
from langchain_core.callbacks.manager import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.language_models.chat_models import agenerate_from_stream, generate_from_stream
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ensure_config
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.utils import LC_ID_PREFIX
from langchain_core.utils.uuid import uuid7
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator
from typing_extensions import Self

from ..errors import ConfigError, config_error
from .._checks import check_field
from .._sync import iter_sync
from ..cascade.agent import CascadeAgent
from ..models.config import ModelConfig
from ..models.members import BaseMember, Member
from ..result import CascadeResult
from ..cascade.streaming import Complete, DraftDecision, Error, Routing, Switch, TextChunk, ToolCallDelta, ToolCallStart
from ..cascade.spec import BUILD_ONLY, BY_NAME, OPTIONS, PER_CALL, CascadeOptions, CascadeSpec, refuse_unknown
from .events import COMPLETE, DECISION, DRAFT_CHUNK, ERROR, ROUTING, SWITCH, EventSink, current_sink, jsonable
from .members import LangChainMember  # noqa: F401  (importing it registers chat models as members)
from .messages import to_engine_messages, to_engine_tool_choice
from .runs import LangChainRunContext

__all__ = ["ChatCascade"]

#: What the engine stream becomes: message chunks, or (event name, data) to dispatch.
_Item = ChatGenerationChunk | tuple[str, dict[str, Any]]

_TOOL_EVENTS = (ToolCallStart, ToolCallDelta)



class ChatCascade(BaseChatModel, CascadeOptions):
    """Cascade chat model: tries the cheapest model first, escalates to stronger ones on low quality.

    Build it from `models=[...]` (cheapest first: LangChain chat models, `ModelConfig`s, `Member(...)`s, or a
    mix) or an existing
    `agent=CascadeAgent(...)`. Every cascade field can also be set per call, via `.bind(...)` or
    keyword arguments to `invoke`/`stream`; `model="name"` per call skips the cascade and asks
    that one model.

    Example:
        ```python
        from cascadeflow_integrations import ModelConfig
        from cascadeflow_integrations.langchain import ChatCascade

        llm = ChatCascade(models=[ModelConfig(name="gpt-4o-mini", cost=0.00015),
                                  ModelConfig(name="gpt-4o", cost=0.0025)])
        msg = llm.invoke("What is the capital of France?")
        msg.response_metadata["cascade"]["draft_accepted"]
        ```
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    # The cascade options (temperature, validator, policy, draft_timeout, ...) are inherited from
    # `spec.CascadeOptions`, with their types, defaults and rules; only LangChain's own fields are declared
    # here, plus LangChain's alias for `stop` and the adapters' streaming default (drafts are never retracted).
    stop: list[str] | None = Field(default=None, alias="stop_sequences", description=BY_NAME["stop"].doc)
    streaming_mode: str = Field(default=BY_NAME["streaming_mode"].adapter_default,
                                description=BY_NAME["streaming_mode"].doc)
    models: list[Any] | None = None
    """Members cheapest first (ignored when `agent` is given): LangChain chat models, `ModelConfig`s,
    `Member(model, input_cost=..., output_cost=..., label=...)`, or a mix."""
    agent: CascadeAgent | None = Field(default=None, exclude=True)
    """A ready `CascadeAgent` to run instead of building one from `models`."""
    model_name: str | None = Field(default=None, alias="model")
    """Display name for tracing; defaults to the model chain, e.g. `gpt-4o-mini>gpt-4o`."""
    max_retries: int | None = None
    """SDK retries per model request; overrides each `ModelConfig.max_retries` when set."""
    streaming: bool = False
    api_key: SecretStr | None = None
    """Key for models whose `ModelConfig` has none (single-provider cascades)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra request parameters sent to every model (e.g. `{"top_p": 0.9}`)."""

    _agent: CascadeAgent = PrivateAttr()
    #: the options as validated (`spec.CascadeSpec`), with the adapters' defaults
    _spec: CascadeSpec = PrivateAttr()
    #: the options sent with every call (only when built from agent=: the agent holds them otherwise)
    _per_call: dict[str, Any] = PrivateAttr(default_factory=dict)
    _overrides: dict[str, CascadeAgent] = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, **kwargs: Any) -> None:
        # pydantic wraps an option's ConfigError in its ValidationError: every face raises the ConfigError itself
        try:
            super().__init__(**kwargs)
        except ValidationError as e:
            raise config_error(e, "ChatCascade") from e

    @model_validator(mode="before")
    @classmethod
    def _known(cls, data: Any) -> Any:
        # LangChain's base ignores unknown keywords: a typo (shadow_ratee=) would be silently dropped
        if isinstance(data, dict):
            names = set(cls.model_fields) | {f.alias for f in cls.model_fields.values() if f.alias}
            refuse_unknown(data, names, "ChatCascade")
        return data

    @field_validator("streaming_mode", mode="after")
    @classmethod
    def _mode(cls, v: Any) -> Any:
        return _check_mode(v)

    # "before": the same rules as a per-call option (no coercion of "0.5" or True), at construction
    @field_validator("max_retries", "streaming", mode="before")
    @classmethod
    def _option(cls, v: Any, info: Any) -> Any:
        return check_field(info.field_name, v)

    @model_validator(mode="after")
    def _build_cascade(self) -> Self:
        options = {o.name: getattr(self, o.name) for o in OPTIONS}
        self._spec = spec = CascadeSpec.checked(options)  # each field passed its rule at validation
        if self.agent is not None:
            built = spec.changed(BUILD_ONLY, face="adapter")
            if built:
                raise ConfigError(f"{', '.join(sorted(built))} go on the CascadeAgent when ChatCascade is built from "
                                 f"agent=: CascadeAgent(models, {min(built)}=...)")
            self._agent = self.agent
            # the adapter's options apply to every call on top of the agent's (its streaming mode always)
            self._per_call = {**spec.changed(PER_CALL, face="adapter"), "streaming_mode": spec.streaming_mode}
        elif self.models:
            self._agent = CascadeAgent([self._configure(m) for m in self.models], **spec.changed(face="agent"))
        else:
            raise ConfigError("ChatCascade needs models=[...] (chat models or ModelConfigs, cheapest first) "
                             "or agent=CascadeAgent(...)")
        return self

    def _configure(self, cfg: Any) -> Any:
        if isinstance(cfg, Member) and isinstance(cfg.model, ModelConfig):
            return dataclasses.replace(cfg, model=self._configure(cfg.model))
        if not isinstance(cfg, ModelConfig):
            return cfg  # a chat model keeps its own key and retries
        update: dict[str, Any] = {}
        if self.api_key is not None and cfg.api_key is None:
            update["api_key"] = self.api_key
        if self.max_retries is not None:
            update["max_retries"] = self.max_retries
        return cfg.model_copy(update=update) if update else cfg

    # ---- identity ----------------------------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "cascadeflow"

    @property
    def cascade_agent(self) -> CascadeAgent:
        """The engine this model runs."""
        return self._agent

    def feedback(self, request_id: str, correct: bool | None = None, *, score: float | None = None) -> bool:
        """Label a call: the id is `response_metadata["cascade"]["request_id"]` (see `CascadeAgent.feedback`)."""
        return self._agent.feedback(request_id, correct, score=score)

    @property
    def chain_name(self) -> str:
        """`model_name`, or the model chain like `gpt-4o-mini>gpt-4o`."""
        return self.model_name or ">".join(m.label for m in self._agent.members)

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.chain_name,
            "models": [m.label for m in self._agent.members],
            "streaming_mode": self._spec.streaming_mode,
            "quality_threshold": self._spec.quality_threshold,
            "temperature": self._spec.temperature,
            "max_tokens": self._spec.max_tokens,
            "complexity_hint": self._spec.complexity_hint,
            "force_direct": self._spec.force_direct,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        # "cascadeflow", not the strong model's provider: the answering model varies per call and
        # the cascade reports its own cost, so tracing must not price it as one provider's model.
        params = LangSmithParams(ls_provider="cascadeflow", ls_model_name=kwargs.get("model") or self.chain_name,
                                 ls_model_type="chat")
        temperature = kwargs.get("temperature", self._spec.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self._spec.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        if ls_stop := stop or kwargs.get("stop") or self._spec.stop:
            params["ls_stop"] = ls_stop
        return params

    # ---- tools -------------------------------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (LangChain tools, pydantic models, functions, dicts) for every model in the cascade.

        `tool_choice`: "auto", "none", "any"/"required"/True (must call a tool), or a tool name.
        """
        formatted = [_with_risk(convert_to_openai_tool(t), t) for t in tools]
        choice = to_engine_tool_choice(tool_choice)
        if isinstance(choice, dict):
            names = {t["function"]["name"] for t in formatted}
            if choice["function"]["name"] not in names:
                raise ConfigError(f"tool_choice {choice['function']['name']!r} is not one of the bound tools {sorted(names)}")
        if choice is not None:
            kwargs["tool_choice"] = choice
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    # ---- run-id pinning so custom events reach handlers in every path ------------------------

    def _generate_with_cache(self, messages: list[BaseMessage], stop: list[str] | None = None,
                             run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        token = current_sink.set(EventSink.from_run_manager(run_manager) if run_manager else None)
        try:
            return super()._generate_with_cache(messages, stop=stop, run_manager=run_manager, **kwargs)
        finally:
            current_sink.reset(token)

    async def _agenerate_with_cache(self, messages: list[BaseMessage], stop: list[str] | None = None,
                                    run_manager: AsyncCallbackManagerForLLMRun | None = None,
                                    **kwargs: Any) -> ChatResult:
        token = current_sink.set(EventSink.from_run_manager(run_manager) if run_manager else None)
        try:
            return await super()._agenerate_with_cache(messages, stop=stop, run_manager=run_manager, **kwargs)
        finally:
            current_sink.reset(token)

    def stream(self, input: LanguageModelInput, config: RunnableConfig | None = None, *,
               stop: list[str] | None = None, **kwargs: Any) -> Iterator[AIMessageChunk]:
        # The base opens the run itself and gives `_stream` no run manager: pin the run id
        # and build a manager with the same handlers, visible to `_stream` as it starts.
        config, run_id = _pin_run_id(config)
        manager = CallbackManager.configure(config.get("callbacks"), self.callbacks, self.verbose,
                                            config.get("tags"), self.tags, config.get("metadata"), self.metadata)
        it = cast(Generator[AIMessageChunk, None, None], super().stream(input, config, stop=stop, **kwargs))
        try:
            token = current_sink.set(EventSink(manager, run_id))
            try:
                first = next(it)  # `_stream` reads the sink during this first step
            except StopIteration:
                return
            finally:
                current_sink.reset(token)
            yield first
            yield from it
        finally:
            it.close()

    def astream(self, input: LanguageModelInput, config: RunnableConfig | None = None, *,
                stop: list[str] | None = None, **kwargs: Any) -> AsyncIterator[AIMessageChunk]:
        # As in `stream`, but no generator of ours between the caller and the base's: the sink is set for
        # the first step only (`_astream` reads it as it starts), later steps go straight to the base.
        config, run_id = _pin_run_id(config)
        manager = AsyncCallbackManager.configure(config.get("callbacks"), self.callbacks, self.verbose,
                                                 config.get("tags"), self.tags, config.get("metadata"),
                                                 self.metadata)
        it = cast(AsyncGenerator[AIMessageChunk, None], super().astream(input, config, stop=stop, **kwargs))
        return _SinkOnFirstStep(it, EventSink(manager, run_id))

    # ---- LangChain hooks -----------------------------------------------------------------------

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        sink = EventSink.from_run_manager(run_manager) if run_manager else current_sink.get()
        kwargs = self._budget_kwargs(kwargs, run_manager or (sink.manager if sink else None))
        return await agenerate_from_stream(self._achunks(messages, stop, sink, kwargs))

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        sink = EventSink.from_run_manager(run_manager) if run_manager else current_sink.get()
        kwargs = self._budget_kwargs(kwargs, run_manager or (sink.manager if sink else None))
        return generate_from_stream(self._chunks(messages, stop, sink, kwargs))

    def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                 run_manager: AsyncCallbackManagerForLLMRun | None = None,
                 **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        # Not a generator itself: the base iterates `_items` directly (each hop costs every chunk).
        sink = EventSink.from_run_manager(run_manager) if run_manager else current_sink.get()
        kwargs = self._budget_kwargs(kwargs, run_manager or (sink.manager if sink else None))
        if run_manager is None:
            # `BaseChatModel.astream` (the sink is its run's): each chunk carries the message id it would set
            message_id = f"{LC_ID_PREFIX}-{sink.run_id}" if sink is not None else None
            return self._achunks(messages, stop, sink, kwargs, message_id)
        # only the v3 protocol path passes a run manager; the base reports tokens otherwise
        return _reporting(self._achunks(messages, stop, sink, kwargs), run_manager)

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        sink = EventSink.from_run_manager(run_manager) if run_manager else current_sink.get()
        kwargs = self._budget_kwargs(kwargs, run_manager or (sink.manager if sink else None))
        for chunk in self._chunks(messages, stop, sink, kwargs):
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    # ---- the cascade as chunks + events --------------------------------------------------------

    def _achunks(self, messages: list[BaseMessage], stop: list[str] | None, sink: EventSink | None,
                 kwargs: dict[str, Any], message_id: str | None = None) -> AsyncIterator[ChatGenerationChunk]:
        # `_items` dispatches the events itself: the chunks need no generator of their own
        items = self._items(messages, stop, kwargs, sink, aemit=sink.aemit if sink is not None else _no_event,
                            message_id=message_id)
        return cast(AsyncIterator[ChatGenerationChunk], items)

    def _chunks(self, messages: list[BaseMessage], stop: list[str] | None, sink: EventSink | None,
                kwargs: dict[str, Any]) -> Iterator[ChatGenerationChunk]:
        # The engine runs on the private sync loop; events are dispatched here, in the caller's thread.
        for item in iter_sync(self._items(messages, stop, kwargs, sink)):
            if isinstance(item, tuple):
                if sink is not None:
                    sink.emit(*item)
            else:
                yield item

    async def _items(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any],
                     sink: EventSink | None = None,
                     aemit: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None,
                     message_id: str | None = None) -> AsyncGenerator[_Item, None]:
        """Chunks, and events as (name, data); with `aemit`, events are awaited through it and only chunks
        come out (async callers), else the caller dispatches them (sync callers, in their own thread).
        `message_id`: the id text chunks' messages carry (the one `BaseChatModel.astream` would give them)."""
        agent, options = self._call_options(stop, kwargs)
        # Member calls become child runs of this run; LangChain members get the messages as given.
        runs = LangChainRunContext(sink.manager if sink else None, sink.run_id if sink else None, list(messages))
        options["run_context"] = runs
        options["hooks"] = [runs]
        events = agent.stream_events(to_engine_messages(messages), **options)
        held: list[ChatGenerationChunk] = []  # draft chunks, released only if the draft is accepted
        routing_reason = ""
        # Event payloads only when a handler can receive them: per-token draft events are most of the
        # per-chunk work, and the others' JSON copies a good part of a call's fixed cost.
        listening = sink is not None and bool(sink.manager.handlers)
        text_chunk = _text_chunk
        async with _flushing(runs), aclosing(cast(AsyncGenerator[Any, None], events)) as stream:
            async for ev in stream:
                tp = type(ev)
                if tp is TextChunk:
                    # once per token: its chunk is built here, without `_content_chunk`'s checks
                    if ev.phase == "draft":
                        if listening:
                            if aemit is not None:
                                await aemit(DRAFT_CHUNK, _draft_data(ev))
                            else:
                                yield DRAFT_CHUNK, _draft_data(ev)
                        if ev.content:
                            held.append(text_chunk(ev.content, message_id))
                    elif ev.content:
                        yield text_chunk(ev.content, message_id)
                elif tp in _TOOL_EVENTS:
                    chunk = _content_chunk(ev, message_id)
                    if ev.phase == "draft":
                        if listening:
                            if aemit is not None:
                                await aemit(DRAFT_CHUNK, _draft_data(ev))
                            else:
                                yield DRAFT_CHUNK, _draft_data(ev)
                        held.append(chunk)
                    else:
                        yield chunk
                elif isinstance(ev, Routing):
                    routing_reason = ev.reason or ""
                    if listening and aemit is not None:
                        await aemit(ROUTING, jsonable(ev.data))
                    elif listening:
                        yield ROUTING, jsonable(ev.data)
                elif isinstance(ev, DraftDecision):
                    if listening and aemit is not None:
                        await aemit(DECISION, jsonable(ev.data))
                    elif listening:
                        yield DECISION, jsonable(ev.data)
                    if ev.accepted:
                        for chunk in held:
                            yield chunk
                        held.clear()
                elif isinstance(ev, Switch):
                    held.clear()
                    if listening and aemit is not None:
                        await aemit(SWITCH, jsonable(ev.data))
                    elif listening:
                        yield SWITCH, jsonable(ev.data)
                elif isinstance(ev, Complete):
                    result: CascadeResult = ev.result
                    if listening and aemit is not None:
                        await aemit(COMPLETE, jsonable(result.to_dict()))
                    elif listening:
                        yield COMPLETE, jsonable(result.to_dict())
                    yield _final_chunk(result, routing_reason)
                elif isinstance(ev, Error):
                    err = ev.error
                    data = {**jsonable({k: v for k, v in ev.data.items() if k != "error"}),
                            "error": str(err), "error_type": type(err).__name__}
                    if aemit is not None:
                        await aemit(ERROR, data)
                    else:
                        yield ERROR, data
                    if isinstance(err, BaseException):
                        raise err
                    raise RuntimeError(str(err))
                # ToolCallComplete: the chunks already carried the whole call

    def _budget_kwargs(self, kwargs: dict[str, Any], manager: Any) -> dict[str, Any]:
        """The budget key from the run's config metadata (its callback manager's) when the call gave none."""
        if self._agent.budget is None or "budget_key" in kwargs or manager is None:
            return kwargs
        meta = getattr(manager, "metadata", None) or {}
        key = meta.get("budget_key")
        if key is None and isinstance(self._agent.budget.per, str) and self._agent.budget.per in meta:
            key = {self._agent.budget.per: meta[self._agent.budget.per]}
        elif key is None and callable(self._agent.budget.per):
            key = dict(meta)
        return {**kwargs, "budget_key": key} if key is not None else kwargs

    def _call_options(self, stop: list[str] | None, kwargs: dict[str, Any]) -> tuple[CascadeAgent, dict[str, Any]]:
        kw = dict(kwargs)
        kw.pop("stream", None)  # LangChain's own streaming flag, not a request parameter
        agent = self._agent_for(kw.pop("model", None) or kw.pop("model_name", None))
        tools = kw.pop("tools", None) or None
        tool_choice = kw.pop("tool_choice", None)
        if stop is not None:
            kw["stop"] = stop
        if kw.get("streaming_mode") is not None:
            kw["streaming_mode"] = _check_mode(kw["streaming_mode"])
        # the options this model was built with are the agent's; a call sends only what it sets (every one
        # reaches the engine: unknown keywords there are provider parameters, build-only ones an error)
        options: dict[str, Any] = {**self._per_call, "live_drafts": True}  # this adapter buffers drafts itself
        for name in PER_CALL:
            if kw.get(name) is not None:
                options[name] = kw.pop(name)
            else:
                kw.pop(name, None)
        if kw.get("parallel_tool_calls") is not None:
            options["parallel_tool_calls"] = kw.pop("parallel_tool_calls")
        if tools is not None:
            options["tools"] = tools
            options["tool_choice"] = to_engine_tool_choice(tool_choice)
        options.update(self.model_kwargs)
        options.update(kw)  # anything else is a provider request parameter (top_p, seed, ...)
        return agent, options

    def _agent_for(self, model: str | None) -> CascadeAgent:
        """The cascade, or for a per-call `model=` override a one-model agent for that model."""
        if not model or model == self.chain_name:
            return self._agent
        with self._lock:
            agent = self._overrides.get(model)
            if agent is None:
                members = self._agent.members
                known = next((m for m in members if m.label == model), None) or next(
                    (m for m in members if m.name == model), None)
                other = members[-1].with_model(model) if isinstance(members[-1], BaseMember) else None
                # the one model runs with the cascade's call options (its temperature, timeouts, mode, ...)
                carry = {k: v for k, v in self._agent.spec.changed(PER_CALL).items() if k != "budget"}
                carry["streaming_mode"] = self._spec.streaming_mode
                if known is not None:
                    agent = CascadeAgent([known], budget=self._agent.budget, **carry)
                elif other is not None:
                    agent = CascadeAgent([other], budget=self._agent.budget, **carry)
                else:
                    raise ConfigError(f"model={model!r} is not a member of this cascade "
                                     f"({', '.join(m.label for m in members)}): name one of them")
                self._overrides[model] = agent
            return agent

    async def aclose(self) -> None:
        """Close the SDK clients of the running event loop."""
        await self._agent.aclose()
        for agent in list(self._overrides.values()):
            await agent.aclose()


# ---- helpers ---------------------------------------------------------------------------------


@asynccontextmanager
async def _flushing(runs: LangChainRunContext) -> AsyncIterator[None]:
    """End member runs still waiting for a decision when the call stops early."""
    try:
        yield
    finally:
        await runs.flush()


def _check_mode(mode: Any) -> str:
    mode = getattr(mode, "value", mode)
    if mode == "optimistic":
        raise ConfigError("streaming_mode 'optimistic' would put drafts that may be discarded into message chunks: "
                         "use 'buffered' or 'guarded' (the live draft arrives as cascade_draft_chunk events)")
    if mode not in ("buffered", "guarded"):
        raise ConfigError(f"streaming_mode {mode!r} is not one of 'buffered', 'guarded'")
    return str(mode)


def _pin_run_id(config: RunnableConfig | None) -> tuple[RunnableConfig, UUID]:
    config = ensure_config(config)
    run_id = config.get("run_id") or uuid7()
    return cast(RunnableConfig, {**config, "run_id": run_id}), run_id


class _SinkOnFirstStep(AsyncIterator[AIMessageChunk]):
    """`BaseChatModel.astream`'s generator with `current_sink` set during its first step only.

    `__anext__` hands back the generator's own awaitable after that: no coroutine of ours per chunk.
    """

    __slots__ = ("_it", "_sink")

    def __init__(self, it: AsyncGenerator[AIMessageChunk, None], sink: EventSink) -> None:
        self._it = it
        self._sink: EventSink | None = sink

    def __aiter__(self) -> _SinkOnFirstStep:
        return self

    def __anext__(self) -> Awaitable[AIMessageChunk]:
        if self._sink is None:
            return self._it.__anext__()
        return self._first()

    async def _first(self) -> AIMessageChunk:
        sink, self._sink = self._sink, None
        token = current_sink.set(sink)
        try:
            return await self._it.__anext__()
        finally:
            current_sink.reset(token)

    async def aclose(self) -> None:
        self._sink = None
        await self._it.aclose()


async def _reporting(chunks: AsyncIterator[ChatGenerationChunk],
                     run_manager: AsyncCallbackManagerForLLMRun) -> AsyncIterator[ChatGenerationChunk]:
    async with aclosing(cast(AsyncGenerator[ChatGenerationChunk, None], chunks)) as it:
        async for chunk in it:
            await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk


async def _no_event(name: str, data: dict[str, Any]) -> None:
    """No handler to deliver to (a call without a run)."""


def _validated_text_chunk(text: str, message_id: str | None = None) -> ChatGenerationChunk:
    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
    if message_id is not None:
        chunk.message.id = message_id  # as `BaseChatModel.astream` sets it
    return chunk


def _slot_setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """The data descriptor's `__set__` that `object.__setattr__(obj, name, v)` finds for instances of `cls`.

    Called directly it does the same store without the attribute lookup through the models' long MRO
    (about 140 ns a call, against 50)."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            setter = getattr(klass.__dict__[name], "__set__", None)  # bound to the descriptor
            if setter is None:
                break
            return cast(Callable[[Any, Any], None], setter)
    raise AttributeError(f"{cls.__name__}.{name} is not a slot")


# A text token's chunk built from a validated empty one: the same fields, defaults and fields-set as
# `ChatGenerationChunk(message=AIMessageChunk(content=text))` (for text content langchain-core's validators
# only fill defaults and copy `text`), without two pydantic validations per token (4 of its 6 µs). With
# `message_id`, the message id `BaseChatModel.astream` would set next (saving its pydantic `__setattr__`).
# Every mutable default is fresh per chunk. Checked against the validated construction at import;
# any difference (another langchain-core) falls back to it.
_MSG0 = AIMessageChunk(content="")
_GEN0 = ChatGenerationChunk(message=_MSG0)
_FRESH = {k for k, v in _MSG0.__dict__.items() if type(v) in (list, dict)}
_QUICK_FRESH = {"additional_kwargs", "response_metadata", "tool_calls", "invalid_tool_calls", "tool_call_chunks"}
_MSG0_DICT, _MSG0_SET = _MSG0.__dict__, _MSG0.__pydantic_fields_set__
_MSG0_SET_ID = _MSG0_SET | {"id"}
_GEN0_DICT, _GEN0_SET = _GEN0.__dict__, _GEN0.__pydantic_fields_set__
_new = object.__new__
_SLOTS = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")
try:
    _m_dict, _m_set, _m_extra, _m_private = (_slot_setter(AIMessageChunk, n) for n in _SLOTS)
    _g_dict, _g_set, _g_extra, _g_private = (_slot_setter(ChatGenerationChunk, n) for n in _SLOTS)
except AttributeError:  # another pydantic: `_pick_text_chunk` falls back to the validated construction
    _m_dict = _m_set = _m_extra = _m_private = _g_dict = _g_set = _g_extra = _g_private = None  # type: ignore[assignment]


def _quick_text_chunk(text: str, message_id: str | None = None) -> ChatGenerationChunk:
    d = _MSG0_DICT.copy()
    d.update(content=text, additional_kwargs={}, response_metadata={}, tool_calls=[], invalid_tool_calls=[],
             tool_call_chunks=[])
    msg = _new(AIMessageChunk)
    if message_id is None:
        _m_set(msg, _MSG0_SET.copy())
    else:
        d["id"] = message_id
        _m_set(msg, _MSG0_SET_ID.copy())
    _m_dict(msg, d)
    _m_extra(msg, {})
    _m_private(msg, None)
    gd = _GEN0_DICT.copy()
    gd["message"] = msg
    gd["text"] = text
    gen = _new(ChatGenerationChunk)
    _g_dict(gen, gd)
    _g_set(gen, _GEN0_SET.copy())
    _g_extra(gen, None)
    _g_private(gen, None)
    return gen


def _same_chunks(a: ChatGenerationChunk, b: ChatGenerationChunk) -> bool:
    ma, mb = a.message, b.message
    return (type(a) is type(b) and type(ma) is type(mb) and a.__dict__.keys() == b.__dict__.keys()
            and a.model_dump() == b.model_dump() and ma.__dict__ == mb.__dict__
            and a.model_fields_set == b.model_fields_set and ma.model_fields_set == mb.model_fields_set
            and ma.__pydantic_extra__ == mb.__pydantic_extra__ and ma.__pydantic_private__ is None
            and mb.__pydantic_private__ is None and a.__pydantic_private__ is None)


def _pick_text_chunk() -> Callable[[str, str | None], ChatGenerationChunk]:
    if (_FRESH != _QUICK_FRESH or _MSG0.__pydantic_extra__ != {} or _GEN0.__pydantic_extra__ is not None
            or _MSG0.__pydantic_private__ is not None or _GEN0.__pydantic_private__ is not None
            or _m_dict is None or "id" not in _MSG0_DICT):
        return _validated_text_chunk
    try:
        same = all(_same_chunks(_quick_text_chunk(t, i), _validated_text_chunk(t, i))
                   for t in ("", "a word", " ü\n") for i in (None, "lc_run-0"))
    except Exception:  # another pydantic or langchain-core: the validated construction always works
        same = False
    return _quick_text_chunk if same else _validated_text_chunk


_text_chunk = _pick_text_chunk()


def _content_chunk(ev: ToolCallStart | ToolCallDelta, message_id: str | None = None) -> ChatGenerationChunk:
    """A tool-call fragment's chunk (text chunks are built by `_text_chunk`)."""
    if isinstance(ev, ToolCallStart):
        part = {"name": ev.name, "args": "", "id": ev.id, "index": ev.index}
    else:
        part = {"name": None, "args": ev.delta, "id": None, "index": ev.index}
    # the id only when there is one: passing id=None would add "id" to the message's fields-set
    if message_id is None:
        message = AIMessageChunk(content="", tool_call_chunks=[part])  # type: ignore[list-item]
    else:
        message = AIMessageChunk(content="", tool_call_chunks=[part], id=message_id)  # type: ignore[list-item]
    return ChatGenerationChunk(message=message)


def _draft_data(ev: TextChunk | ToolCallStart | ToolCallDelta) -> dict[str, Any]:
    # a tool-call event has no provider: None, as the seed payload had
    out: dict[str, Any] = {"model": ev.model, "phase": ev.phase, "provider": getattr(ev, "provider", None),
                           "text": ev.content if type(ev) is TextChunk else "", "tool_call_chunk": None}
    if isinstance(ev, ToolCallStart):
        out["tool_call_chunk"] = {"index": ev.index, "id": ev.id, "name": ev.name, "args": ""}
    elif isinstance(ev, ToolCallDelta):
        out["tool_call_chunk"] = {"index": ev.index, "id": None, "name": None, "args": ev.delta}
    return out


def _final_chunk(result: CascadeResult, routing_reason: str) -> ChatGenerationChunk:
    """The last chunk: usage summed over every model called, who answered, and the cascade summary."""
    u = result.usage
    usage = UsageMetadata(input_tokens=u.input_tokens, output_tokens=u.output_tokens, total_tokens=u.total_tokens)
    if u.cached_tokens:
        usage["input_token_details"] = {"cache_read": u.cached_tokens}
    metadata: dict[str, Any] = {"model_name": result.model_used, "cascade": cascade_metadata(result, routing_reason)}
    if result.finish_reason:
        metadata["finish_reason"] = result.finish_reason
    message = AIMessageChunk(content="", usage_metadata=usage, response_metadata=metadata, chunk_position="last")
    return ChatGenerationChunk(message=message)


def _with_risk(formatted: dict[str, Any], tool: Any) -> dict[str, Any]:
    """Carry a tool's risk level (`metadata={"risk": ...}` or a `"risk"` key) to the engine's tool gate."""
    md = tool.get("metadata") if isinstance(tool, dict) else getattr(tool, "metadata", None)
    risk = (tool.get("risk") if isinstance(tool, dict) else None) or (md.get("risk") if isinstance(md, dict) else None)
    return {**formatted, "risk": risk} if risk is not None else formatted


def cascade_metadata(result: CascadeResult, routing_reason: str = "") -> dict[str, Any]:
    """`response_metadata["cascade"]`: what the cascade decided and what it cost."""
    last = result.decisions[-1] if result.decisions else None
    return jsonable({
        "request_id": result.request_id,
        "model_used": result.model_used,
        "provider_used": result.provider_used,
        "draft_accepted": result.draft_accepted,
        "accepted_index": result.accepted_index,
        "cascaded": result.cascaded,
        "strategy": result.strategy,
        "complexity": result.complexity,
        "reason": last["reason"] if last else routing_reason,
        "confidence": last["confidence"] if last else None,
        "total_cost": result.total_cost,
        "cost_saved": result.cost_saved,
        "cost_saved_is_estimate": result.cost_saved_is_estimate,
        "cost_estimated": result.cost_estimated,
        "baseline_cost": result.baseline_cost,
        "validator_cost": result.validator_cost,
        "validator_calls": result.validator_calls,
        "latency_ms": result.latency_ms,
        "ttft_ms": result.ttft_ms,
        "models": {k: {"usage": v["usage"].to_dict(), "cost": v["cost"], "calls": v["calls"]}
                   for k, v in result.models.items()},
        "decisions": result.decisions,
        "budget": result.budget,
    })
