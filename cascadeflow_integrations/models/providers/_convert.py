"""Convert library messages, tools and tool_choice into each provider's request format.

OpenAI and Groq share the Chat Completions format; Anthropic differs (separate `system`,
`tool_use`/`tool_result` blocks, strictly merged same-role turns).
"""

from __future__ import annotations

import json
from typing import Any

from ...tools.call import ToolCall
from ...types import Message

__all__ = [
    "anthropic_cache_breakpoints",
    "anthropic_messages",
    "anthropic_tool_choice",
    "anthropic_tools",
    "openai_messages",
    "openai_tool_choice",
    "openai_tools",
    "tool_spec",
]

ToolChoice = str | dict[str, str] | None


def _arguments_json(call: ToolCall) -> str:
    # resend the model's exact text when it parsed, so the conversation prefix stays byte-identical
    if call.raw_arguments is not None and call.parse_error is None:
        return call.raw_arguments
    return json.dumps(call.arguments)


def tool_spec(tool: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """`(name, description, parameters)` from a universal, OpenAI or Anthropic tool definition."""
    if tool.get("type") == "function" and isinstance(tool.get("function"), dict):
        tool = tool["function"]
    params = tool.get("parameters") or tool.get("input_schema") or {"type": "object", "properties": {}}
    return str(tool["name"]), str(tool.get("description") or ""), params


# ---- OpenAI / Groq ----------------------------------------------------------------------------


def openai_messages(messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.text})
            continue
        msg: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.role == "assistant" and m.tool_calls:
            msg["content"] = m.content or None
            msg["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": _arguments_json(c)}}
                for c in m.tool_calls
            ]
        if m.name:
            msg["name"] = m.name
        out.append(msg)
    return out


def openai_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for t in tools:
        name, description, params = tool_spec(t)
        fn: dict[str, Any] = {"name": name, "parameters": params}
        if description:
            fn["description"] = description
        out.append({"type": "function", "function": fn})
    return out


def openai_tool_choice(choice: ToolChoice) -> Any:
    if isinstance(choice, dict):
        return {"type": "function", "function": {"name": choice["name"]}}
    return choice


# ---- Anthropic ---------------------------------------------------------------------------------


def _anthropic_part(part: dict[str, Any]) -> dict[str, Any] | None:
    kind = part.get("type")
    if kind == "text":
        text = part.get("text") or ""
        # Anthropic rejects empty and whitespace-only text blocks
        return {"type": "text", "text": text} if text.strip() else None
    if kind == "image_url":
        url = part["image_url"]["url"] if isinstance(part.get("image_url"), dict) else str(part.get("image_url"))
        if url.startswith("data:") and ";base64," in url:
            media, data = url[5:].split(";base64,", 1)
            return {"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}
        return {"type": "image", "source": {"type": "url", "url": url}}
    return part  # already an Anthropic block (image, document, ...)


def _anthropic_blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    return [b for b in (_anthropic_part(p) for p in content) if b is not None]


def anthropic_messages(messages: list[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """`(system, messages)`; tool results become user `tool_result` blocks, same roles are merged."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            if m.text:
                system.append(m.text)
            continue
        if m.role == "tool":
            role = "user"
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.tool_call_id or "", "content": m.text}
            if m.is_error:
                result["is_error"] = True
            blocks: list[dict[str, Any]] = [result]
        else:
            role = m.role
            blocks = _anthropic_blocks(m.content)
            if m.role == "assistant":
                blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in m.tool_calls]
        if out and out[-1]["role"] == role:
            prev = out[-1]["content"]
            if role == "user" and blocks and blocks[0]["type"] == "tool_result":
                # tool results must lead the user turn that follows the tool_use turn
                lead = [b for b in prev if b.get("type") == "tool_result"]
                rest = [b for b in prev if b.get("type") != "tool_result"]
                out[-1]["content"] = lead + blocks + rest
            else:
                prev.extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for msg in out:
        if not msg["content"]:
            if msg["role"] == "user":  # the engine refuses these before any request; never send a placeholder
                raise ValueError("an empty user message cannot be sent to Anthropic: give it the user's text")
            # an assistant turn with no text (a prefill or an empty earlier answer): keep the turn structure
            msg["content"] = [{"type": "text", "text": "."}]
    return ("\n\n".join(system) or None), out


def anthropic_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for t in tools:
        name, description, params = tool_spec(t)
        tool: dict[str, Any] = {"name": name, "input_schema": params}
        if description:
            tool["description"] = description
        out.append(tool)
    return out


def anthropic_tool_choice(choice: ToolChoice, parallel_tool_calls: bool | None) -> dict[str, Any] | None:
    if isinstance(choice, dict):
        result: dict[str, Any] = {"type": "tool", "name": choice["name"]}
    elif choice is None:
        if parallel_tool_calls is not False:
            return None
        result = {"type": "auto"}
    else:
        result = {"type": {"auto": "auto", "required": "any", "none": "none"}.get(choice, choice)}
    if parallel_tool_calls is False and result["type"] != "none":
        result["disable_parallel_tool_use"] = True
    return result


def anthropic_cache_breakpoints(body: dict[str, Any], cache: Any) -> None:
    """Mark `cache_control` breakpoints on a Messages body (in place): after the last tool, after the
    system prompt, and on the last block of each of the last `cache.last_messages` messages.

    Marked blocks are copies: blocks the caller passed in as Anthropic blocks are never changed.
    """
    mark = cache.block()
    tools = body.get("tools")
    if cache.tools and tools:
        body["tools"] = [*tools[:-1], {**tools[-1], "cache_control": mark}]
    system = body.get("system")
    if cache.system and system:
        blocks = [{"type": "text", "text": system}] if isinstance(system, str) else list(system)
        blocks[-1] = {**blocks[-1], "cache_control": mark}
        body["system"] = blocks
    if cache.last_messages:
        for msg in body.get("messages", [])[-cache.last_messages:]:
            content = msg.get("content")
            if isinstance(content, list) and content:
                # thinking blocks cannot carry a breakpoint: mark the last block that can
                for i in range(len(content) - 1, -1, -1):
                    if content[i].get("type") not in ("thinking", "redacted_thinking"):
                        msg["content"] = [*content[:i], {**content[i], "cache_control": mark}, *content[i + 1:]]
                        break
