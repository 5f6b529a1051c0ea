"""`CascadeLLM`: a LlamaIndex `FunctionCallingLLM` that drafts with a cheap model and escalates."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.constants import (
    DEFAULT_CONTEXT_WINDOW,
    DEFAULT_NUM_OUTPUTS,
)
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.span import active_span_id
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.tools.types import BaseTool
from pydantic import Field, PrivateAttr, ValidationError, field_serializer, field_validator

from ..errors import ConfigError, config_error
from .._sync import iter_sync
from ..cascade.agent import CascadeAgent
from ..models.config import ModelConfig
from ..cascade.engine import Event
from ..cascade.streaming import Complete, Error, Routing, TextChunk, ToolCallComplete, ToolCallDelta, ToolCallStart
from ..cascade.spec import BUILD_ONLY, BY_NAME, OPTIONS, PER_CALL, CascadeOptions, CascadeSpec, refuse_unknown
from .events import cascade_event
from .members import LlamaIndexMember, LlamaIndexRunContext
from .messages import (
    resolve_tool_choice,
    to_engine_messages,
    to_tool_selections,
    to_universal_tools,
    tool_call_blocks,
)

if TYPE_CHECKING:
    from ..result import CascadeResult

__all__ = ["CascadeLLM"]

dispatcher = get_dispatcher(__name__)

#: Modes whose streamed deltas never include a draft that is later rejected. LlamaIndex consumers
#: (`response_gen`, `AgentStream`) cannot retract text, so `optimistic` is not offered here.
_SAFE_MODES = ("buffered", "guarded")
#: LlamaIndex-side arguments that must not reach the provider request.
_DROPPED = frozenset({"verbose", "strict", "tool_required", "allow_parallel_tool_calls", "formatted"})
#: Documented (context window, max output) of common families, for configs that leave them unset.
_KNOWN_LIMITS = (
    ("gpt-4o", 128_000, 16_384),
    ("gpt-4.1", 1_047_576, 32_768),
    ("gpt-4-turbo", 128_000, 4_096),
    ("gpt-3.5-turbo", 16_385, 4_096),
    ("gpt-5", 400_000, 128_000),
    ("o1", 200_000, 100_000),
    ("o3", 200_000, 100_000),
    ("o4-mini", 200_000, 100_000),
    ("claude-", 200_000, 8_192),
    ("llama-3", 131_072, 8_192),
)


class CascadeLLM(FunctionCallingLLM, CascadeOptions):
    """A cascade of models as one LlamaIndex LLM: cheap draft first, stronger models on rejection.

    Build it from `models=[...]` (cheapest first: LlamaIndex LLMs, `ModelConfig`s, `Member(...)`s, or a mix)
    or an existing `agent=CascadeAgent(...)`. Streams only accepted output (`buffered` or `guarded` mode).
    """

    # The cascade options (temperature, validator, policy, draft_timeout, ...) are inherited from
    # `spec.CascadeOptions`, with their types, defaults and rules; only LlamaIndex's own fields are declared
    # here, plus the adapters' streaming default (LlamaIndex cannot retract streamed text).
    streaming_mode: str = Field(default=BY_NAME["streaming_mode"].adapter_default,
                                description=BY_NAME["streaming_mode"].doc)
    models: list[Any] = Field(default_factory=list, description="The chain, cheapest first: LlamaIndex LLMs, "
                              "ModelConfigs, Member(...)s, or a mix.")
    additional_kwargs: dict[str, Any] = Field(default_factory=dict, description="Extra provider parameters.")

    _agent: CascadeAgent = PrivateAttr()
    #: the options as validated (`spec.CascadeSpec`), with the adapters' defaults
    _spec: CascadeSpec = PrivateAttr()
    #: the options sent with every call (only when built from agent=: the agent holds them otherwise)
    _per_call: dict[str, Any] = PrivateAttr(default_factory=dict)

    def __init__(self, models: Sequence[Any] | None = None, *, agent: CascadeAgent | None = None,
                 **kwargs: Any) -> None:
        names = set(type(self).model_fields) | {f.alias for f in type(self).model_fields.values() if f.alias}
        refuse_unknown(kwargs, names - {"models"}, "CascadeLLM")  # LlamaIndex would drop them silently
        if agent is not None and models:
            raise ConfigError("CascadeLLM takes models= or agent=, not both")
        if agent is None and not models:
            raise ConfigError("CascadeLLM needs models=[ModelConfig(...), ...] (cheapest first) or agent=CascadeAgent(...)")
        chain = list(agent.models if agent is not None else models or [])
        try:
            super().__init__(models=chain, **kwargs)
        except ValidationError as e:  # pydantic wraps an option's ConfigError: raise the ConfigError itself
            raise config_error(e, "CascadeLLM") from e
        options = {o.name: getattr(self, o.name) for o in OPTIONS}
        self._spec = spec = CascadeSpec.checked(options)  # each field passed its rule at validation
        if agent is not None:
            built = spec.changed(BUILD_ONLY, face="adapter")
            if built:
                raise ConfigError(f"{', '.join(sorted(built))} go on the CascadeAgent when CascadeLLM is built from "
                                 f"agent=: CascadeAgent(models, {min(built)}=...)")
            self._agent = agent
            # the adapter's options apply to every call on top of the agent's (its streaming mode always)
            self._per_call = {**spec.changed(PER_CALL, face="adapter"), "streaming_mode": spec.streaming_mode}
        else:
            self._agent = CascadeAgent(chain, **spec.changed(face="agent"))

    def feedback(self, request_id: str, correct: bool | None = None, *, score: float | None = None) -> bool:
        """Label a call: the id is `response.raw["cascade"]["request_id"]` (see `CascadeAgent.feedback`)."""
        return self._agent.feedback(request_id, correct, score=score)

    @field_validator("streaming_mode", mode="after")
    @classmethod
    def _safe_mode(cls, v: str) -> str:
        return _check_mode(v)

    @field_serializer("models")
    def _dump_models(self, models: list[Any]) -> list[dict[str, Any]]:
        # JSON mode masks API keys, so `to_json()`/`to_dict()` never leak them and never fail on SecretStr;
        # other members are named, never dumped (an LLM object holds its key in plain text)
        return [m.model_dump(mode="json") if isinstance(m, ModelConfig) else {"member": member.label}
                for m, member in zip(models, self._agent.members)]

    @classmethod
    def class_name(cls) -> str:
        return "CascadeLLM"

    @property
    def agent(self) -> CascadeAgent:
        """The `CascadeAgent` running the cascade."""
        return self._agent

    async def aclose(self) -> None:
        """Close the SDK clients of the running event loop."""
        await self._agent.aclose()

    @property
    def metadata(self) -> LLMMetadata:
        limits = [_limits(m) for m in self._agent.members]
        num_output = min(out for _, out in limits)
        if self._spec.max_tokens is not None:
            num_output = min(num_output, self._spec.max_tokens)
        return LLMMetadata(
            context_window=min(ctx for ctx, _ in limits), num_output=num_output, is_chat_model=True,
            is_function_calling_model=True, model_name=f"cascade({'→'.join(m.label for m in self._agent.members)})",
            system_role=MessageRole.SYSTEM)

    # ---- chat --------------------------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._chat(messages, kwargs, active_span_id.get())

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._stream_chat(messages, kwargs, active_span_id.get())

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self._achat(messages, kwargs, active_span_id.get())

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        # an async def returning the generator: LlamaIndex's callback decorator needs this shape
        return self._astream_chat(messages, kwargs, active_span_id.get())

    # ---- completion (a one-message chat; no nested chat callbacks, so usage counts once) -------

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return _completion(self._chat(_prompt(prompt), kwargs, active_span_id.get()))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        gen = self._stream_chat(_prompt(prompt), kwargs, active_span_id.get())
        return (_completion(r) for r in gen)

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return _completion(await self._achat(_prompt(prompt), kwargs, active_span_id.get()))

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False,
                               **kwargs: Any) -> CompletionResponseAsyncGen:
        gen = self._astream_chat(_prompt(prompt), kwargs, active_span_id.get())

        async def completions() -> CompletionResponseAsyncGen:
            async for r in gen:
                yield _completion(r)

        return completions()

    # ---- tools -------------------------------------------------------------------------------

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        messages = list(chat_history or [])
        if user_msg is not None:
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg)
                            if isinstance(user_msg, str) else user_msg)
        out: dict[str, Any] = {"messages": messages, **kwargs}
        if tools:  # an agent without tools calls this with [] and must get a plain chat
            to_universal_tools(tools)  # bad tools fail here; the originals go on, for LlamaIndex members
            out["tools"] = list(tools)
            out["tool_choice"] = resolve_tool_choice(tool_choice, tool_required)
            out["parallel_tool_calls"] = allow_parallel_tool_calls
        return out

    def _validate_chat_with_tools_response(self, response: ChatResponse, tools: Sequence[BaseTool],
                                           allow_parallel_tool_calls: bool = False,
                                           **kwargs: Any) -> ChatResponse:
        if not allow_parallel_tool_calls:
            blocks = response.message.blocks
            calls = [b for b in blocks if isinstance(b, ToolCallBlock)]
            if len(calls) > 1:
                response.message.blocks = [b for b in blocks if not isinstance(b, ToolCallBlock) or b is calls[0]]
        return response

    def get_tool_calls_from_response(self, response: ChatResponse, error_on_no_tool_call: bool = True,
                                     **kwargs: Any) -> list[ToolSelection]:
        calls = to_tool_selections(response.message)
        if not calls and error_on_no_tool_call:
            raise ValueError(f"Expected at least one tool call, got none (model answered {response.message.content!r})")
        return calls

    # ---- the cascade call --------------------------------------------------------------------

    def _events(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any],
                span_id: str | None = None) -> AsyncIterator[Event]:
        """Validate (ValueError before any network call) and start the cascade's event stream."""
        engine_messages = to_engine_messages(messages)
        originals = [t for t in kwargs.get("tools") or () if isinstance(t, BaseTool)]
        # the options this LLM was built with are the agent's; a call sends what it sets
        opts: dict[str, Any] = {**self._per_call, **self.additional_kwargs}
        for key, value in kwargs.items():
            if key in _DROPPED:
                continue
            if key == "tools":
                value = to_universal_tools(value) if value else None
            elif key == "streaming_mode":
                value = _check_mode(value)
            opts[key] = value
        # LlamaIndex members get the messages and tools as given, and open their calls in this call's span.
        opts["run_context"] = ctx = LlamaIndexRunContext(span_id, messages, originals or None)
        opts["hooks"] = [ctx]
        return self._agent.stream_events(engine_messages, **opts)

    def _chat(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any], span_id: str | None) -> ChatResponse:
        acc = _Responses()
        for ev in iter_sync(self._events(messages, kwargs, span_id)):
            _emit(ev, span_id)
            acc.feed(ev)
        return acc.final(delta=None)

    def _stream_chat(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any],
                     span_id: str | None) -> ChatResponseGen:
        events = self._events(messages, kwargs, span_id)  # eager: bad input raises at the call, not mid-iteration

        def gen() -> ChatResponseGen:
            acc = _Responses()
            for ev in iter_sync(events):
                _emit(ev, span_id)
                r = acc.feed(ev)
                if r is not None:
                    yield r

        return gen()

    async def _achat(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any],
                     span_id: str | None) -> ChatResponse:
        acc = _Responses()
        async for ev in self._events(messages, kwargs, span_id):
            await _aemit(ev, span_id)
            acc.feed(ev)
        return acc.final(delta=None)

    def _astream_chat(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any],
                      span_id: str | None) -> ChatResponseAsyncGen:
        events = self._events(messages, kwargs, span_id)

        async def gen() -> ChatResponseAsyncGen:
            acc = _Responses()
            async for ev in events:
                await _aemit(ev, span_id)
                r = acc.feed(ev)
                if r is not None:
                    yield r

        return gen()


class _Responses:
    """Builds LlamaIndex responses from engine events: cumulative `message`, incremental `delta`."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.routing_reason = ""
        self.result: CascadeResult | None = None

    def feed(self, ev: Event) -> ChatResponse | None:
        """The response to stream for `ev` (None for control events); raises the cascade's error."""
        tp = type(ev)
        if tp is TextChunk:
            chunk = cast(TextChunk, ev)
            self.text.append(chunk.content)
            return self._partial(chunk.content, chunk.model, chunk.phase)
        if isinstance(ev, ToolCallStart):
            self.calls[ev.index] = {"id": ev.id or "", "name": ev.name, "arguments": {}}
            return self._partial("", ev.model, ev.phase)
        if isinstance(ev, ToolCallDelta):
            call = self.calls.get(ev.index)
            if call is None or not isinstance(ev.arguments, dict):
                return None
            call["arguments"] = ev.arguments
            return self._partial("", ev.model, ev.phase)
        if isinstance(ev, ToolCallComplete):
            tc = ev.tool_call
            self.calls[ev.index] = {"id": tc["id"], "name": tc["name"], "arguments": tc["arguments"]}
            # the seed payload of this event had no phase
            return self._partial("", ev.model, None)
        if isinstance(ev, Routing):
            self.routing_reason = ev.reason or ""
        elif isinstance(ev, Complete):
            self.result = ev.result
            return self.final(delta="")
        elif isinstance(ev, Error):
            raise ev.error
        return None

    def _partial(self, delta: str, model: str | None, phase: str | None) -> ChatResponse:
        calls = [self.calls[i] for i in sorted(self.calls)]
        return ChatResponse(message=_assistant("".join(self.text), calls), delta=delta,
                            raw={"model": model, "phase": phase})

    def final(self, delta: str | None) -> ChatResponse:
        """The whole answer: full text, every tool call, usage and cascade details."""
        r = self.result
        if r is None:  # pragma: no cover - the engine always ends with COMPLETE or ERROR
            raise RuntimeError("the cascade ended without a result")
        info = {k: v for k, v in r.to_dict().items() if k not in ("content", "tool_calls")}
        info["reason"] = r.decisions[-1].get("reason", "") if r.decisions else self.routing_reason
        usage = {"prompt_tokens": r.usage.input_tokens, "completion_tokens": r.usage.output_tokens,
                 "total_tokens": r.usage.total_tokens}
        return ChatResponse(
            message=_assistant(r.content, [c.to_dict() for c in r.tool_calls]), delta=delta,
            raw={"model": r.model_used, "usage": usage, "cascade": info},
            additional_kwargs={**usage, "cascade": info})


def _assistant(text: str, calls: list[dict[str, Any]]) -> ChatMessage:
    # llama-index-core's streaming structured output (`process_streaming_objects`) looks for tool
    # calls in additional_kwargs["tool_calls"] before reading them back through our blocks, so every
    # response with calls carries them there too, in the OpenAI shape other integrations use.
    extra = {"tool_calls": [_openai_call(c) for c in calls]} if calls else {}
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=[TextBlock(text=text), *tool_call_blocks(calls)],
                       additional_kwargs=extra)


def _openai_call(call: dict[str, Any]) -> dict[str, Any]:
    args = call.get("arguments") or {}
    return {"id": call.get("id") or "", "type": "function",
            "function": {"name": call["name"], "arguments": args if isinstance(args, str) else json.dumps(args)}}


def _emit(ev: Event, span_id: str | None) -> None:
    e = cascade_event(ev, span_id)
    if e is not None:
        dispatcher.event(e)


async def _aemit(ev: Event, span_id: str | None) -> None:
    e = cascade_event(ev, span_id)
    if e is not None:
        await dispatcher.aevent(e)


def _prompt(prompt: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=prompt)]


def _completion(r: ChatResponse) -> CompletionResponse:
    return CompletionResponse(text=r.message.content or "", delta=r.delta, raw=r.raw,
                              additional_kwargs=r.additional_kwargs)


def _check_mode(mode: Any) -> str:
    value = getattr(mode, "value", mode)
    if value not in _SAFE_MODES:
        raise ConfigError(f"CascadeLLM streaming_mode must be 'buffered' or 'guarded', got {value!r}: LlamaIndex "
                         "cannot retract streamed text, so drafts are held until accepted")
    return str(value)


def _limits(member: Any) -> tuple[int, int]:
    if isinstance(member, LlamaIndexMember):
        meta = member.llm.metadata
        return (meta.context_window if meta.context_window > 0 else DEFAULT_CONTEXT_WINDOW,
                meta.num_output if meta.num_output > 0 else DEFAULT_NUM_OUTPUTS)
    known = next(((ctx, out) for prefix, ctx, out in _KNOWN_LIMITS if member.name.startswith(prefix)),
                 (DEFAULT_CONTEXT_WINDOW, DEFAULT_NUM_OUTPUTS))
    return (getattr(member, "context_window", None) or known[0], getattr(member, "max_output_tokens", None)
            or known[1])
