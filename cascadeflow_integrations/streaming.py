"""Public event types streamed by `CascadeAgent.stream_events`.

Text requests yield `StreamEvent`s; requests with `tools=` yield `ToolStreamEvent`s. Every field a
consumer needs is in `data` (documented per event type in docs/concepts/events.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class StreamEventType(str, Enum):
    ROUTING = "routing"
    CHUNK = "chunk"
    DRAFT_DECISION = "draft_decision"
    SWITCH = "switch"
    COMPLETE = "complete"
    ERROR = "error"


class ToolStreamEventType(str, Enum):
    ROUTING = "routing"
    TEXT_CHUNK = "text_chunk"
    TOOL_CALL_START = "tool_call_start"
    TOOL_CALL_DELTA = "tool_call_delta"
    TOOL_CALL_COMPLETE = "tool_call_complete"
    DRAFT_DECISION = "draft_decision"
    SWITCH = "switch"
    COMPLETE = "complete"
    ERROR = "error"


@dataclass(slots=True)
class StreamEvent:
    type: StreamEventType
    content: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def metadata(self) -> dict[str, Any]:
        """Alias of `data` (the seed API's name)."""
        return self.data


@dataclass(slots=True)
class ToolStreamEvent:
    type: ToolStreamEventType
    content: str = ""
    delta: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def metadata(self) -> dict[str, Any]:
        return self.data

    @property
    def tool_call(self) -> dict[str, Any] | None:
        """`data['tool_call']` (also readable as an attribute, so both documented styles work)."""
        return self.data.get("tool_call")


__all__ = ["StreamEvent", "StreamEventType", "ToolStreamEvent", "ToolStreamEventType"]
