"""LangChain integration: `ChatCascade`, cascade callback events and a cost context manager."""

from __future__ import annotations

try:
    import langchain_core  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the install
    raise ImportError(
        "cascadeflow_integrations.langchain needs langchain-core: pip install 'cascadeflow-integrations[langchain]'"
    ) from e

from ..members import Member
from .chat_model import ChatCascade
from .events import (
    CASCADE_EVENTS,
    AsyncCascadeCallbackHandler,
    CascadeCallbackHandler,
    CascadeCostCallback,
    get_cascade_callback,
)
from .members import LangChainMember

__all__ = [
    "CASCADE_EVENTS",
    "AsyncCascadeCallbackHandler",
    "CascadeCallbackHandler",
    "CascadeCostCallback",
    "ChatCascade",
    "LangChainMember",
    "Member",
    "get_cascade_callback",
]
