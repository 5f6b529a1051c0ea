"""langchain-tests standard suites for `ChatCascade`, against scripted replies over loopback HTTP."""

from __future__ import annotations

import functools
from typing import Any

from langchain_scripts import CHEAP, OVERRIDE, STRONG, configs, standard_server
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from cascadeflow_integrations import ModelConfig
from cascadeflow_integrations.langchain import ChatCascade


class TestChatCascadeUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatCascade]:
        return ChatCascade

    @property
    def chat_model_params(self) -> dict[str, Any]:
        # never called: unit tests make no requests
        return {"models": [ModelConfig(name="gpt-4o-mini", base_url="http://127.0.0.1:9/v1"),
                           ModelConfig(name="gpt-4o", base_url="http://127.0.0.1:9/v1")]}


class TestChatCascadeIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatCascade]:
        return ChatCascade

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"models": configs(standard_server())}

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return OVERRIDE

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True


@functools.cache
def _tls() -> Any:
    import httpx

    return httpx.create_ssl_context()


def _chat_openai(name: str) -> Any:
    import httpx
    from langchain_openai import ChatOpenAI

    # A fresh async HTTP client per model: langchain-openai otherwise shares one per base URL across
    # instances, bound to the first event loop, and each standard test runs on its own loop. They share
    # one TLS context: building one per client (the CA bundle) took ~20 ms, ~130 times in this module.
    return ChatOpenAI(model=name, base_url=standard_server().openai_url, api_key="sk-test-not-a-real-key",
                      max_retries=0, http_async_client=httpx.AsyncClient(verify=_tls()))


class TestChatCascadeOfLangChainMembersUnit(ChatModelUnitTests):
    """The same suites on a cascade whose members are LangChain `ChatOpenAI` models."""

    @property
    def chat_model_class(self) -> type[ChatCascade]:
        return ChatCascade

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"models": [_chat_openai(CHEAP), _chat_openai(STRONG)]}


class TestChatCascadeOfLangChainMembersIntegration(TestChatCascadeIntegration):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"models": [_chat_openai(CHEAP), _chat_openai(STRONG)]}
