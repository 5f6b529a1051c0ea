"""Groq through `groq.AsyncGroq`: the OpenAI wire format with Groq's differences.

Differences handled: a tool call arrives whole in one delta (the OpenAI parser emits it as one
`ToolCallDelta`), usage sits on the finish chunk under `usage` or only `x_groq.usage`, no
`stream_options` (not a parameter of the groq SDK), and no logprobs (Groq rejects them).
"""

from __future__ import annotations

from typing import Any

from ...tools.call import ToolCallFormat
from ._client import http_client
from .openai import OpenAIProvider

__all__ = ["GroqProvider"]


class GroqProvider(OpenAIProvider):
    """Models served by Groq."""

    sdk = "groq"
    sdk_module = "groq"
    supports_logprobs = False
    tool_format = ToolCallFormat.GROQ
    _usage_in_x_groq = True
    _path = "/openai/v1/chat/completions"
    #: Groq accepts only n=1: samples are concurrent requests
    multi_choice = False  # type: ignore[assignment]

    def _make_client(self, **kwargs: Any) -> Any:
        import groq

        return groq.AsyncGroq(**http_client(groq), **kwargs)

    def _stream_extras(self) -> dict[str, Any]:
        # Groq sends usage on the finish chunk without being asked
        return {}
