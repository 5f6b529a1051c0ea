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
    for i, m in enumerate(msgs):
        _check_content(m, i)
    _check_tool_turns(msgs)
    return msgs


def _check_content(m: Message, i: int) -> None:
    if m.role not in _ROLES:
        raise ValueError(f"message {i} has role {m.role!r}: use one of {', '.join(_ROLES)}")
    c = m.content
    if isinstance(c, list):
        for j, part in enumerate(c):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise ValueError(f"message {i} content[{j}] is {type(part).__name__} {part!r:.40}: content parts "
                                 "are dicts like {'type': 'text', 'text': '...'}")
            if part["type"] == "text" and not isinstance(part.get("text"), str):
                raise ValueError(f"message {i} content[{j}] is a text part without a string 'text': "
                                 "use {'type': 'text', 'text': '...'}")
    elif not isinstance(c, str):
        raise ValueError(f"message {i} content is {type(c).__name__} {c!r:.40}: pass a string, or a list of content "
                         "parts like [{'type': 'text', 'text': '...'}]")
    if m.role == "user" and not m.text.strip() and not any(p.get("type") != "text" for p in c if isinstance(p, dict)):
        raise ValueError(f"message {i} (role 'user') is empty or only whitespace: give it the user's text, or drop "
                         "the message (providers reject empty user turns)")


def _check_tool_turns(msgs: list[Message]) -> None:
    """Each tool result answers a call of the assistant turn just before; each call gets its result."""
    owner = -1  # index of the assistant message whose calls the following tool messages answer
    pending: dict[str, None] = {}
    for i, m in enumerate(msgs):
        if m.role == "tool":
            if owner < 0:
                raise ValueError(f"message {i} (role 'tool') answers tool call {m.tool_call_id!r}, but it does not "
                                 "follow an assistant message with tool_calls: put the assistant message that "
                                 "made the call right before the results, or drop the tool message")
            if m.tool_call_id not in pending:
                ids = [c.id for c in msgs[owner].tool_calls]
                raise ValueError(f"message {i} (role 'tool') answers tool call {m.tool_call_id!r}, which message "
                                 f"{owner} did not make or was already answered (its calls: {ids}): give each "
                                 "call one result, with that call's id as tool_call_id")
            del pending[m.tool_call_id]
            continue
        if pending:
            _unanswered(owner, pending)
        owner = -1
        if m.role == "assistant" and m.tool_calls:
            for c in m.tool_calls:
                if not isinstance(c.id, str) or not c.id:
                    raise ValueError(f"message {i} has a tool call ({c.name!r}) without an id: give each call an "
                                     "id, and its tool result that id as tool_call_id")
                if c.id in pending:
                    raise ValueError(f"message {i} has two tool calls with id {c.id!r}: give each call its own id")
                pending[c.id] = None
            owner = i
    if pending:
        _unanswered(owner, pending)


def _unanswered(owner: int, pending: dict[str, None]) -> None:
    raise ValueError(f"message {owner} (role 'assistant') made tool call(s) {list(pending)} with no result: add a "
                     "{'role': 'tool', 'tool_call_id': <id>, 'content': ...} message for each right after it, "
                     "or drop the calls")


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
    if not isinstance(content, (str, list)):
        raise ValueError(f"message {i} content is {type(content).__name__} {content!r:.40}: pass a string, or a list "
                         "of content parts like [{'type': 'text', 'text': '...'}]")
    if role == "tool" and not m.get("tool_call_id"):
        raise ValueError(f"message {i} (role 'tool') has no tool_call_id: give the id of the call it answers")
    calls = [_call(c, i) for c in (m.get("tool_calls") or [])]
    return Message(role, content, calls, m.get("tool_call_id"), m.get("name"), bool(m.get("is_error")))


def _call(c: Any, i: int) -> ToolCall:
    if isinstance(c, ToolCall):
        return c
    if isinstance(c, dict):
        fn = c.get("function")
        args = (fn or {}).get("arguments") if isinstance(fn, dict) else c.get("arguments", c.get("input", c.get("args")))
        if args is not None and not isinstance(args, (dict, str)):
            raise ValueError(f"message {i} has a tool call whose arguments are {type(args).__name__}: "
                             "pass a dict or a JSON object string")
    if isinstance(c, dict):
        fn = c.get("function")
        if isinstance(fn, dict):  # OpenAI shape
            return ToolCall(id=c.get("id", ""), name=fn.get("name", ""), arguments=fn.get("arguments") or {})
        if "name" in c:  # universal / Anthropic / LangChain shapes
            args = c.get("arguments", c.get("input", c.get("args", {})))
            return ToolCall(id=c.get("id", ""), name=c["name"], arguments=args or {})
    raise ValueError(f"message {i} has a tool call of unknown shape {c!r}: use {{'id', 'name', 'arguments'}}")
