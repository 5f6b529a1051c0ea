"""ToolExecutor: validation before running, sync/async functions, timeouts, errors, ordering."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from cascadeflow_integrations.tools import ToolCall, ToolCallFormat, ToolConfig, ToolExecutor, ToolResult


def add(a: int, b: int = 1) -> int:
    """Add two numbers."""
    return a + b


async def aecho(text: str) -> dict[str, str]:
    """Echo back."""
    await asyncio.sleep(0)
    return {"echo": text}


def boom(x: int) -> None:
    """Always fails."""
    raise KeyError(f"no {x}")


def slow_sync(seconds: float) -> str:
    """Sleeps."""
    time.sleep(seconds)
    return "done"


async def slow_async(seconds: float) -> str:
    """Sleeps."""
    await asyncio.sleep(seconds)
    return "done"


@pytest.fixture
def executor() -> ToolExecutor:
    return ToolExecutor(
        [
            ToolConfig.from_function(add),
            ToolConfig.from_function(aecho),
            ToolConfig.from_function(boom),
            ToolConfig.from_function(slow_sync, timeout=0.2),
            ToolConfig.from_function(slow_async),
            ToolConfig(name="nofn", parameters={"type": "object"}),
        ],
        default_timeout=0.3,
    )


async def test_sync_function_runs_in_a_thread(executor: ToolExecutor) -> None:
    seen: list[str] = []

    def where() -> str:
        seen.append(threading.current_thread().name)
        return "ok"

    ex = ToolExecutor([ToolConfig.from_function(where)])
    r = await ex.execute(ToolCall("c1", "where", {}))
    assert r.result == "ok" and not r.is_error
    assert seen and seen[0] != threading.main_thread().name
    r = await executor.execute(ToolCall("c2", "add", '{"a": 2, "b": 3}'))
    assert (r.result, r.error, r.call_id, r.name) == (5, None, "c2", "add")
    assert r.latency_ms >= 0


async def test_async_function_is_awaited(executor: ToolExecutor) -> None:
    r = await executor.execute(ToolCall("c", "aecho", {"text": "hi"}))
    assert r.result == {"echo": "hi"}
    assert r.to_message() == {"role": "tool", "tool_call_id": "c", "content": json.dumps({"echo": "hi"})}


async def test_invalid_arguments_do_not_call_the_function() -> None:
    calls: list[int] = []

    def f(n: int) -> int:
        calls.append(n)
        return n

    ex = ToolExecutor([ToolConfig.from_function(f)])
    r = await ex.execute(ToolCall("c", "f", {"n": "three"}))
    assert r.is_error and "'three' is not of type 'integer'" in (r.error or "")
    r = await ex.execute(ToolCall("c", "f", {}))
    assert r.is_error and "'n' is a required property" in (r.error or "")
    r = await ex.execute(ToolCall("c", "f", '{"n": 1'))
    assert r.is_error and "not valid JSON" in (r.error or "")
    assert calls == []


async def test_unknown_tool_and_missing_function(executor: ToolExecutor) -> None:
    r = await executor.execute(ToolCall("c", "nope", {}))
    assert r.is_error and "unknown tool 'nope'" in (r.error or "") and "add" in (r.error or "")
    r = await executor.execute(ToolCall("c", "nofn", {}))
    assert r.is_error and "no function" in (r.error or "")


async def test_exceptions_become_error_results(executor: ToolExecutor) -> None:
    r = await executor.execute(ToolCall("c", "boom", {"x": 1}))
    assert r.error == "KeyError: 'no 1'"
    assert r.to_message()["content"] == "Error: KeyError: 'no 1'"
    block = r.to_message(ToolCallFormat.ANTHROPIC)["content"][0]
    assert block == {"type": "tool_result", "tool_use_id": "c", "content": "Error: KeyError: 'no 1'", "is_error": True}


async def test_per_tool_and_default_timeouts(executor: ToolExecutor) -> None:
    t0 = time.perf_counter()
    r = await executor.execute(ToolCall("c", "slow_sync", {"seconds": 2}))
    assert r.error == "tool 'slow_sync' timed out after 0.2s"
    r = await executor.execute(ToolCall("c", "slow_async", {"seconds": 5}))
    assert r.error == "tool 'slow_async' timed out after 0.3s"
    assert time.perf_counter() - t0 < 1.5  # the abandoned thread does not block us
    r = await executor.execute(ToolCall("c", "slow_async", {"seconds": 0.01}))
    assert r.result == "done"


async def test_execute_many_is_concurrent_and_keeps_order(executor: ToolExecutor) -> None:
    calls = [
        ToolCall("1", "slow_async", {"seconds": 0.05}),
        ToolCall("2", "add", {"a": 1}),
        ToolCall("3", "slow_sync", {"seconds": 0.01}),
        ToolCall("4", "boom", {"x": 4}),
        ToolCall("5", "missing", {}),
    ]
    results = await executor.execute_many(calls)
    assert [r.call_id for r in results] == ["1", "2", "3", "4", "5"]
    assert [r.is_error for r in results] == [False, False, False, True, True]
    assert results[1].result == 2
    limited = await executor.execute_many(calls[:3], max_concurrency=1)
    assert [r.call_id for r in limited] == ["1", "2", "3"]
    assert await executor.execute_many([]) == []


async def test_execute_many_really_overlaps() -> None:
    """Each tool waits for the other: run one after another, both would time out."""
    a_started, b_started = asyncio.Event(), asyncio.Event()

    async def ping() -> str:
        a_started.set()
        await b_started.wait()
        return "ping"

    async def pong() -> str:
        b_started.set()
        await a_started.wait()
        return "pong"

    ex = ToolExecutor([ToolConfig.from_function(ping), ToolConfig.from_function(pong)], default_timeout=5)
    results = await ex.execute_many([ToolCall("1", "pong", {}), ToolCall("2", "ping", {})])
    assert [r.result for r in results] == ["pong", "ping"]


def test_executor_rejects_bad_configs() -> None:
    with pytest.raises(ValueError, match="duplicate tool name 'add'"):
        ToolExecutor([ToolConfig.from_function(add), ToolConfig.from_function(add)])
    with pytest.raises(ValueError, match="must be a ToolConfig"):
        ToolExecutor([add])  # type: ignore[list-item]


def test_tools_property_and_result_content() -> None:
    ex = ToolExecutor([ToolConfig.from_function(add)])
    assert ex.tools[0]["name"] == "add" and ex.tools[0]["parameters"]["required"] == ["a"]
    assert ToolResult("i", "n", result="plain").content == "plain"
    assert ToolResult("i", "n", result=[1, "é"]).content == '[1, "é"]'


async def test_a_tools_own_timeout_error_is_not_reported_as_our_timeout() -> None:
    def flaky() -> None:
        raise TimeoutError("upstream API timed out")

    r = await ToolExecutor([ToolConfig.from_function(flaky)]).execute(ToolCall("c", "flaky", {}))
    assert r.error == "TimeoutError: upstream API timed out"
