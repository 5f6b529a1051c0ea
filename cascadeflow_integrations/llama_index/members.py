"""Any LlamaIndex LLM as a cascade member, streaming through its own `astream_chat(_with_tools)`.

Streamed `ChatResponse`s carry new text in `delta` and the message so far in `message`; the member
turns them into the engine's deltas (text, tool-call fragments, usage, finish reason). Member calls
run inside the cascade's span, so LlamaIndex instrumentation nests them under the `CascadeLLM` call
(an LLM member's own span; for other members, e.g. `ModelConfig`, a `CascadeMember.stream` span).
The member calls a copy of the LLM with its own empty legacy `CallbackManager`: handlers such as
`TokenCountingHandler` count the cascade's call once, not each member call again.
"""

from __future__ import annotations

import inspect
import json
import threading
import uuid
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Any, cast

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole, TextBlock, ToolCallBlock
from llama_index.core.callbacks import CallbackManager
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.span import active_span_id
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM
from llama_index.core.tools.types import BaseTool, ToolMetadata, ToolOutput

from .._sync import SYNC_THREAD, threaded
from ..errors import ProviderError
from ..cascade.hooks import RunHook
from ..models.members import BaseMember, register_member_resolver
from ..models.normalize import finish_reason
from ..models.prices import lookup_price
from ..types import ChatRequest, Delta, FinishDelta, Message, ModelDelta, TextDelta, ToolCallDelta, Usage, UsageDelta

__all__ = ["LlamaIndexMember", "LlamaIndexRunContext", "to_llama_messages"]

dispatcher = get_dispatcher(__name__)

_SECRET_WORDS = ("key", "token", "secret", "password", "credential")
_URL_FIELDS = ("api_base", "base_url", "azure_endpoint", "endpoint")


class LlamaIndexRunContext(RunHook):
    """What `CascadeLLM` hands its members: its span (members nest in it), messages and tools as given.

    Also a run hook: member calls that open no span of their own get one in the cascade's."""

    def __init__(self, span_id: str | None, messages: Sequence[ChatMessage] | None = None,
                 tools: Sequence[BaseTool] | None = None) -> None:
        self.span_id = span_id
        self.messages = list(messages) if messages is not None else None
        self.tools = list(tools) if tools else None

    def wrap(self, member: Any, request: ChatRequest,
             stream: AsyncGenerator[Delta, None]) -> AsyncGenerator[Delta, None]:
        """Called by the engine for each member stream: members that open no span get one in the cascade's."""
        if isinstance(member, LlamaIndexMember) or self.span_id is None:
            return stream
        return _spanned(self.span_id, member, request, stream)


class LlamaIndexMember(BaseMember):
    """A LlamaIndex `LLM` in a cascade (a `FunctionCallingLLM` for requests with tools)."""

    def __init__(self, llm: LLM, *, price: Any = None, label: str | None = None) -> None:
        try:
            meta_name = llm.metadata.model_name
        except Exception:  # noqa: BLE001 - some LLMs validate their model name in `metadata`
            meta_name = None
        name = str(meta_name or getattr(llm, "model", None) or type(llm).__name__)
        module = type(llm).__module__
        provider = module.split(".")[2] if module.startswith("llama_index.llms.") else type(llm).__name__.lower()
        self.base_url = next((str(v) for f in _URL_FIELDS if (v := getattr(llm, f, None))), None)
        self.params = _settings(llm)
        super().__init__(name=name, provider=provider, price=price if price is not None else lookup_price(name),
                         label=label, identity=("llama_index", type(llm).__qualname__, provider, self.base_url, name,
                                                tuple(sorted(self.params.items()))))
        self.llm = llm
        # A shallow copy (clients shared) whose legacy callbacks stay private: see the module docstring.
        self._call_llm: LLM = llm.model_copy(update={"callback_manager": CallbackManager([])})
        self.supports_logprobs = False  # LlamaIndex streams carry no per-token logprobs
        # LlamaIndex's OpenAI LLM and its subclasses (OpenAILike, ...) speak Chat Completions through the openai SDK
        self._openai_wire = any(c.__module__.startswith("llama_index.llms.openai") for c in type(llm).__mro__)
        self._secrets = [v for k, v in vars(llm).items() if isinstance(v, str) and v and _secret(k)]

    def describe_settings(self) -> str:
        shown = [f"{k}={v}" for k, v in sorted(self.params.items()) if k not in ("model", "model_name")]
        return ",".join(shown)[:60] or (self.base_url or self.provider)

    def _kwargs(self, request: ChatRequest) -> dict[str, Any]:
        kwargs = request.sampling_kwargs()
        if self._openai_wire and "stream_options" not in (getattr(self.llm, "additional_kwargs", None) or {}):
            # so the stream reports usage (OpenAI and OpenAILike servers send none unless asked); set your own
            # `additional_kwargs={"stream_options": ...}` for a server that refuses it: the engine then
            # estimates the usage and marks it (`usage_estimated`, `cost_estimated`)
            kwargs["stream_options"] = {"include_usage": True}
        return kwargs

    def _tool_args(self, request: ChatRequest, ctx: Any) -> dict[str, Any]:
        if not isinstance(self._call_llm, FunctionCallingLLM):
            raise ProviderError(f"{type(self.llm).__name__} is not a function-calling LLM: it cannot take tools",
                                provider=self.provider, model=self.label)
        tools = getattr(ctx, "tools", None) or [_SchemaTool(t) for t in request.tools or ()]
        args: dict[str, Any] = {"tools": tools, "allow_parallel_tool_calls": bool(request.parallel_tool_calls)}
        choice = request.tool_choice
        if choice == "required":
            args["tool_required"] = True
        elif isinstance(choice, dict) and choice.get("name"):
            args["tool_choice"] = choice["name"]
        elif choice == "none":
            args["tool_choice"] = "none"
        return args

    async def stream(self, request: ChatRequest) -> AsyncGenerator[Delta, None]:
        ctx = request.run_context
        originals = getattr(ctx, "messages", None)
        messages = originals if originals is not None else to_llama_messages(request.messages)
        kwargs = self._kwargs(request)
        tool_args = self._tool_args(request, ctx) if request.tools else None
        sync = threading.current_thread().name == SYNC_THREAD
        token = active_span_id.set(ctx.span_id) if isinstance(ctx, LlamaIndexRunContext) and ctx.span_id else None
        started = False
        failure: ProviderError | None = None
        source: Any = None
        try:
            # Opened inside the cascade's span, so the member's own span is its child. From the sync entry
            # points (the private loop) use the LLM's sync client: its async client belongs to the caller's loop.
            if tool_args is not None:
                fc = cast(FunctionCallingLLM, self._call_llm)  # checked in _tool_args
                if sync:
                    source = threaded(fc.stream_chat_with_tools(chat_history=messages, **tool_args, **kwargs))
                else:
                    source = await fc.astream_chat_with_tools(chat_history=messages, **tool_args, **kwargs)
            elif sync:
                source = threaded(self._call_llm.stream_chat(messages, **kwargs))
            else:
                source = await self._call_llm.astream_chat(messages, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any member failure is a ProviderError the cascade escalates
            failure = self._error(exc, False)
        finally:
            if token is not None:
                active_span_id.reset(token)
        if failure is not None:
            raise failure  # outside the handler: the LLM's exception (it may quote a key) is not chained
        calls: dict[int, list[Any]] = {}  # index -> [id, name, arguments text sent so far]
        usage = Usage()
        finish: str | None = None
        model_seen = False
        last: ChatResponse | None = None
        try:
            async with aclosing(source) as it:
                async for r in it:
                    last = r
                    if not model_seen and (reported := _model(r)):
                        model_seen = True
                        yield ModelDelta(reported)
                    if r.delta:
                        started = True
                        yield TextDelta(r.delta)
                    for d in _tool_fragments(r.message, calls, final=False):
                        started = True
                        yield d
                    u = _usage(r)
                    if u is not None:
                        # streams report usage cumulatively, some in parts (prompt first, output at the end) and
                        # some chunks with less (LlamaIndex's summaries without cache tokens): keep the most seen
                        usage = Usage(max(u.input_tokens, usage.input_tokens), max(u.output_tokens, usage.output_tokens),
                                      max(u.cached_tokens, usage.cached_tokens),
                                      max(u.cache_write_tokens, usage.cache_write_tokens),
                                      max(u.reasoning_tokens, usage.reasoning_tokens))
                        yield UsageDelta(usage)
                    finish = _finish(r) or finish
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001 - as above
            failure = self._error(exc, started)
        if failure is not None:
            raise failure
        if last is not None:
            for d in _tool_fragments(last.message, calls, final=True):
                yield d
        yield FinishDelta(finish or ("tool_calls" if calls else "stop"))


class _SchemaTool(BaseTool):
    """A universal tool dict as a LlamaIndex tool, for members called without the original tools."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self._spec = spec

    @property
    def metadata(self) -> ToolMetadata:
        spec = self._spec

        class _Metadata(ToolMetadata):
            def get_parameters_dict(self) -> dict[str, Any]:
                return dict(spec.get("parameters") or {"type": "object", "properties": {}})

        return _Metadata(description=spec.get("description") or "", name=spec["name"], fn_schema=None)

    def __call__(self, input: Any) -> ToolOutput:
        raise NotImplementedError("the cascade only shows this tool to a model; the caller executes it")


def _member_call(member: str, phase: str | None) -> None:
    """The signature of the `CascadeMember.stream` span (its bound arguments name the member and step)."""


_CALL = inspect.signature(_member_call)


async def _spanned(parent: str, member: Any, request: ChatRequest,
                   stream: AsyncGenerator[Delta, None]) -> AsyncGenerator[Delta, None]:
    span_id = f"CascadeMember.stream-{uuid.uuid4()}"
    bound = _CALL.bind(member.label, request.phase)
    dispatcher.span_enter(id_=span_id, bound_args=bound, instance=member, parent_id=parent,
                          tags={"cascade_phase": request.phase, "cascade_member": member.label})
    try:
        async with aclosing(stream) as it:
            async for d in it:
                yield d
    except BaseException as exc:  # errors, aborts and cancellation drop the span
        dispatcher.span_drop(id_=span_id, bound_args=bound, instance=member, err=exc)
        raise
    dispatcher.span_exit(id_=span_id, bound_args=bound, instance=member, result=None)


def _secret(field: str) -> bool:
    return any(w in field.lower() for w in _SECRET_WORDS)


def _settings(llm: LLM) -> dict[str, str]:
    """The LLM's request settings as text, without keys or clients (identity and labels)."""
    out: dict[str, str] = {}
    for k in type(llm).model_fields:
        if _secret(k) or k in ("callback_manager", "system_prompt", "messages_to_prompt", "completion_to_prompt",
                               "output_parser", "pydantic_program_mode", "query_wrapper_prompt", "http_client",
                               "async_http_client", "default_headers"):
            continue
        v = getattr(llm, k, None)
        if v is None or callable(v):
            continue
        try:
            out[k] = json.dumps(v, sort_keys=True, default=str)
        except (TypeError, ValueError):
            continue
    return out


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def _model(r: ChatResponse) -> str | None:
    raw = r.raw
    name = _get(raw, "model") or _get(_get(raw, "message"), "model")
    return str(name) if name else None


def _usage(r: ChatResponse) -> Usage | None:
    """The usage a response carries, as billed: the raw Chat Completions usage (cached tokens part of
    `prompt_tokens`, reasoning part of `completion_tokens`) or Anthropic's (`input_tokens` without the
    cache reads and writes, which are added)."""
    extra = r.message.additional_kwargs or {}
    raw = r.raw
    # the raw response first: LlamaIndex's own usage summaries drop the cache fields
    u = _get(raw, "usage") or _get(_get(raw, "message"), "usage") or extra.get("usage") or (
        r.additional_kwargs if r.additional_kwargs else None)
    if not u:
        return None
    out = _get(u, "output_tokens") or _get(u, "completion_tokens")
    prompt = _get(u, "prompt_tokens")
    if prompt is not None:
        inp, read, written = int(prompt or 0), int(_get(_get(u, "prompt_tokens_details"), "cached_tokens") or 0), 0
    else:
        read = int(_get(u, "cache_read_input_tokens") or 0)
        written = int(_get(u, "cache_creation_input_tokens") or 0)
        inp = int(_get(u, "input_tokens") or 0) + read + written
    if not inp and not out:
        return None
    reasoning = int(_get(_get(u, "completion_tokens_details"), "reasoning_tokens") or 0)
    return Usage(inp, int(out or 0), min(read, inp), written, reasoning)


def _finish(r: ChatResponse) -> str | None:
    extra = r.message.additional_kwargs or {}
    reason = extra.get("stop_reason") or extra.get("finish_reason")
    if not reason:
        choices = _get(r.raw, "choices")
        if choices:
            reason = _get(choices[0], "finish_reason")
    return finish_reason(reason)


def _tool_fragments(message: ChatMessage, calls: dict[int, list[Any]], final: bool) -> list[ToolCallDelta]:
    """New argument text of each tool call in a cumulative message (whole arguments when only parsed)."""
    out: list[ToolCallDelta] = []
    blocks = [b for b in message.blocks if isinstance(b, ToolCallBlock)]
    for i, b in enumerate(blocks):
        first = i not in calls
        if first:
            calls[i] = [b.tool_call_id or "", b.tool_name or "", ""]
        state = calls[i]
        kw = b.tool_kwargs
        text = kw if isinstance(kw, str) else (json.dumps(kw) if final else None)
        sent = state[2]
        piece = ""
        if text is not None and text.startswith(sent) and len(text) > len(sent):
            piece = text[len(sent):]
        if piece or first:
            out.append(ToolCallDelta(i, state[0] if first else None, state[1] if first else None, piece))
            state[2] = sent + piece
    return out


def to_llama_messages(messages: Sequence[Message]) -> list[ChatMessage]:
    """Engine messages as LlamaIndex `ChatMessage`s (for members called outside `CascadeLLM`)."""
    out: list[ChatMessage] = []
    for m in messages:
        if m.role == "tool":
            out.append(ChatMessage(role=MessageRole.TOOL, content=m.text,
                                   additional_kwargs={"tool_call_id": m.tool_call_id}))
        elif m.role == "assistant":
            blocks: list[Any] = [TextBlock(text=m.text)] if m.text else []
            blocks += [ToolCallBlock(tool_call_id=c.id, tool_name=c.name, tool_kwargs=c.arguments)
                       for c in m.tool_calls]
            out.append(ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks))
        else:
            out.append(ChatMessage(role=MessageRole(m.role), content=m.text))
    return out


def _resolve(obj: Any) -> LlamaIndexMember | None:
    return LlamaIndexMember(obj) if isinstance(obj, LLM) else None


register_member_resolver(_resolve)
