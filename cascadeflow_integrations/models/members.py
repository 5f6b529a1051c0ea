"""Cascade members: the seam between the engine and whatever answers a request.

A member turns a `ChatRequest` into a stream of the internal deltas (`types.py`) and prices a
usage. SDK members (`ModelConfig`) wrap the provider layer; the adapters add LangChain chat models
and LlamaIndex LLMs as members, so routing, validation, escalation, events and cost work the same
for all of them. `Member(model, input_cost=..., output_cost=..., cached_input_cost=...,
cache_write_cost=..., label=...)` gives any model a price and a label where it is added.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .._checks import check_real
from .config import NO_LOGPROBS, ModelConfig
from ..errors import ConfigError, ProviderError, redact
from .normalize import PartialCall, ToolCallAccumulator
from .prices import Price
from .providers._errors import classify_exception, is_sdk_or_transport_error
from ..types import (
    ChatRequest,
    Completion,
    Delta,
    FinishDelta,
    ModelDelta,
    Samples,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageDelta,
)

__all__ = [
    "BaseMember",
    "CascadeMember",
    "Member",
    "SDKMember",
    "build_chain",
    "register_member_resolver",
    "resolve_member",
]

logger = logging.getLogger("cascadeflow_integrations")


@runtime_checkable
class CascadeMember(Protocol):
    """One model of a cascade, as the engine sees it."""

    #: unique within a chain; names the member in events, decisions and results
    label: str
    #: the model id as its provider knows it
    name: str
    provider: str
    supports_logprobs: bool

    @property
    def identity(self) -> Hashable:
        """Equal identities are the same member (refused twice in one chain)."""
        ...

    def price(self, usage: Usage) -> float | None:
        """What `usage` costs in USD, or None when the price is unknown."""
        ...

    def stream(self, request: ChatRequest) -> AsyncGenerator[Delta, None]:
        """The response as internal deltas (an async generator: closing it ends the call)."""
        ...

    async def complete(self, request: ChatRequest) -> Completion:
        """One whole response."""
        ...

    async def aclose(self) -> None:
        """Release clients held by the member."""
        ...


class BaseMember:
    """Shared behaviour for members: label, price (warned once when unknown), `complete` from `stream`."""

    supports_logprobs: bool = False
    #: limits the engine enforces before a call (None: unknown, not enforced)
    context_window: int | None = None
    max_output_tokens: int | None = None
    #: (SDK, base URL) when known: members behind one endpoint share its request-level 400s
    endpoint: tuple[str, str | None] | None = None

    def __init__(self, *, name: str, provider: str, price: Price | None = None, label: str | None = None,
                 identity: Hashable = None) -> None:
        self.name = name
        self.provider = provider
        self._price = price
        self._explicit_label = label is not None
        self.label = label if label is not None else name
        self._identity = identity if identity is not None else (provider, name)
        self._warned = False
        self._warned_cache = False

    @property
    def identity(self) -> Hashable:
        return ("label", self.label) if self._explicit_label else self._identity

    @property
    def explicit_label(self) -> bool:
        return self._explicit_label

    def set_price(self, price: Price | None) -> None:
        self._price = price

    #: credentials the wrapped model holds, redacted from every error it raises
    _secrets: Sequence[str] = ()

    def _error(self, exc: BaseException, started: bool) -> ProviderError:
        """Our error for any exception of a wrapped framework model: classified when it is an SDK's, redacted."""
        key = self._secrets[0] if self._secrets else None
        if is_sdk_or_transport_error(exc):
            return classify_exception(exc, provider=self.provider, model=self.label, api_key=key, started=started)
        return ProviderError(redact(f"{type(exc).__name__}: {exc}", *self._secrets), provider=self.provider,
                             model=self.label)

    def set_label(self, label: str) -> None:
        self.label = label
        self._explicit_label = True

    def describe_settings(self) -> str:
        """A short description of what sets this member apart from others with the same name."""
        return self.provider

    def with_model(self, name: str) -> BaseMember | None:
        """The same member asking another model id (a per-call `model=` override), or None if it cannot."""
        return None

    @property
    def has_price(self) -> bool:
        """True when this member's cost is known (budgets refuse chains with unpriced members)."""
        return self._price is not None

    @property
    def unit_price(self) -> Price | None:
        """The member's price (USD per 1K tokens per kind of token), or None when unknown."""
        return self._price

    def price(self, usage: Usage) -> float | None:
        if self._price is None:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "no price known for model %r (member %r): its cost is None in results; pass "
                    "input_cost=/output_cost= (ModelConfig or Member(model, ...)) or see prices.PRICE_TABLE",
                    self.name, self.label)
            return None
        return self._price.cost(usage)

    def cost_is_estimate(self, usage: Usage) -> bool:
        """True when `usage` has cache tokens this member has no cache price for (billed at the input price)."""
        if self._price is None or not self._price.estimated(usage):
            return False
        if not self._warned_cache:
            self._warned_cache = True
            logger.warning(
                "no cached-input or cache-write price for model %r (member %r): cache tokens are billed at the input "
                "price (an upper bound) and results say cost_estimated; pass cached_input_cost=/cache_write_cost=",
                self.name, self.label)
        return True

    def stream(self, request: ChatRequest) -> AsyncGenerator[Delta, None]:  # pragma: no cover - abstract
        raise NotImplementedError

    async def complete(self, request: ChatRequest) -> Completion:
        """Drain `stream` into one response."""
        return await drain(self.stream(request))

    async def aclose(self) -> None:
        return None

    async def ready(self) -> None:
        """Wait until the member can call without blocking the event loop (its SDK imported)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(label={self.label!r}, name={self.name!r}, provider={self.provider!r})"


class SDKMember(BaseMember):
    """A `ModelConfig` served by the official SDK of its provider (the provider layer)."""

    def __init__(self, config: ModelConfig) -> None:
        from .providers import create_provider

        super().__init__(name=config.name, provider=config.provider, price=config.price, label=config.label,
                         identity=("sdk", *config.identity))
        self.config = config
        #: the provider caches this member's prompt prefixes (Anthropic only with `cache_control`)
        self.prompt_caching = config.provider != "anthropic" or config.cache_control is not None
        self.context_window = config.context_window
        self.max_output_tokens = config.max_output_tokens
        self.endpoint = (config.sdk, config.resolved_base_url)
        self._provider = create_provider(config)
        wanted = config.supports_logprobs
        self.supports_logprobs = self._provider.supports_logprobs and (
            wanted if wanted is not None else config.provider not in NO_LOGPROBS)

    def describe_settings(self) -> str:
        cfg = self.config
        if cfg.extra_params:
            return ",".join(f"{k}={v}" for k, v in sorted(cfg.extra_params.items()))
        return cfg.resolved_base_url or cfg.provider

    def with_model(self, name: str) -> SDKMember:
        return SDKMember(self.config.model_copy(update={"name": name, "label": None}))

    def stream(self, request: ChatRequest) -> AsyncGenerator[Delta, None]:
        return self._provider.stream(request)

    async def complete(self, request: ChatRequest) -> Completion:
        return await self._provider.complete(request)

    @property
    def multi_choice(self) -> bool:
        """One request can return several answers (OpenAI's `n`): samples then pay the prompt once."""
        return self._provider.multi_choice

    async def sample(self, request: ChatRequest, n: int) -> Samples:
        """`n` answers to `request` (model-based checks): one `n` request where supported, else concurrent ones."""
        return await self._provider.sample(request, n)

    async def ready(self) -> None:
        ready = getattr(self._provider, "ready", None)  # a registered provider may predate it
        if ready is not None:
            await ready()

    async def aclose(self) -> None:
        await self._provider.aclose()


@dataclass(frozen=True)
class Member:
    """Any model as a cascade member, with the price and label given where it is added.

    `model` is a `ModelConfig`, or (with the adapter imported) a LangChain chat model or a
    LlamaIndex LLM. Prices are USD per 1K tokens: `input_cost` and `output_cost`, or one blended
    `cost`. Without a price the table in `prices.py` is used; without that, cost is None.
    """

    model: Any
    input_cost: float | None = None
    output_cost: float | None = None
    cost: float | None = None
    label: str | None = None
    cached_input_cost: float | None = None
    cache_write_cost: float | None = None

    def __post_init__(self) -> None:
        for name in ("input_cost", "output_cost", "cost", "cached_input_cost", "cache_write_cost"):
            v = getattr(self, name)
            if v is not None:
                check_real(f"Member {name}", v, ge=0, unit=" of USD per 1K tokens", fix=" (e.g. 0.00015)")
        if (self.input_cost is None) != (self.output_cost is None) and self.cost is None:
            raise ConfigError("Member needs both input_cost= and output_cost= (or one blended cost=)")
        if self.label is not None and not str(self.label).strip():
            raise ConfigError("Member label is empty: give a short name, e.g. label='gpt-5-low', or leave it out")
        if (self.cached_input_cost is not None or self.cache_write_cost is not None) and self.input_cost is None \
                and self.cost is None:
            raise ConfigError("Member cached_input_cost=/cache_write_cost= need input_cost= and output_cost= "
                             "(or cost=) too")

    @property
    def price(self) -> Price | None:
        pin = self.input_cost if self.input_cost is not None else self.cost
        pout = self.output_cost if self.output_cost is not None else self.cost
        if pin is None or pout is None:
            return None
        return Price(pin, pout, self.cached_input_cost, self.cache_write_cost)


#: Adapters register functions turning their model objects into members (None: not mine).
_RESOLVERS: list[Callable[[Any], CascadeMember | None]] = []


def register_member_resolver(resolver: Callable[[Any], CascadeMember | None]) -> None:
    """Let `resolve_member` turn another kind of model object into a member (idempotent)."""
    if resolver not in _RESOLVERS:
        _RESOLVERS.append(resolver)


def resolve_member(obj: Any, where: str = "model") -> CascadeMember:
    """A member for a `ModelConfig`, a `Member(...)`, a ready member, or a registered model type."""
    if isinstance(obj, Member):
        inner = resolve_member(obj.model, where)
        if obj.price is not None or obj.label is not None:
            if not isinstance(inner, BaseMember):
                raise ConfigError(f"{where}: Member(...) can only set the price or label of a BaseMember, "
                                 f"not {type(inner).__name__}")
            if obj.price is not None:
                inner.set_price(obj.price)
            if obj.label is not None:
                inner.set_label(obj.label.strip())
        return inner
    if isinstance(obj, ModelConfig):
        return SDKMember(obj)
    if isinstance(obj, BaseMember):
        return obj
    for resolver in _RESOLVERS:
        member = resolver(obj)
        if member is not None:
            return member
    if isinstance(obj, CascadeMember):
        return obj
    raise ConfigError(
        f"{where} is a {type(obj).__name__}: pass ModelConfig(name=..., provider=...) or Member(model, ...); "
        "LangChain chat models go in ChatCascade(models=[...]) and LlamaIndex LLMs in CascadeLLM(models=[...]) "
        "(or import cascadeflow_integrations.langchain / .llama_index first)")


def build_chain(models: Sequence[Any], owner: str = "CascadeAgent") -> list[CascadeMember]:
    """Resolve `models` into members; refuse duplicates; give members that share a name distinct labels."""
    if not models:
        raise ConfigError(f"{owner} needs at least one model: models=[ModelConfig(name=..., provider=...)]")
    chain = [resolve_member(m, f"models[{i}]") for i, m in enumerate(models)]
    seen: dict[Hashable, int] = {}
    for i, m in enumerate(chain):
        j = seen.setdefault(m.identity, i)
        if j != i:
            raise ConfigError(
                f"models[{j}] and models[{i}] are the same member ({m.label!r}): a chain may hold one model twice "
                "only with different settings (parameters, base URL) or different label=...")
    _distinct_labels(chain)
    return chain


def _distinct_labels(chain: list[CascadeMember]) -> None:
    original = [m.label for m in chain]
    taken = list(original)
    for i, m in enumerate(chain):
        if original.count(m.label) == 1 or not isinstance(m, BaseMember) or m.explicit_label:
            continue
        label = f"{m.name}[{m.describe_settings()}]"
        if label in taken:
            label = f"{m.name}#{i + 1}"
        taken[i] = label
        m.label = label
    if len(set(taken)) != len(taken):
        raise ConfigError(f"models have clashing labels {taken}: give each a distinct label=...")


async def drain(stream: AsyncIterator[Delta]) -> Completion:
    """Collect a delta stream into one `Completion`."""
    out = Completion()
    text: list[str] = []
    calls = ToolCallAccumulator(PartialCall)
    try:
        async for d in stream:
            if isinstance(d, TextDelta):
                text.append(d.text)
                if d.logprobs:
                    out.logprobs = (out.logprobs or []) + d.logprobs
            elif isinstance(d, ToolCallDelta):
                calls.add(d)
            elif isinstance(d, UsageDelta):
                out.usage = d.usage
            elif isinstance(d, FinishDelta):
                out.finish_reason = d.reason
            elif isinstance(d, ModelDelta):
                out.model = d.model
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    out.text = "".join(text)
    out.tool_calls = calls.calls()
    return out
