"""`ModelConfig` validates at construction and never shows its key."""

from __future__ import annotations

import pytest

from cascadeflow_integrations import ModelConfig


@pytest.mark.parametrize("kwargs, field, fix", [
    ({"name": "", "provider": "openai"}, "name", "model id"),
    ({"name": "   ", "provider": "openai"}, "name", "model id"),
    ({"name": "m", "provider": "bedrock"}, "provider", "base_url"),
    ({"name": "m", "cost": -0.1}, "cost", ">= 0"),
    ({"name": "m", "input_cost": -1}, "input_cost", ">= 0"),
    ({"name": "m", "output_cost": -1}, "output_cost", ">= 0"),
    ({"name": "m", "max_retries": -1}, "max_retries", "0 to disable"),
    ({"name": "m", "timeout": 0}, "timeout", "> 0"),
    ({"name": "m", "timeout": float("nan")}, "timeout", "finite number of seconds > 0"),
    ({"name": "m", "timeout": float("inf")}, "timeout", "finite number of seconds > 0"),
    ({"name": "m", "cost": float("nan")}, "cost", "finite number of USD per 1K tokens >= 0"),
    ({"name": "m", "input_cost": float("inf")}, "input_cost", "finite number"),
    ({"name": "m", "output_cost": float("-inf")}, "output_cost", "finite number"),
    ({"name": "m", "max_retries": 2.5}, "max_retries", "whole number >= 0"),
    ({"name": "m", "max_retries": True}, "max_retries", "whole number >= 0"),
    ({"name": "m", "provider": "vllm"}, "base_url", "http://localhost:8000/v1"),
    ({"name": "m", "colour": "red"}, "colour", ""),
])
def test_bad_config_names_the_field_and_the_fix(kwargs, field, fix):
    with pytest.raises(ValueError) as e:
        ModelConfig(**kwargs)
    assert field in str(e.value) and fix in str(e.value)


def test_prices_and_defaults():
    blended = ModelConfig(name="m", cost=0.002)
    assert blended.price_in == blended.price_out == 0.002
    split = ModelConfig(name="m", cost=0.002, input_cost=0.001, output_cost=0.004)
    assert (split.price_in, split.price_out) == (0.001, 0.004)
    assert ModelConfig(name="m").provider == "openai"


@pytest.mark.parametrize("provider, sdk, url", [
    ("openai", "openai", None), ("anthropic", "anthropic", None), ("groq", "groq", None),
    ("ollama", "openai", "http://localhost:11434/v1"), ("deepseek", "openai", "https://api.deepseek.com/v1"),
    ("openrouter", "openai", "https://openrouter.ai/api/v1"), ("together", "openai", "https://api.together.xyz/v1"),
])
def test_openai_compatible_providers_go_through_the_openai_sdk(provider, sdk, url):
    cfg = ModelConfig(name="m", provider=provider)
    assert cfg.sdk == sdk and cfg.resolved_base_url == url


def test_api_key_from_config_or_environment_never_in_repr(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    assert ModelConfig(name="m", provider="anthropic").resolved_api_key() == "sk-ant-from-env"
    cfg = ModelConfig(name="m", provider="anthropic", api_key="sk-ant-given")
    assert cfg.resolved_api_key() == "sk-ant-given"
    for text in (repr(cfg), str(cfg), str(cfg.model_dump()), cfg.model_dump_json()):
        assert "sk-ant-given" not in text
