"""Tools: definitions, validation, streaming argument parsing and execution."""

from .call import ToolCall, ToolCallFormat
from .executor import ToolConfig, ToolExecutor, ToolResult
from .json_stream import JSONStreamError, ProgressiveJSONParser
from .schema import (
    ToolChoice,
    normalize_tool,
    normalize_tool_choice,
    normalize_tools,
    partial_arguments_violation,
    schema_from_function,
    validate_tool_call,
)

__all__ = [
    "JSONStreamError",
    "ProgressiveJSONParser",
    "ToolCall",
    "ToolCallFormat",
    "ToolChoice",
    "ToolConfig",
    "ToolExecutor",
    "ToolResult",
    "normalize_tool",
    "normalize_tool_choice",
    "normalize_tools",
    "partial_arguments_violation",
    "schema_from_function",
    "validate_tool_call",
]
