"""`ModelConfig`: one model in the cascade, validated at construction."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

#: Providers with their own SDK module, and OpenAI-compatible servers that go through the openai SDK.
NATIVE_PROVIDERS = ("openai", "anthropic", "groq")
OPENAI_COMPATIBLE = {
    "vllm": None,
    "ollama": "http://localhost:11434/v1",
    "lmstudio": "http://localhost:1234/v1",
    "together": "https://api.together.xyz/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "openai-compatible": None,
}
API_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "groq": "GROQ_API_KEY",
    "together": "TOGETHER_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
}


class ModelConfig(BaseModel):
    """A model in the cascade. Prices are USD per 1K tokens.

    `cost` is one blended price (as in the seed API); `input_cost`/`output_cost`, when given,
    take precedence for their side.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    provider: str = "openai"
    cost: float = 0.0
    input_cost: float | None = None
    output_cost: float | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    timeout: float | None = Field(default=None, description="Seconds for one request to this model.")
    max_retries: int = 2
    context_window: int | None = None
    max_output_tokens: int | None = None
    supports_logprobs: bool | None = None
    extra_params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name_not_empty(cls, v: str) -> str:
        if not v or not v.strip():
            raise ValueError("ModelConfig.name is empty: give the provider's model id, e.g. name='gpt-4o-mini'")
        return v.strip()

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, v: str) -> str:
        p = v.strip().lower()
        if p not in NATIVE_PROVIDERS and p not in OPENAI_COMPATIBLE:
            known = ", ".join([*NATIVE_PROVIDERS, *OPENAI_COMPATIBLE])
            raise ValueError(
                f"ModelConfig.provider {v!r} is not supported: use one of {known} "
                "(any other OpenAI-compatible server: provider='openai' with base_url=...)"
            )
        return p

    @field_validator("cost", "input_cost", "output_cost")
    @classmethod
    def _non_negative(cls, v: float | None, info: Any) -> float | None:
        if v is not None and v < 0:
            raise ValueError(f"ModelConfig.{info.field_name} is negative ({v}): prices are USD per 1K tokens, >= 0")
        return v

    @field_validator("max_retries")
    @classmethod
    def _retries(cls, v: int) -> int:
        if v < 0:
            raise ValueError(f"ModelConfig.max_retries is negative ({v}): use 0 to disable retries")
        return v

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError(f"ModelConfig.timeout must be > 0 seconds, got {v}")
        return v

    @field_validator("context_window", "max_output_tokens", mode="before")
    @classmethod
    def _token_limit(cls, v: Any, info: Any) -> Any:
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
            raise ValueError(f"ModelConfig.{info.field_name} must be a positive number of tokens (e.g. 128000), "
                             f"got {v!r}")
        return v

    @model_validator(mode="after")
    def _compatible_needs_url(self) -> ModelConfig:
        if self.provider in ("vllm", "openai-compatible") and not self.base_url:
            raise ValueError(
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
    def price_in(self) -> float:
        """USD per 1K input tokens."""
        return self.input_cost if self.input_cost is not None else self.cost

    @property
    def price_out(self) -> float:
        """USD per 1K output tokens."""
        return self.output_cost if self.output_cost is not None else self.cost

    def __repr__(self) -> str:  # never show the key, even masked by length
        return f"ModelConfig(name={self.name!r}, provider={self.provider!r}, cost={self.cost})"

    __str__ = __repr__
