"""`CheckModel`: the cascade member a model-based check calls, with its price.

The engine hands checks the draft's own member (`ValidationRequest.draft_model`); a check given a
model of its own (`ModelConfig`, `Member(...)`, an adapter's model) resolves it into a member once.
Either way a check sees only `complete`, `sample` and `price`.
"""

from __future__ import annotations

from typing import Any

from ..models.providers.base import gather_samples
from ..types import ChatRequest, Completion, Samples, Usage


class CheckModel:
    """A member as a check sees it. `sample` uses the member's own multi-answer call when it has one
    (an SDK member: OpenAI's `n`), else `n` concurrent `complete` calls."""

    def __init__(self, member: Any) -> None:
        self.member = member

    @property
    def name(self) -> str:
        return str(self.member.label)

    @property
    def supports_logprobs(self) -> bool:
        return bool(getattr(self.member, "supports_logprobs", False))

    @property
    def multi_choice(self) -> bool:
        return bool(getattr(self.member, "multi_choice", False))

    async def complete(self, request: ChatRequest) -> Completion:
        completion: Completion = await self.member.complete(request)
        return completion

    async def sample(self, request: ChatRequest, n: int) -> Samples:
        own = getattr(self.member, "sample", None)
        if own is not None:
            samples: Samples = await own(request, n)
            return samples
        return await gather_samples(self.member.complete, request, n)

    def price(self, usage: Usage) -> float:
        """USD for `usage`; 0 when the member's price is unknown (the member warns once), as for the judge."""
        return self.member.price(usage) or 0.0


def own_member(model: Any, where: str) -> Any:
    """A check's own member from what the user gave (`ModelConfig`, `Member(...)`, an adapter's model)."""
    from ..models.members import resolve_member

    return resolve_member(model, where)
