"""Turn what users pass (a string, dicts, Message objects) into the engine's message list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .tools.call import ToolCall
from .types import Message

_ROLES = ("system", "user", "assistant", "tool")


def to_messages(query: str | Sequence[Message | dict[str, Any]], system_prompt: str | None = None) -> list[Message]:
    """Normalise a query into messages, keeping roles (a system prompt stays a system message)."""
    if isinstance(query, str):
        if not query.strip():
            raise ValueError("query is empty: pass the question as a non-empty string or a list of messages")
        msgs = [Message("user", query)]
    elif isinstance(query, Sequence):
        if not query:
            raise ValueError("query is an empty list: pass at least one message, e.g. [{'role': 'user', 'content': 'hi'}]")
        msgs = [_one(m, i) for i, m in enumerate(query)]  # type: ignore[arg-type]  # _one rejects str items
    else:
        raise ValueError(f"query must be a string or a list of messages, got {type(query).__name__}")
    if system_prompt:
        if any(m.role == "system" for m in msgs):
            raise ValueError("system_prompt= was given but the messages already hold a system message: pass one of them")
        msgs.insert(0, Message("system", system_prompt))
    if not any(m.role in ("user", "tool") for m in msgs):
        raise ValueError("the messages hold no user message: add {'role': 'user', 'content': ...}")
    return msgs


def _one(m: Message | dict[str, Any], i: int) -> Message:
    if isinstance(m, Message):
        return m
    if not isinstance(m, dict):
        raise ValueError(f"message {i} is a {type(m).__name__}: use a dict with 'role' and 'content' or a Message")
    role = m.get("role")
    if role not in _ROLES:
        raise ValueError(f"message {i} has role {role!r}: use one of {', '.join(_ROLES)}")
    content = m.get("content")
    if content is None:
        content = ""
    if role == "tool" and not m.get("tool_call_id"):
        raise ValueError(f"message {i} (role 'tool') has no tool_call_id: give the id of the call it answers")
    calls = [_call(c, i) for c in (m.get("tool_calls") or [])]
    return Message(role, content, calls, m.get("tool_call_id"), m.get("name"), bool(m.get("is_error")))


def _call(c: Any, i: int) -> ToolCall:
    if isinstance(c, ToolCall):
        return c
    if isinstance(c, dict):
        fn = c.get("function")
        if isinstance(fn, dict):  # OpenAI shape
            return ToolCall(id=c.get("id", ""), name=fn.get("name", ""), arguments=fn.get("arguments") or {})
        if "name" in c:  # universal / Anthropic / LangChain shapes
            args = c.get("arguments", c.get("input", c.get("args", {})))
            return ToolCall(id=c.get("id", ""), name=c["name"], arguments=args or {})
    raise ValueError(f"message {i} has a tool call of unknown shape {c!r}: use {{'id', 'name', 'arguments'}}")
