"""LangChain integration: `ChatCascade`, cascade callback events and a cost context manager."""

from __future__ import annotations

try:
    import langchain_core  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the install
    raise ImportError(
        "cascadeflow_integrations.langchain needs langchain-core: pip install 'cascadeflow-integrations[langchain]'"
    ) from e

from ..models.members import Member
from .chat_model import ChatCascade
from .events import (
    CASCADE_EVENTS,
    AsyncCascadeCallbackHandler,
    CascadeCallbackHandler,
    CascadeCostCallback,
    get_cascade_callback,
)
from .members import LangChainMember



def __getattr__(name: str) -> object:
    # `CascadeMiddleware` needs the `langchain` package (LangChain 1.x agents), not only langchain-core.
    if name == "CascadeMiddleware":
        try:
            from .middleware import CascadeMiddleware
        except ImportError as e:
            raise ImportError("CascadeMiddleware needs LangChain 1.x agents: pip install 'langchain>=1.0'") from e
        return CascadeMiddleware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CASCADE_EVENTS",
    "AsyncCascadeCallbackHandler",
    "CascadeCallbackHandler",
    "CascadeCostCallback",
    "CascadeMiddleware",
    "ChatCascade",
    "LangChainMember",
    "Member",
    "get_cascade_callback",
]
