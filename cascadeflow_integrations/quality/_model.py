"""`CheckModel`: the cascade member a model-based check calls, with its price.

The engine hands checks the draft's own member (`ValidationRequest.draft_model`); a check given a
model of its own (`ModelConfig`, `Member(...)`, an adapter's model) resolves it into a member once,
through the resolver the cascade layer installs (`quality/` never imports `models/`). Either way a
check sees only `complete`, `sample` and `price`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..types import ChatRequest, Completion, Samples, Usage, gather_samples

#: (what the user gave, where it was given) -> a member; `models.members.resolve_member`, installed by
#: `cascade/agent.py` (imported with the package, so it is set before any check is built)
MemberResolver = Callable[[Any, str], Any]
_resolver: MemberResolver | None = None


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


def resolve_members_with(resolver: MemberResolver) -> None:
    """Install how a check's own model becomes a member (the layer that knows the members calls this)."""
    global _resolver
    _resolver = resolver


def own_member(model: Any, where: str) -> Any:
    """A check's own member from what the user gave (`ModelConfig`, `Member(...)`, an adapter's model)."""
    if _resolver is None:  # only if quality/ were loaded without the package that installs it
        raise RuntimeError(f"{where}: no member resolver installed; import cascadeflow_integrations first")
    return _resolver(model, where)
