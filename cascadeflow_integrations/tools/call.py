"""`ToolCall` and `ToolCallFormat`: a tool call as the model made it."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any


class ToolCallFormat(str, Enum):
    """Wire formats a tool call can be rendered to."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GROQ = "groq"
    OLLAMA = "ollama"
    VLLM = "vllm"
    UNIVERSAL = "universal"


class ToolCall(dict):  # type: ignore[type-arg]
    """A tool call: a `{'id', 'name', 'arguments'}` dict that also reads as attributes.

    It is a dict so code written for the seed API (`call["name"]`, `isinstance(call, dict)`) keeps
    working. `arguments` may be given as a dict or a JSON string; it is stored as a dict, and
    `raw_arguments` keeps the exact text (when it is not valid JSON, `arguments` is `{}` and
    `parse_error` says why).
    """

    __slots__ = ("provider_format", "raw_arguments", "parse_error")

    def __init__(self, id: str, name: str, arguments: dict[str, Any] | str | None = None,  # noqa: A002
                 provider_format: ToolCallFormat = ToolCallFormat.OPENAI, raw_arguments: str | None = None) -> None:
        self.provider_format = provider_format
        self.parse_error: str | None = None
        if arguments is None:
            arguments = {}
        if isinstance(arguments, str):
            raw_arguments = arguments
            try:
                parsed = json.loads(arguments) if arguments.strip() else {}
            except (ValueError, RecursionError) as e:  # JSONDecodeError, a 4300+ digit int, deep nesting
                self.parse_error = f"arguments are not valid JSON: {str(e)[:200]}"
                parsed = {}
            if not isinstance(parsed, dict):
                self.parse_error = f"arguments must be a JSON object, got {type(parsed).__name__}"
                parsed = {}
            arguments = parsed
        self.raw_arguments = raw_arguments if raw_arguments is not None else json.dumps(arguments)
        super().__init__(id=id, name=name, arguments=arguments)

    @property
    def id(self) -> str:
        return self["id"]

    @property
    def name(self) -> str:
        return self["name"]

    @property
    def arguments(self) -> dict[str, Any]:
        return self["arguments"]

    args = arguments

    def to_dict(self) -> dict[str, Any]:
        """A plain `{'id', 'name', 'arguments'}` dict."""
        return dict(self)

    def to_provider(self, fmt: ToolCallFormat | None = None) -> dict[str, Any]:
        """Render in a provider's wire format."""
        fmt = fmt or self.provider_format
        if fmt is ToolCallFormat.ANTHROPIC:
            return {"type": "tool_use", "id": self.id, "name": self.name, "input": self.arguments}
        if fmt is ToolCallFormat.UNIVERSAL:
            return self.to_dict()
        return {"id": self.id, "type": "function",
                "function": {"name": self.name, "arguments": json.dumps(self.arguments)}}

    def __repr__(self) -> str:
        return f"ToolCall(id={self.id!r}, name={self.name!r}, arguments={self.arguments!r})"
