"""Member calls as child runs of the cascade's run, so traces show each draft and verifier.

Each member call (LangChain chat model or `ModelConfig`) gets its own run under the `ChatCascade`
run: start and end callbacks, token usage, model name (`ls_model_name`, `ls_provider`), a
`cascade:draft` / `cascade:verifier` / `cascade:direct` tag, and the cascade step in its metadata
(`cascade_phase`, `cascade_level`, `cascade_member`; on an escalation also `cascade_escalated_from`,
`cascade_escalation_reason`, `cascade_escalation_detail`). A draft's run ends after its decision,
which is in the run's outputs (`llm_output["cascade_decision"]`).

They are LLM runs (`on_llm_start`), not chat-model runs: a handler counting `on_chat_model_start`
still sees one chat model per call (the cascade), as LangChain's standard tests require. A LangChain
member's own `astream` runs without handlers (and without ambient LangSmith tracing), so it is not
traced twice. Streaming handlers (`astream_events`, LangGraph's `stream_mode="messages"`) and usage
counters do not get member runs: streams carry only what the cascade kept (a rejected draft never
leaks), and usage is counted once, on the cascade's run.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Any, cast
from uuid import UUID

from langchain_core.callbacks import (
    AsyncCallbackManager,
    BaseCallbackHandler,
    CallbackManager,
)
from langchain_core.callbacks.usage import UsageMetadataCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, get_buffer_string
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.tracers._streaming import _StreamingCallbackHandler
from langchain_core.utils.uuid import uuid7

from ..cascade.hooks import RunHook
from ..models.normalize import PartialCall, ToolCallAccumulator
from ..tools.call import ToolCall
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

__all__ = ["LangChainRunContext", "member_config"]

Manager = CallbackManager | AsyncCallbackManager


def _for_member_runs(handler: BaseCallbackHandler) -> bool:
    return not isinstance(handler, (_StreamingCallbackHandler, UsageMetadataCallbackHandler))


class LangChainRunContext(RunHook):
    """The cascade run's handlers and id (parent of member runs), and the conversation as given.

    A run hook (member calls become child runs, a draft's run ends with its decision) and the members'
    `request.run_context`."""

    def __init__(self, manager: Manager | None, run_id: UUID | None,
                 messages: list[BaseMessage] | None = None) -> None:
        self.manager = manager
        self.run_id = run_id
        self.messages = messages
        #: draft runs waiting for their decision, by request
        self._pending: dict[int, tuple[Any, LLMResult]] = {}

    def handlers(self) -> list[BaseCallbackHandler]:
        if self.manager is None:
            return []
        return [h for h in self.manager.inheritable_handlers if _for_member_runs(h)]

    def child_manager(self, cls: type[Manager], tags: Sequence[str] = (),
                      metadata: dict[str, Any] | None = None) -> Manager:
        """A manager whose runs are children of the cascade's run."""
        m = self.manager
        handlers = self.handlers()
        inherited_tags = list(m.inheritable_tags) if m is not None else []
        inherited_meta = dict(m.inheritable_metadata) if m is not None else {}
        all_tags = inherited_tags + [t for t in tags if t not in inherited_tags]
        meta = {**inherited_meta, **(metadata or {})}
        return cls(handlers=handlers, inheritable_handlers=handlers, parent_run_id=self.run_id, tags=all_tags,
                   inheritable_tags=all_tags, metadata=meta, inheritable_metadata=meta)

    def wrap(self, member: Any, request: ChatRequest,
             stream: AsyncGenerator[Delta, None]) -> AsyncGenerator[Delta, None]:
        """Called by the engine for each member stream: a child run around it (if anyone listens)."""
        if not self.handlers():
            return stream
        return _traced(self, member, request, stream)

    async def settle(self, request: ChatRequest, decision: dict[str, Any]) -> None:
        """Called by the engine with a draft's decision: end the draft's run with it."""
        pending = self._pending.pop(id(request), None)
        if pending is not None:
            run, result = pending
            result.llm_output = {**(result.llm_output or {}), "cascade_decision": decision}
            gen = result.generations[0][0]
            gen.generation_info = {**(gen.generation_info or {}), "cascade_decision": decision}
            await run.on_llm_end(result)

    async def on_decision(self, run: Any, request: Any, decision: dict[str, Any]) -> None:
        if request is not None:
            await self.settle(request, {k: v for k, v in decision.items() if k != "error"})

    async def flush(self) -> None:
        """End runs still waiting for a decision (the call stopped before it)."""
        while self._pending:
            _, (run, result) = self._pending.popitem()
            await run.on_llm_end(result)


def _tags(request: ChatRequest) -> list[str]:
    return [f"cascade:{request.phase}"] if request.phase else []


def member_config(ctx: Any, request: ChatRequest) -> dict[str, Any]:
    """The `RunnableConfig` a LangChain member streams with: tagged, with the cascade step; under a
    `ChatCascade` without handlers (the cascade opens the member's run, see `wrap`)."""
    config: dict[str, Any] = {"tags": _tags(request), "metadata": dict(request.metadata)}
    if isinstance(ctx, LangChainRunContext):
        config["callbacks"] = CallbackManager(handlers=[])
    return config


async def _traced(ctx: LangChainRunContext, member: Any, request: ChatRequest,
                  stream: AsyncGenerator[Delta, None]) -> AsyncGenerator[Delta, None]:
    """Re-yield an SDK member's deltas inside a chat-model run of its own."""
    metadata = {**request.metadata, "ls_provider": member.provider, "ls_model_name": member.name,
                "ls_model_type": "chat"}
    if request.temperature is not None:
        metadata["ls_temperature"] = request.temperature
    if request.max_tokens is not None:
        metadata["ls_max_tokens"] = request.max_tokens
    manager = cast(AsyncCallbackManager, ctx.child_manager(AsyncCallbackManager, _tags(request), metadata))
    messages = ctx.messages if ctx.messages is not None else to_langchain_messages(request.messages)
    params = {"model": member.name, "model_name": member.name, "temperature": request.temperature,
              "max_tokens": request.max_tokens, "stop": request.stop, "_type": "cascadeflow-member"}
    serialized = {"lc": 1, "type": "not_implemented", "id": ["cascadeflow_integrations", type(member).__name__],
                  "name": member.label}
    (run,) = await manager.on_llm_start(serialized, [get_buffer_string(messages)], run_id=uuid7(),
                                        invocation_params=params, options={"stop": request.stop}, name=member.label,
                                        batch_size=1)
    text: list[str] = []
    calls = ToolCallAccumulator(PartialCall)
    usage = Usage()
    finish: str | None = None
    reported: str | None = None
    try:
        async with aclosing(stream) as it:
            async for d in it:
                if isinstance(d, TextDelta):
                    text.append(d.text)
                elif isinstance(d, ToolCallDelta):
                    calls.add(d)
                elif isinstance(d, UsageDelta):
                    usage = d.usage
                elif isinstance(d, FinishDelta):
                    finish = d.reason
                elif isinstance(d, ModelDelta):
                    reported = d.model
                yield d
    except BaseException as exc:  # errors, aborts and cancellation all end the run as an error
        await run.on_llm_error(exc)
        raise
    result = _result(member, "".join(text), calls.calls(), usage, finish, reported)
    if request.phase == "draft":
        ctx._pending[id(request)] = (run, result)  # ended by `settle`, with the decision
    else:
        await run.on_llm_end(result)


def _result(member: Any, text: str, calls: list[ToolCall], usage: Usage, finish: str | None,
            reported: str | None) -> LLMResult:
    tool_calls, invalid = [], []
    for call in calls:
        cid, name = call.id, call.name
        if call.parse_error is None:
            tool_calls.append({"id": cid, "name": name, "args": call.arguments, "type": "tool_call"})
        else:
            invalid.append({"id": cid, "name": name, "args": call.raw_arguments, "error": call.parse_error,
                            "type": "invalid_tool_call"})
    um = UsageMetadata(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                       total_tokens=usage.total_tokens)
    if usage.cached_tokens:
        um["input_token_details"] = {"cache_read": usage.cached_tokens}
    model_name = reported or member.name
    meta = {"model_name": model_name, "finish_reason": finish, "model_provider": member.provider}
    message = AIMessage(content=text, tool_calls=tool_calls, invalid_tool_calls=invalid, usage_metadata=um,
                        response_metadata=meta)
    return LLMResult(generations=[[ChatGeneration(message=message, generation_info={"finish_reason": finish})]],
                     llm_output={"model_name": model_name, "token_usage": usage.to_dict()})
