"""`CascadeMiddleware`: a cascade for every model call of a LangChain 1.x `create_agent` agent.

`create_agent(model=strong, tools=..., middleware=[CascadeMiddleware(draft=cheap)])`: each model call
is drafted by `draft` (a chat model, a `ModelConfig`, or a list of them, cheapest first), checked, and
escalated to the agent's own model when the check fails. The call runs through a `ChatCascade` whose
last member is the request's model, so tools, structured output, cascade events, the decision log,
cost totals and child runs are exactly those of `ChatCascade`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from langchain.agents.middleware.types import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.language_models import BaseChatModel

from ..errors import ConfigError
from .chat_model import ChatCascade

__all__ = ["CascadeMiddleware"]

#: cascades kept per agent model (an agent usually has one; fallbacks or routers may swap it)
_CACHE_SIZE = 8


class CascadeMiddleware(AgentMiddleware):  # type: ignore[type-arg]
    """Draft each agent model call with a cheaper model; escalate to the agent's model on a failed check.

    `draft`: a chat model, a `ModelConfig`, a `Member(...)`, or a list of them, cheapest first. Other
    keyword arguments are `ChatCascade` fields (`quality_threshold`, `validator`, `streaming_mode`, ...).
    """

    def __init__(self, draft: Any, **cascade_fields: Any) -> None:
        super().__init__()
        drafts = list(draft) if isinstance(draft, Sequence) and not isinstance(draft, (str, bytes)) else [draft]
        if not drafts:
            raise ConfigError("CascadeMiddleware needs a draft model: CascadeMiddleware(draft=ChatOpenAI(...))")
        for name in ("models", "agent"):
            if name in cascade_fields:
                raise ConfigError(f"CascadeMiddleware takes draft=..., not {name}=: the agent's model is the last step")
        self.draft = drafts
        self.cascade_fields = cascade_fields
        ChatCascade(models=drafts, **cascade_fields)  # bad drafts or fields fail here, not on the first call
        self._cascades: OrderedDict[int, tuple[BaseChatModel, ChatCascade]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return "CascadeMiddleware"

    def cascade_for(self, model: BaseChatModel) -> ChatCascade:
        """The cascade whose last member is `model` (built once per model)."""
        with self._lock:
            hit = self._cascades.get(id(model))
            if hit is not None and hit[0] is model:
                self._cascades.move_to_end(id(model))
                return hit[1]
            cascade = ChatCascade(models=[*self.draft, model], **self.cascade_fields)
            self._cascades[id(model)] = (model, cascade)
            while len(self._cascades) > _CACHE_SIZE:
                self._cascades.popitem(last=False)
            return cascade

    def _request(self, request: ModelRequest) -> ModelRequest:  # type: ignore[type-arg]
        if isinstance(request.model, ChatCascade):
            return request  # already a cascade: nothing to add
        return request.override(model=self.cascade_for(request.model))

    def wrap_model_call(self, request: ModelRequest,  # type: ignore[type-arg]
                        handler: Callable[[ModelRequest], ModelResponse]) -> ModelResponse:  # type: ignore[type-arg]
        return handler(self._request(request))

    async def awrap_model_call(
        self, request: ModelRequest,  # type: ignore[type-arg]
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],  # type: ignore[type-arg]
    ) -> ModelResponse:  # type: ignore[type-arg]
        return await handler(self._request(request))
