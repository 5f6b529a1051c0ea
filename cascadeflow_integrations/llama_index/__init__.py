"""LlamaIndex integration: `CascadeLLM` and the cascade instrumentation events.

Needs the `llama-index` extra: `pip install "cascadeflow-integrations[llama-index]"`.
"""

from __future__ import annotations

try:
    import llama_index.core  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "cascadeflow_integrations.llama_index needs llama-index-core: "
        'pip install "cascadeflow-integrations[llama-index]"') from e

from .events import (
    CascadeCompleteEvent,
    CascadeDecisionEvent,
    CascadeErrorEvent,
    CascadeEvent,
    CascadeRoutingEvent,
    CascadeSwitchEvent,
)
from .llm import CascadeLLM
from .messages import to_universal_tools

__all__ = [
    "CascadeCompleteEvent",
    "CascadeDecisionEvent",
    "CascadeErrorEvent",
    "CascadeEvent",
    "CascadeLLM",
    "CascadeRoutingEvent",
    "CascadeSwitchEvent",
    "to_universal_tools",
]
