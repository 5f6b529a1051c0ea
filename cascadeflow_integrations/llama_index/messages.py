"""Conversion between LlamaIndex chat types and the engine's messages, tools and tool calls."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    CachePoint,
    ChatMessage,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.tools.types import BaseTool

from ..tools.call import ToolCall
from ..types import Message, Role

__all__ = [
    "resolve_tool_choice",
    "to_engine_messages",
    "to_tool_selections",
    "to_universal_tools",
    "tool_call_blocks",
]

_ROLES: dict[MessageRole, Role] = {
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "system",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
    MessageRole.TOOL: "tool",
    MessageRole.FUNCTION: "tool",
}
#: blocks that carry nothing a provider needs back (reasoning of earlier turns, cache hints)
_SKIPPED = (ThinkingBlock, CachePoint, ToolCallBlock)


def to_engine_messages(messages: Sequence[ChatMessage]) -> list[Message]:
    """LlamaIndex `ChatMessage`s as engine `Message`s (tool calls and tool results included)."""
    if not messages:
        raise ValueError("CascadeLLM got no messages: pass at least one ChatMessage(role='user', content=...)")
    return [_message(m, i) for i, m in enumerate(messages)]


def _message(m: ChatMessage, i: int) -> Message:
    if not isinstance(m, ChatMessage):
        raise ValueError(f"message {i} is a {type(m).__name__}, not a llama_index ChatMessage")
    role = _ROLES.get(m.role)
    if role is None:  # pragma: no cover - every MessageRole is mapped
        raise ValueError(f"message {i} has unsupported role {m.role!r}")
    content = _content(m, i)
    if role == "tool":
        call_id = m.additional_kwargs.get("tool_call_id")
        if not call_id:
            raise ValueError(
                f"message {i} (role 'tool') has no additional_kwargs['tool_call_id']: "
                "give the id of the tool call it answers")
        return Message("tool", content, tool_call_id=str(call_id), name=m.additional_kwargs.get("name"))
    calls = _tool_calls(m, i) if role == "assistant" else []
    return Message(role, content, calls)


def _content(m: ChatMessage, i: int) -> str | list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    has_image = False
    for b in m.blocks:
        if isinstance(b, TextBlock):
            parts.append({"type": "text", "text": b.text})
        elif isinstance(b, ImageBlock):
            parts.append({"type": "image_url", "image_url": {"url": _image_url(b, i)}})
            has_image = True
        elif not isinstance(b, _SKIPPED):
            raise ValueError(f"message {i} holds a {type(b).__name__}, which CascadeLLM cannot send: "
                             "use text or image blocks")
    if has_image:
        return parts
    # LlamaIndex joins text blocks with newlines (ChatMessage.content); keep that reading
    return "\n".join(p["text"] for p in parts)


def _image_url(b: ImageBlock, i: int) -> str:
    if b.url is not None:
        return str(b.url)
    if isinstance(b.image, bytes):  # ImageBlock stores inline images base64-encoded
        return f"data:{b.image_mimetype or 'image/png'};base64,{b.image.decode()}"
    raise ValueError(f"message {i} has an ImageBlock without url or image data")


def _tool_calls(m: ChatMessage, i: int) -> list[ToolCall]:
    calls = [ToolCall(id=b.tool_call_id or "", name=b.tool_name, arguments=b.tool_kwargs)
             for b in m.blocks if isinstance(b, ToolCallBlock)]
    if calls:
        return calls
    # older integrations and hand-built histories keep OpenAI-shaped calls in additional_kwargs
    for raw in m.additional_kwargs.get("tool_calls") or []:
        d = raw.model_dump() if hasattr(raw, "model_dump") else raw
        if not isinstance(d, dict):
            raise ValueError(f"message {i} has a tool call of unknown shape {raw!r}")
        fn: dict[str, Any] = d["function"] if isinstance(d.get("function"), dict) else d
        calls.append(ToolCall(id=d.get("id") or "", name=fn.get("name") or "",
                              arguments=fn.get("arguments", fn.get("args")) or {}))
    return calls


def to_universal_tools(tools: Sequence[Any]) -> list[dict[str, Any]]:
    """LlamaIndex tools (any `BaseTool`) or universal dicts as `{"name", "description", "parameters"}`."""
    out: list[dict[str, Any]] = []
    for i, t in enumerate(tools):
        if isinstance(t, dict):
            out.append(t)  # already universal/OpenAI: the engine validates it
            continue
        if not isinstance(t, BaseTool):
            raise ValueError(f"tools[{i}] is a {type(t).__name__}: pass LlamaIndex tools (FunctionTool, ...)")
        md = t.metadata
        if not md.name or not md.name.strip():
            raise ValueError(f"tools[{i}] has no name: set ToolMetadata(name=...) (e.g. FunctionTool.from_defaults"
                             "(fn, name='search'))")
        out.append({"name": md.get_name(), "description": md.description or "",
                    "parameters": md.get_parameters_dict()})
    return out


def resolve_tool_choice(tool_choice: Any, tool_required: bool) -> Any:
    """The engine's tool_choice from LlamaIndex's `tool_choice`/`tool_required` arguments."""
    if tool_choice is None:
        return "required" if tool_required else "auto"
    if isinstance(tool_choice, dict):  # OpenAI shape {"type": "function", "function": {"name": ...}}
        fn = tool_choice.get("function")
        name = fn.get("name") if isinstance(fn, dict) else tool_choice.get("name")
        if not name:
            raise ValueError(f"tool_choice {tool_choice!r} names no tool")
        return name
    return tool_choice


def tool_call_blocks(calls: Sequence[dict[str, Any]]) -> list[ToolCallBlock]:
    """`ToolCallBlock`s from `{"id", "name", "arguments"}` dicts."""
    return [ToolCallBlock(tool_call_id=c["id"], tool_name=c["name"], tool_kwargs=c.get("arguments") or {})
            for c in calls]


def to_tool_selections(message: ChatMessage) -> list[ToolSelection]:
    """The tool calls of an assistant message as `ToolSelection`s."""
    out = []
    for b in message.blocks:
        if isinstance(b, ToolCallBlock):
            kwargs = b.tool_kwargs
            if isinstance(kwargs, str):
                kwargs = _parse_args(kwargs)
            out.append(ToolSelection(tool_id=b.tool_call_id or "", tool_name=b.tool_name, tool_kwargs=kwargs))
    return out


def _parse_args(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        return {}  # partial JSON mid-stream: the final response carries the parsed arguments
    return value if isinstance(value, dict) else {}
