"""Every face refuses a bad option with a `ConfigError` (still a `ValueError`), before any network call,
and a per-call keyword that is a near-miss of an option is refused instead of being sent to the provider."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from langchain_scripts import CHEAP, STRONG, configs, reply
from pydantic import ValidationError

from cascadeflow_integrations import CascadeAgent, Member, ModelConfig
from cascadeflow_integrations.errors import CascadeError, ConfigError, UnknownOptionError
from cascadeflow_integrations.replay import ReplayServer


def _models() -> list[ModelConfig]:
    return [ModelConfig(name="a", provider="openai", cost=0.0001, api_key="k"),
            ModelConfig(name="b", provider="openai", cost=0.001, api_key="k")]


def _budget(**kw: Any) -> Any:
    from cascadeflow_integrations.budget import Budget

    return Budget(limit_usd=1.0, **kw)


def _chat(**kw: Any) -> Any:
    from cascadeflow_integrations.langchain import ChatCascade

    return ChatCascade(models=_models(), **kw)


def _llm(**kw: Any) -> Any:
    from cascadeflow_integrations.llama_index import CascadeLLM

    return CascadeLLM(_models(), **kw)


def _sqlite(tmp: Any, **kw: Any) -> Any:
    from cascadeflow_integrations.stores import SQLiteStore

    return SQLiteStore(str(tmp / "log.db"), **kw)


def _redis(url: str) -> Any:
    from cascadeflow_integrations.stores import RedisStore

    return RedisStore(url)


def _selfcheck(**kw: Any) -> Any:
    from cascadeflow_integrations.quality import SelfCheck

    return SelfCheck(**kw)


def _staged(checks: list[Any]) -> Any:
    from cascadeflow_integrations.quality.staged import Staged

    return Staged(checks=checks)


def _executor() -> Any:
    from cascadeflow_integrations.tools import ToolConfig, ToolExecutor

    def weather(city: str) -> str:
        """The weather in a city."""
        return "sunny"

    t = ToolConfig.from_function(weather)
    return ToolExecutor([t, t])


def _cache_routing(**kw: Any) -> Any:
    from cascadeflow_integrations.cache_cost import CacheAwareRouting

    return CacheAwareRouting(**kw)


def _middleware() -> Any:
    from cascadeflow_integrations.langchain import CascadeMiddleware

    return CascadeMiddleware(draft=[])


BAD: dict[str, tuple[Callable[..., Any], str]] = {
    "agent option": (lambda tmp: CascadeAgent(_models(), shadow_rate=2), "shadow_rate"),
    "agent threshold": (lambda tmp: CascadeAgent(_models(), quality_threshold=3), "quality_threshold"),
    "agent models": (lambda tmp: CascadeAgent(ModelConfig(name="a")), "must be a list"),
    "model config": (lambda tmp: ModelConfig(name=""), "name is empty"),
    "model config type": (lambda tmp: ModelConfig(name="x", timeout="soon"), "timeout"),
    "model config provider": (lambda tmp: ModelConfig(name="x", provider="nope"), "not supported"),
    "member": (lambda tmp: Member(_models()[0], input_cost=0.1), "output_cost"),
    "chain labels": (lambda tmp: CascadeAgent([_models()[0], _models()[0]]), "same member"),
    "budget": (lambda tmp: _budget(window="week"), "window"),
    "sqlite store": (lambda tmp: _sqlite(tmp, max_queue=0), "max_queue"),
    "redis url": (lambda tmp: _redis("http://user:hunter2@h:1"), "not a Redis URL"),
    "self check": (lambda tmp: _selfcheck(k=0), "k=..."),
    "staged": (lambda tmp: _staged([]), "at least one model check"),
    "tool executor": (lambda tmp: _executor(), "duplicate tool name"),
    "cache routing": (lambda tmp: _cache_routing(min_calls=0), "min_calls"),
    "chat cascade": (lambda tmp: _chat(shadow_rate=2), "shadow_rate"),
    "chat cascade mode": (lambda tmp: _chat(streaming_mode="optimistic"), "optimistic"),
    "cascade llm": (lambda tmp: _llm(shadow_rate=2), "shadow_rate"),
    "middleware": (lambda tmp: _middleware(), "draft model"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_every_face_raises_a_config_error_naming_the_option(case: str, tmp_path: Any) -> None:
    make, needle = BAD[case]
    with pytest.raises(ConfigError, match=needle) as info:
        make(tmp_path)
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, CascadeError)
    assert not isinstance(err, ValidationError)  # pydantic's wrapper is the cause, not the error
    assert "hunter2" not in str(err)


@pytest.mark.parametrize("make", [
    lambda: _chat(shadow_ratee=0.1),
    lambda: _llm(shadow_ratee=0.1),
    lambda: CascadeAgent(_models(), shadow_ratee=0.1),
])
def test_an_unknown_option_names_the_close_one_on_every_face(make: Callable[[], Any]) -> None:
    with pytest.raises(UnknownOptionError, match="did you mean 'shadow_rate'") as info:
        make()
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)


def test_pydantic_faces_keep_pydantic_detail_as_the_cause() -> None:
    with pytest.raises(ConfigError) as info:
        ModelConfig(name="x", timeout="soon")
    assert isinstance(info.value.__cause__, ValidationError)
    with pytest.raises(UnknownOptionError, match="did you mean 'name'"):
        ModelConfig(name="x", nmae="y")


def test_fit_and_calibrate_typos_are_unknown_option_errors_and_type_errors() -> None:
    from cascadeflow_integrations.learning import fit
    from cascadeflow_integrations.learning.calibrate import calibrate

    with pytest.raises(UnknownOptionError, match="did you mean 'target_quality'"):
        fit([], targt_quality=0.9)
    with pytest.raises(TypeError, match="confidnce"):
        calibrate([], confidnce=0.9)


# ---- per call -------------------------------------------------------------------------------------

@pytest.fixture
def server() -> Any:
    s = ReplayServer().start()
    yield s
    s.stop()


def _accept(request: Any, draft: Any) -> bool:
    return True


@pytest.mark.parametrize("typo, meant", [("draft_timout", "draft_timeout"), ("temprature", "temperature"),
                                         ("force_drect", "force_direct"), ("max_token", "max_tokens")])
async def test_a_per_call_near_miss_is_refused_before_any_request(server: ReplayServer, typo: str,
                                                                  meant: str) -> None:
    agent = CascadeAgent(configs(server))
    with pytest.raises(UnknownOptionError, match=f"did you mean '{meant}'"):
        await agent.run("q?", **{typo: 5})
    assert server.stats.requests == []


async def test_provider_parameters_and_extra_body_still_reach_the_provider(server: ReplayServer) -> None:
    server.add(CHEAP, reply(CHEAP, "Draft."))
    agent = CascadeAgent(configs(server), validator=_accept)
    result = await agent.run("q?", top_p=0.5, seed=7, extra_body={"draft_timout": 1, "top_k": 3})
    assert result.content == "Draft."
    sent = server.stats.requests[-1]
    # extra_body is the escape hatch: even a name that looks like a typo goes to the provider as it is
    assert sent["top_p"] == 0.5 and sent["seed"] == 7 and sent["draft_timout"] == 1 and sent["top_k"] == 3
    assert "extra_body" not in sent


def test_chat_cascade_refuses_a_per_call_near_miss(server: ReplayServer) -> None:
    from cascadeflow_integrations.langchain import ChatCascade

    chat = ChatCascade(models=configs(server))
    with pytest.raises(UnknownOptionError, match="did you mean 'draft_timeout'"):
        chat.invoke("q?", draft_timout=5)
    assert server.stats.requests == []
    server.add(STRONG, reply(STRONG, "Direct."))
    assert chat.invoke("q?", force_direct=True, seed=3).content == "Direct."
    assert server.stats.requests[-1]["seed"] == 3


def test_cascade_llm_refuses_a_per_call_near_miss(server: ReplayServer) -> None:
    from llama_index.core.llms import ChatMessage

    from cascadeflow_integrations.llama_index import CascadeLLM

    llm = CascadeLLM(configs(server))
    with pytest.raises(UnknownOptionError, match="did you mean 'draft_timeout'"):
        llm.chat([ChatMessage(role="user", content="q?")], draft_timout=5)
    assert server.stats.requests == []
