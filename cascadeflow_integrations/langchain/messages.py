"""LangChain messages to engine messages (and tool choices), keeping structure: no flattening."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from ..tools.call import ToolCall
from ..types import Message

__all__ = ["to_engine_messages", "to_engine_tool_choice"]

_CHAT_ROLES = {"user": "user", "human": "user", "assistant": "assistant", "ai": "assistant",
               "system": "system", "developer": "system", "tool": "tool"}


def to_engine_messages(messages: Sequence[BaseMessage]) -> list[Message]:
    """Convert a LangChain conversation; tool calls, tool-call ids, names and content parts are kept."""
    return [_one(m) for m in messages]


def to_langchain_messages(messages: Sequence[Message]) -> list[BaseMessage]:
    """Engine messages as LangChain messages (for members called outside `ChatCascade`)."""
    out: list[BaseMessage] = []
    for m in messages:
        content: Any = m.content
        if m.role == "system":
            out.append(SystemMessage(content=content))
        elif m.role == "user":
            out.append(HumanMessage(content=content))
        elif m.role == "assistant":
            calls = [{"id": c.id, "name": c.name, "args": c.arguments, "type": "tool_call"} for c in m.tool_calls]
            out.append(AIMessage(content=content, tool_calls=calls))
        else:
            out.append(ToolMessage(content=content, tool_call_id=m.tool_call_id or "",
                                   status="error" if m.is_error else "success"))
    return out


def _one(m: BaseMessage) -> Message:
    if isinstance(m, SystemMessage):
        return Message("system", _content(m.content), name=m.name)
    if isinstance(m, HumanMessage):
        return Message("user", _content(m.content), name=m.name)
    if isinstance(m, AIMessage):
        calls = [ToolCall(id=c.get("id") or "", name=c["name"], arguments=c.get("args") or {}) for c in m.tool_calls]
        # invalid calls were still made by the model: resend them so the tool results that follow match
        calls += [ToolCall(id=c.get("id") or "", name=c.get("name") or "", arguments=c.get("args") or "")
                  for c in m.invalid_tool_calls]
        return Message("assistant", _content(m.content, assistant=True), calls, name=m.name)
    if isinstance(m, ToolMessage):
        # status="error" reaches Anthropic as `is_error`; Chat Completions has no field, the text carries it.
        return Message("tool", _content(m.content), tool_call_id=m.tool_call_id, name=m.name,
                       is_error=m.status == "error")
    if isinstance(m, ChatMessage):
        role = _CHAT_ROLES.get(m.role)
        if role is None:
            raise ValueError(f"ChatMessage role {m.role!r} is not supported: use one of {', '.join(_CHAT_ROLES)}")
        return Message(role, _content(m.content), name=m.name)  # type: ignore[arg-type]
    if isinstance(m, FunctionMessage):
        raise TypeError("FunctionMessage (legacy function calling) is not supported: use ToolMessage")
    raise TypeError(f"unsupported message type {type(m).__name__}")


def _content(content: str | list[Any], assistant: bool = False) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, str):
            parts.append({"type": "text", "text": block})
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif assistant:
            # tool_use / tool_call blocks duplicate `tool_calls`; reasoning blocks are model-specific
            continue
        elif kind == "image" and "source" not in block:
            parts.append(_image(block))
        else:
            parts.append(block)
    return parts


def _image(block: dict[str, Any]) -> dict[str, Any]:
    """A LangChain v1 image block as an OpenAI `image_url` part (the engine's common form)."""
    if block.get("url"):
        url = block["url"]
    elif block.get("base64"):
        url = f"data:{block.get('mime_type') or 'image/png'};base64,{block['base64']}"
    else:
        return block
    return {"type": "image_url", "image_url": {"url": url}}


def to_engine_tool_choice(choice: Any) -> str | dict[str, Any] | None:
    """LangChain's `tool_choice` forms: "any"/True mean required, a tool name forces that tool."""
    if choice is None or choice is False:
        return None
    if choice is True or choice == "any":
        return "required"
    if isinstance(choice, str):
        if choice in ("auto", "none", "required"):
            return choice
        return {"type": "function", "function": {"name": choice}}
    if isinstance(choice, dict):
        return choice
    raise ValueError(f"tool_choice {choice!r} is not supported: use 'auto', 'any', 'none', a tool name or a dict")
