"""Any LangChain chat model as a cascade member, streaming through its own `astream`.

The member binds tools through the model's own `bind_tools` (so each provider gets its own format),
reads text, `tool_call_chunks`, `usage_metadata` (cache reads, writes and reasoning tokens too), finish reasons and (when the model was asked for
them) logprobs from the chunks, and runs as a child run of the cascade's run (see `runs.py`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessageChunk,
)
from langchain_core.runnables.config import var_child_runnable_config
from langsmith import tracing_context
from pydantic import SecretStr

from .._sync import SYNC_THREAD, threaded
from ..errors import ProviderError
from ..models.members import BaseMember, register_member_resolver
from ..models.normalize import chat_logprobs, finish_reason
from ..models.prices import lookup_price
from ..types import (
    ChatRequest,
    Delta,
    FinishDelta,
    ModelDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageDelta,
)
from .messages import to_langchain_messages
from .runs import LangChainRunContext, member_config

__all__ = ["LangChainMember", "to_langchain_messages"]

#: fields whose value says which endpoint a model talks to (first one set wins)
_URL_FIELDS = ("openai_api_base", "base_url", "anthropic_api_url", "groq_api_base", "azure_endpoint", "endpoint_url")


class LangChainMember(BaseMember):
    """A LangChain `BaseChatModel` in a cascade. Its price: given, else the table's, else unknown."""

    def __init__(self, model: BaseChatModel, *, price: Any = None, label: str | None = None) -> None:
        ls = model._get_ls_params()
        name = str(ls.get("ls_model_name") or getattr(model, "model_name", None) or getattr(model, "model", None)
                   or type(model).__name__)
        provider = str(ls.get("ls_provider") or type(model).__name__)
        self.base_url = next((str(v) for f in _URL_FIELDS if (v := getattr(model, f, None))), None)
        self.params = _settings(model)
        super().__init__(name=name, provider=provider, price=price if price is not None else lookup_price(name),
                         label=label, identity=("langchain", type(model).__qualname__, provider, self.base_url,
                                                name, tuple(sorted(self.params.items()))))
        self.model = model
        # Logprobs are read when the model was asked for them (e.g. ChatOpenAI(logprobs=True)); never injected.
        self.supports_logprobs = bool(getattr(model, "logprobs", False))
        self._secrets = [v.get_secret_value() for v in vars(model).values() if isinstance(v, SecretStr)]
        # ChatOpenAI only reports usage while streaming from non-OpenAI base URLs when asked to.
        self._stream_usage = "stream_usage" in type(model).model_fields and getattr(model, "stream_usage", None) is None

    def describe_settings(self) -> str:
        shown = [f"{k}={v}" for k, v in sorted(self.params.items()) if k not in ("model", "model_name")]
        return ",".join(shown)[:60] or (self.base_url or self.provider)

    def with_model(self, name: str) -> LangChainMember | None:
        fields = type(self.model).model_fields
        key = next((f for f in ("model_name", "model", "model_id") if f in fields), None)
        return LangChainMember(self.model.model_copy(update={key: name})) if key else None

    def _runnable(self, request: ChatRequest) -> Any:
        if not request.tools:
            return self.model
        tools = [{"type": "function", "function": t} for t in request.tools]
        kwargs: dict[str, Any] = {}
        choice = _tool_choice(request.tool_choice)
        if choice is not None:
            kwargs["tool_choice"] = choice
        if request.parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = request.parallel_tool_calls
        return self.model.bind_tools(tools, **kwargs)

    def _call_kwargs(self, request: ChatRequest) -> dict[str, Any]:
        kwargs = request.sampling_kwargs()
        if self._stream_usage:
            kwargs["stream_usage"] = True
        return kwargs

    async def stream(self, request: ChatRequest) -> AsyncGenerator[Delta, None]:
        ctx = request.run_context
        originals = getattr(ctx, "messages", None)
        messages = originals if originals is not None else to_langchain_messages(request.messages)
        failure: ProviderError | None = None
        try:
            runnable = self._runnable(request)  # the model's own bind_tools may refuse a tool or tool_choice
        except Exception as exc:  # noqa: BLE001 - a draft error the cascade escalates
            failure = self._error(exc, False)
        if failure is not None:
            raise failure
        config = member_config(ctx, request)
        kwargs = self._call_kwargs(request)
        want_logprobs = request.logprobs and self.supports_logprobs
        indices: dict[Any, int] = {}
        last_index: int | None = None
        total = Usage()
        finish: str | None = None
        saw_tool = False
        model_seen = False
        started = False
        # Under ChatCascade the cascade opens this call's run: the model's own run stays untraced.
        quiet = isinstance(ctx, LangChainRunContext)
        if threading.current_thread().name == SYNC_THREAD:
            # Sync entry points run the engine on the private loop: use the model's sync client there, so
            # its async client (often shared per process) stays on the caller's own event loop.
            source: Any = threaded(runnable.stream(messages, config=config, **kwargs))
        else:
            source = runnable.astream(messages, config=config, **kwargs)
        it = _quiet_start(source) if quiet else source
        try:
            async with aclosing(it):
                async for chunk in it:
                    if type(chunk) is not AIMessageChunk and not isinstance(chunk, AIMessageChunk):
                        continue
                    meta = chunk.response_metadata
                    if meta:
                        if not model_seen and (reported := meta.get("model_name") or meta.get("model")):
                            model_seen = True
                            yield ModelDelta(str(reported))
                        reason = meta.get("finish_reason") or meta.get("stop_reason")
                        if reason:
                            finish = finish_reason(reason)
                    content = chunk.content
                    text = content if type(content) is str else chunk.text  # `.text` builds a new object
                    if text:
                        started = True
                        lp = chat_logprobs(meta.get("logprobs")) if want_logprobs and meta else None
                        yield TextDelta(text, lp)
                    for tc in chunk.tool_call_chunks:
                        started = saw_tool = True
                        key: Any = tc.get("index")
                        if key is None:  # no index: an id or name starts a call, fragments continue the last
                            new = tc.get("id") or tc.get("name") or last_index is None
                            key = ("noindex", len(indices) if new else last_index)
                        idx = indices.setdefault(key, len(indices))
                        last_index = idx
                        yield ToolCallDelta(idx, tc.get("id"), tc.get("name"), tc.get("args") or "")
                    u = chunk.usage_metadata
                    if u:
                        total = total + usage_from_metadata(u)
                        yield UsageDelta(total)
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001 - any member failure is a ProviderError the cascade escalates
            failure = self._error(exc, started)
        if failure is not None:
            raise failure  # outside the handler: the model's exception (it may quote a key) is not chained
        yield FinishDelta(finish or ("tool_calls" if saw_tool else "stop"))


class _quiet_start:
    """Iterate an async generator whose first step (where LangChain configures callbacks) runs untraced:
    no LangSmith tracing and no ambient parent (a `bind_tools` binding would merge the enclosing run's
    handlers back in). A plain iterator, not a generator, so the per-chunk path gains no extra layer."""

    def __init__(self, agen: Any) -> None:
        self._agen = agen
        self._started = False

    def __aiter__(self) -> _quiet_start:
        return self

    async def __anext__(self) -> Any:
        if self._started:
            return await self._agen.__anext__()
        self._started = True
        token = var_child_runnable_config.set(None)
        try:
            with tracing_context(enabled=False):
                return await self._agen.__anext__()
        finally:
            var_child_runnable_config.reset(token)

    async def aclose(self) -> None:
        await self._agen.aclose()


def _settings(model: BaseChatModel) -> dict[str, str]:
    """The model's identifying parameters, as text (what makes two instances of one model different)."""
    try:
        params = dict(model._identifying_params)
    except Exception:  # noqa: BLE001 - a third-party model whose params cannot be read: identity by name only
        return {}
    return {str(k): json.dumps(v, sort_keys=True, default=str) for k, v in params.items()
            if v is not None and not isinstance(v, SecretStr)}


def usage_from_metadata(u: Any) -> Usage:
    """LangChain `usage_metadata` as billed: its `input_tokens` include cache reads and writes
    (`input_token_details.cache_read` / `cache_creation`, or Anthropic's per-TTL keys), its
    `output_tokens` the reasoning tokens (`output_token_details.reasoning`)."""
    details = u.get("input_token_details") or {}
    out_details = u.get("output_token_details") or {}
    written = sum(details.get(k) or 0 for k in ("cache_creation", "ephemeral_5m_input_tokens",
                                                 "ephemeral_1h_input_tokens"))
    return Usage(u.get("input_tokens") or 0, u.get("output_tokens") or 0, details.get("cache_read") or 0,
                 written, out_details.get("reasoning") or 0)


def _tool_choice(choice: Any) -> Any:
    if choice is None:
        return None
    if choice == "required":
        return "any"
    if isinstance(choice, dict):
        return choice.get("name") or (choice.get("function") or {}).get("name")
    return choice


def _resolve(obj: Any) -> LangChainMember | None:
    return LangChainMember(obj) if isinstance(obj, BaseChatModel) else None


register_member_resolver(_resolve)
