"""Running tool calls: `ToolConfig` (a tool plus its function), `ToolExecutor`, `ToolResult`."""

from __future__ import annotations

import inspect
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import ConfigError
from .call import ToolCall, ToolCallFormat
from .schema import (
    check_risk,
    check_tool_fields,
    schema_from_function,
    validate_tool_call,
)

__all__ = ["ToolConfig", "ToolExecutor", "ToolResult"]

log = logging.getLogger(__name__)


class ToolConfig(BaseModel):
    """A tool definition and the function that runs it. Validated like `normalize_tools`."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    function: Callable[..., Any] | None = None
    timeout: float | None = Field(default=None, gt=0)
    #: "low", "medium", "high" or "critical": a drafted call to a high/critical tool escalates
    risk: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            # Same rules as normalize_tools, so a ToolConfig is always a valid tool definition.
            tool = check_tool_fields("ToolConfig", data.get("name"), data.get("description"), data.get("parameters"))
            data["parameters"] = tool["parameters"]
            data["description"] = tool["description"]
            fn = data.get("function")
            where = f"ToolConfig ({tool['name']!r})"
            if fn is not None and not callable(fn):
                raise ConfigError(f"{where}: field 'function' must be callable, got {type(fn).__name__}")
            if data.get("risk") is not None:
                data["risk"] = check_risk(data["risk"], where)
        return data

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        risk: str | None = None,
    ) -> ToolConfig:
        """Build from a function: schema from its signature, description from its docstring."""
        fn_name, fn_desc, params = schema_from_function(fn)
        return cls(
            name=name or fn_name,
            description=fn_desc if description is None else description,
            parameters=params,
            function=fn,
            timeout=timeout,
            risk=risk,
        )

    def to_tool(self) -> dict[str, Any]:
        """The universal tool dict `{"name", "description", "parameters"}` (and `"risk"` when set)."""
        tool = {"name": self.name, "description": self.description, "parameters": self.parameters}
        if self.risk is not None:
            tool["risk"] = self.risk
        return tool


@dataclass(slots=True)
class ToolResult:
    """Outcome of one tool call. Exactly one of `result`/`error` is meaningful."""

    call_id: str
    name: str
    result: Any = None
    error: str | None = None
    latency_ms: float = 0.0

    @property
    def is_error(self) -> bool:
        return self.error is not None

    @property
    def success(self) -> bool:
        """`not is_error` (the seed API's name)."""
        return self.error is None

    @property
    def content(self) -> str:
        """The text a model sees: the error, the string result, or the result as JSON."""
        if self.error is not None:
            return f"Error: {self.error}"
        if isinstance(self.result, str):
            return self.result
        return json.dumps(self.result, ensure_ascii=False, default=str)

    def to_message(self, fmt: ToolCallFormat = ToolCallFormat.OPENAI) -> dict[str, Any]:
        """A message feeding the result back to a model (OpenAI-style `role: tool` by default)."""
        if fmt is ToolCallFormat.ANTHROPIC:
            block: dict[str, Any] = {"type": "tool_result", "tool_use_id": self.call_id, "content": self.content}
            if self.is_error:
                block["is_error"] = True
            return {"role": "user", "content": [block]}
        return {"role": "tool", "tool_call_id": self.call_id, "content": self.content}


class ToolExecutor:
    """Runs tool calls: validates arguments, applies timeouts, turns every failure into a result."""

    def __init__(self, tool_configs: Sequence[ToolConfig], default_timeout: float | None = 30.0) -> None:
        self._tools: dict[str, ToolConfig] = {}
        for i, t in enumerate(tool_configs):
            if not isinstance(t, ToolConfig):
                raise ConfigError(f"tool_configs[{i}] must be a ToolConfig (use ToolConfig.from_function), got {type(t).__name__}")
            if t.name in self._tools:
                raise ConfigError(f"tool_configs[{i}]: duplicate tool name {t.name!r}; tool names must be unique")
            self._tools[t.name] = t
        self._by_name = {name: t.to_tool() for name, t in self._tools.items()}
        self.default_timeout = default_timeout

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The universal tool definitions, to pass to a model."""
        return list(self._by_name.values())

    async def execute(self, tool_call: ToolCall) -> ToolResult:
        """Run one call. Never raises for tool problems: they come back as error results."""
        start = time.perf_counter()
        result = ToolResult(call_id=tool_call.id, name=tool_call.name)
        try:
            result.result = await self._run(tool_call)
        except _ToolFailure as e:
            result.error = str(e)
        except Exception as e:  # the tool's own bug must not break the agent loop
            result.error = f"{type(e).__name__}: {e}"
            log.info("tool %s raised %s", tool_call.name, result.error)
        result.latency_ms = (time.perf_counter() - start) * 1000
        return result

    async def _run(self, call: ToolCall) -> Any:
        tool = self._tools.get(call.name)
        problems = validate_tool_call(call, self._by_name)
        if problems:
            raise _ToolFailure("invalid tool call: " + "; ".join(problems))
        assert tool is not None  # validate_tool_call reports unknown names
        fn = tool.function
        if fn is None:
            raise _ToolFailure(f"tool {call.name!r} has no function to run")
        timeout = tool.timeout if tool.timeout is not None else self.default_timeout
        kwargs = dict(call.args)
        scope: anyio.CancelScope | None = None
        try:
            with anyio.fail_after(timeout) as scope:
                if _is_async(fn):
                    out = await fn(**kwargs)
                else:
                    # Blocking work runs in a thread; on timeout the thread is abandoned, not killed.
                    out = await anyio.to_thread.run_sync(lambda: fn(**kwargs), abandon_on_cancel=True)
                if inspect.isawaitable(out):
                    out = await out
        except TimeoutError:
            if scope is None or not scope.cancelled_caught:
                raise  # the tool's own TimeoutError: reported like any other exception
            raise _ToolFailure(f"tool {call.name!r} timed out after {timeout:g}s") from None
        return out

    async def execute_many(self, calls: Sequence[ToolCall], max_concurrency: int | None = None) -> list[ToolResult]:
        """Run calls concurrently; results come back in the order of `calls`."""
        results: list[ToolResult | None] = [None] * len(calls)
        limiter = anyio.CapacityLimiter(max_concurrency) if max_concurrency else None

        async def one(i: int, call: ToolCall) -> None:
            if limiter is None:
                results[i] = await self.execute(call)
            else:
                async with limiter:
                    results[i] = await self.execute(call)

        async with anyio.create_task_group() as tg:
            for i, call in enumerate(calls):
                tg.start_soon(one, i, call)
        return [r for r in results if r is not None]


def _is_async(fn: Callable[..., Any]) -> bool:
    """An async function, or an object whose __call__ is one."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(type(fn), "__call__", None))  # noqa: B004


class _ToolFailure(Exception):
    """A failure reported as-is in the result (no exception type prefix)."""
