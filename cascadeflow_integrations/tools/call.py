"""`ToolCall` and `ToolCallFormat`: a tool call as the model made it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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


@dataclass(slots=True)
class ToolCall:
    """A tool call. `arguments` may be given as a dict or a JSON string; it is stored as a dict.

    `raw_arguments` keeps the exact text the model produced (useful when it is not valid JSON:
    then `arguments` is `{}` and `parse_error` says why).
    """

    id: str
    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    provider_format: ToolCallFormat = ToolCallFormat.OPENAI
    raw_arguments: str | None = None
    parse_error: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.arguments, str):
            self.raw_arguments = self.arguments
            try:
                parsed = json.loads(self.arguments) if self.arguments.strip() else {}
            except json.JSONDecodeError as e:
                self.parse_error = f"arguments are not valid JSON: {e}"
                parsed = {}
            if not isinstance(parsed, dict):
                self.parse_error = f"arguments must be a JSON object, got {type(parsed).__name__}"
                parsed = {}
            self.arguments = parsed
        elif self.raw_arguments is None:
            self.raw_arguments = json.dumps(self.arguments)

    @property
    def args(self) -> dict[str, Any]:
        return self.arguments  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        """`{'id', 'name', 'arguments'}` with arguments as a dict."""
        return {"id": self.id, "name": self.name, "arguments": self.arguments}

    def to_provider(self, fmt: ToolCallFormat | None = None) -> dict[str, Any]:
        """Render in a provider's wire format."""
        fmt = fmt or self.provider_format
        if fmt is ToolCallFormat.ANTHROPIC:
            return {"type": "tool_use", "id": self.id, "name": self.name, "input": self.arguments}
        if fmt is ToolCallFormat.UNIVERSAL:
            return self.to_dict()
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": json.dumps(self.arguments)},
        }
