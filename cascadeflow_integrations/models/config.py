"""`ModelConfig`: one model in the cascade, validated at construction."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from ..errors import ConfigError, config_error
from .._checks import check_real, check_whole
from .prices import Price, lookup_price

#: Providers with their own SDK module, and OpenAI-compatible servers that go through the openai SDK.
NATIVE_PROVIDERS = ("openai", "anthropic", "groq")
OPENAI_COMPATIBLE = {
    "vllm": None,
    "ollama": "http://localhost:11434/v1",
    "lmstudio": "http://localhost:1234/v1",
    "together": "https://api.together.xyz/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "gemini": "https://generativelanguage.googleapis.com/v1beta/openai/",
    "openai-compatible": None,
}
API_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "groq": "GROQ_API_KEY",
    "together": "TOGETHER_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "gemini": "GEMINI_API_KEY",
}
#: OpenAI-compatible endpoints that reject (or ignore) `logprobs`: never requested there.
NO_LOGPROBS = frozenset({"gemini"})


class CacheControl(BaseModel):
    """Anthropic prompt-cache breakpoints: after the tools, after the system prompt, and on the last
    `last_messages` messages (each marks `cache_control: {"type": "ephemeral"}`). Anthropic allows 4.

    A warm cache bills the prefix at 0.1x input on the next request of the conversation; writing it
    costs 1.25x input (`ttl="5m"`) or 2x (`ttl="1h"`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tools: bool = True
    system: bool = True
    last_messages: int = Field(default=1, ge=0)
    ttl: Literal["5m", "1h"] = "5m"

    @model_validator(mode="after")
    def _at_most_four(self) -> CacheControl:
        n = int(self.tools) + int(self.system) + self.last_messages
        if n > 4:
            raise ConfigError(f"cache_control asks for {n} cache breakpoints, Anthropic allows 4: lower last_messages "
                             f"to {max(4 - int(self.tools) - int(self.system), 0)}")
        return self

    def block(self) -> dict[str, str]:
        """The `cache_control` value put on a marked block."""
        return {"type": "ephemeral"} if self.ttl == "5m" else {"type": "ephemeral", "ttl": self.ttl}


class ModelConfig(BaseModel):
    """A model in the cascade. Prices are USD per 1K tokens.

    `cost` is one blended price (as in the seed API); `input_cost`/`output_cost`, when given,
    take precedence for their side. With no price given, the model's name is looked up in
    `prices.PRICE_TABLE`; a model found nowhere has no price (cost `None`, never a silent $0).
    `cached_input_cost`/`cache_write_cost` price prompt-cache reads and writes; unset, they come
    from the table when the input price does, else cache tokens are billed at the input price and
    the result is marked `cost_estimated`. `cache_control` (Anthropic only: `True`, a dict or a
    `CacheControl`) marks cache breakpoints so the next request of a conversation reads the cache.
    `label` names the model in the chain, events and results (default: `name`); two entries
    with the same name but different settings are distinct members.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    provider: str = "openai"
    cost: float | None = None
    input_cost: float | None = None
    output_cost: float | None = None
    cached_input_cost: float | None = None
    cache_write_cost: float | None = None
    cache_control: CacheControl | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    timeout: float | None = Field(default=None, description="Seconds for one request to this model.")
    max_retries: int = 2
    context_window: int | None = None
    max_output_tokens: int | None = None
    supports_logprobs: bool | None = None
    extra_params: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None

    def __init__(self, **data: Any) -> None:
        # an option error is a ConfigError on every face, not pydantic's ValidationError around it
        try:
            super().__init__(**data)
        except ValidationError as e:
            raise config_error(e, "ModelConfig", type(self).model_fields) from e

    @field_validator("name")
    @classmethod
    def _name_not_empty(cls, v: str) -> str:
        if not v or not v.strip():
            raise ConfigError("ModelConfig.name is empty: give the provider's model id, e.g. name='gpt-4o-mini'")
        return v.strip()

    @field_validator("label")
    @classmethod
    def _label_not_empty(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ConfigError("ModelConfig.label is empty: give a short name, e.g. label='gpt-5-low', or leave it out")
        return v.strip() if v is not None else None

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, v: str) -> str:
        p = v.strip().lower()
        if p not in NATIVE_PROVIDERS and p not in OPENAI_COMPATIBLE:
            known = ", ".join([*NATIVE_PROVIDERS, *OPENAI_COMPATIBLE])
            raise ConfigError(
                f"ModelConfig.provider {v!r} is not supported: use one of {known} "
                "(any other OpenAI-compatible server: provider='openai' with base_url=...)"
            )
        return p

    @field_validator("cache_control", mode="before")
    @classmethod
    def _cache_control(cls, v: Any) -> Any:
        if v is True:
            return CacheControl()
        if v is False:
            return None
        return v

    @field_validator("cost", "input_cost", "output_cost", "cached_input_cost", "cache_write_cost")
    @classmethod
    def _non_negative(cls, v: float | None, info: Any) -> float | None:
        return None if v is None else check_real(f"ModelConfig.{info.field_name}", v, ge=0,
                                                 unit=" of USD per 1K tokens", fix=" (e.g. 0.00015)")

    @field_validator("max_retries", mode="before")
    @classmethod
    def _retries(cls, v: Any) -> int:
        return check_whole("ModelConfig.max_retries", v, ge=0, fix=" (use 0 to disable retries)")

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float | None) -> float | None:
        return None if v is None else check_real("ModelConfig.timeout", v, gt=0, unit=" of seconds",
                                                 fix=" (e.g. timeout=30)")

    @field_validator("context_window", "max_output_tokens", mode="before")
    @classmethod
    def _token_limit(cls, v: Any, info: Any) -> Any:
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
            raise ConfigError(f"ModelConfig.{info.field_name} must be a positive number of tokens (e.g. 128000), "
                             f"got {v!r}")
        return v

    @model_validator(mode="after")
    def _cache_control_is_anthropic(self) -> ModelConfig:
        if self.cache_control is not None and self.provider != "anthropic":
            raise ConfigError(
                f"ModelConfig.cache_control marks Anthropic cache breakpoints, but provider={self.provider!r} caches "
                "prompt prefixes by itself (no markers): remove cache_control, or use provider='anthropic'")
        return self

    @model_validator(mode="after")
    def _compatible_needs_url(self) -> ModelConfig:
        if self.provider in ("vllm", "openai-compatible") and not self.base_url:
            raise ConfigError(
                f"ModelConfig.base_url is required for provider={self.provider!r}: "
                "pass the server's OpenAI-compatible URL, e.g. base_url='http://localhost:8000/v1'"
            )
        return self

    @property
    def sdk(self) -> str:
        """The official SDK that serves this model: `openai`, `anthropic` or `groq`."""
        return self.provider if self.provider in NATIVE_PROVIDERS else "openai"

    @property
    def resolved_base_url(self) -> str | None:
        return self.base_url or OPENAI_COMPATIBLE.get(self.provider)

    def resolved_api_key(self) -> str | None:
        """The key from the config, else from the provider's environment variable."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        env = API_KEY_ENV.get(self.provider)
        return os.environ.get(env) if env else None

    @property
    def price(self) -> Price | None:
        """The price given here (per side: `input_cost`/`output_cost`, else `cost`), else the table's, else None.

        Cache prices: the ones given here, else the table's when the input price is the table's too.
        """
        pin = self.input_cost if self.input_cost is not None else self.cost
        pout = self.output_cost if self.output_cost is not None else self.cost
        cached, write = self.cached_input_cost, self.cache_write_cost
        table = None if pin is not None and pout is not None else lookup_price(self.name)
        if table is None:
            if pin is None or pout is None:
                return None
            return Price(pin, pout, cached, write)
        if pin is None:  # the input side is the table's: so are its cache prices
            table_write = table.cache_write
            if table_write is not None and self.cache_control is not None and self.cache_control.ttl == "1h":
                table_write = table.input * 2  # 1-hour cache writes bill 2x input
            cached = table.cached_input if cached is None else cached
            write = table_write if write is None else write
        return Price(pin if pin is not None else table.input, pout if pout is not None else table.output, cached, write)

    @property
    def price_in(self) -> float | None:
        """USD per 1K input tokens (None: unknown)."""
        p = self.price
        return p.input if p else None

    @property
    def price_out(self) -> float | None:
        """USD per 1K output tokens (None: unknown)."""
        p = self.price
        return p.output if p else None

    @property
    def identity(self) -> tuple[Any, ...]:
        """What makes two configs the same member: provider, base URL, name and request settings."""
        return (self.provider, self.resolved_base_url, self.name,
                tuple(sorted((k, repr(v)) for k, v in self.extra_params.items())), self.supports_logprobs,
                self.cache_control)

    def __repr__(self) -> str:  # never show the key, even masked by length
        label = f", label={self.label!r}" if self.label else ""
        return f"ModelConfig(name={self.name!r}, provider={self.provider!r}, cost={self.cost}{label})"

    __str__ = __repr__
