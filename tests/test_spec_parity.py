"""One cascade spec, three faces: every option accepted by `CascadeAgent`, `ChatCascade` and `CascadeLLM` with
the same default and the same rule; unknown keywords refused; the options reach the engine; a policy decides.

Real parts only: the official openai SDK over HTTP against the loopback replay server.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from cascadeflow_integrations import CascadeAgent, ModelConfig
from cascadeflow_integrations.langchain import ChatCascade
from cascadeflow_integrations.learning import Policy
from cascadeflow_integrations.learning.model import ConstantModel
from cascadeflow_integrations.learning.policy import Group
from cascadeflow_integrations.llama_index import CascadeLLM
from cascadeflow_integrations.replay import ReplayServer
from cascadeflow_integrations.spec import OPTIONS, CascadeOptions, CascadeSpec, options_table

from replay_helpers import CHEAP, STRONG, accept, model, reject, say


@pytest.fixture
def server():
    s = ReplayServer().start()
    yield s
    s.stop()


def chain(server: ReplayServer) -> list[ModelConfig]:
    return [model(server, CHEAP, cost=0.0004), model(server, STRONG, cost=0.006)]


def build(face: str, server: ReplayServer, **options: Any) -> Any:
    if face == "agent":
        return CascadeAgent(chain(server), **options)
    if face == "langchain":
        return ChatCascade(models=chain(server), **options)
    return CascadeLLM(chain(server), **options)


FACES = ("agent", "langchain", "llama_index")

#: a good and a bad value per option (the bad one must fail by the option's own rule)
GOOD_BAD: dict[str, tuple[Any, Any]] = {
    "temperature": (0.2, 5),
    "max_tokens": (64, 0),
    "stop": (["END"], 5),
    "streaming_mode": ("guarded", "eager"),
    "validator": (accept, 42),
    "quality_threshold": (0.6, 1.5),
    "complexity_hint": ("simple", "easy"),
    "force_direct": (True, "yes"),
    "timeout": (30.0, -1),
    "draft_timeout": (5.0, 0),
    "speculative_escalation": (True, "yes"),
    "budget": (None, "ten dollars"),
    "router": (None, 42),
    "high_risk_tools": (("delete_*",), [""]),
    "decision_log": (None, 42),
    "shadow_rate": (0.0, 1.5),
    "policy": (None, 42),
    "log_prompts": (False, "no"),
    "store": (None, None),
    "trace_content": (True, "on"),
    "cache_routing": (False, "sometimes"),
}


def test_every_option_has_a_probe_and_a_doc():
    assert set(GOOD_BAD) == {o.name for o in OPTIONS}
    assert list(CascadeOptions.model_fields) == [o.name for o in OPTIONS]
    assert all(o.doc and o.doc.strip() == o.doc for o in OPTIONS)
    table = options_table()
    assert all(f"`{o.name}`" in table for o in OPTIONS)


@pytest.mark.parametrize("option", [o for o in OPTIONS], ids=lambda o: o.name)
def test_same_default_on_every_face(server, option):
    agent = build("agent", server)
    lc = build("langchain", server)
    li = build("llama_index", server)
    assert agent.spec.values()[option.name] == option.default
    assert getattr(lc, option.name) == option.default_for("adapter")
    assert getattr(li, option.name) == option.default_for("adapter")
    if option.name != "streaming_mode":  # the one documented exception: the adapters cannot retract text
        assert option.default_for("adapter") == option.default
    # the adapters' engine gets the same values as an agent built with the same options
    assert lc.cascade_agent.spec.values()[option.name] == li.agent.spec.values()[option.name]


def test_one_temperature_default_left_to_the_provider(server):
    say(server, CHEAP, "Draft.")
    say(server, CHEAP, "Draft.")
    say(server, CHEAP, "Draft.")
    CascadeAgent(chain(server), validator=accept).run_sync("q?")
    ChatCascade(models=chain(server), validator=accept).invoke("q?")
    CascadeLLM(chain(server), validator=accept).chat([ChatMessage(role=MessageRole.USER, content="q?")])
    assert [("temperature" in r) for r in server.stats.requests] == [False, False, False]


@pytest.mark.parametrize("option", [o for o in OPTIONS if GOOD_BAD[o.name][1] is not None],
                         ids=lambda o: o.name)
def test_same_rule_on_every_face(server, option):
    good, bad = GOOD_BAD[option.name]
    with pytest.raises(ValueError) as expected:
        CascadeSpec.check(option.name, bad)
    message = str(expected.value)
    assert option.name in message
    for face in FACES:
        with pytest.raises(ValueError) as got:
            build(face, server, **{option.name: bad})
        assert message in str(got.value), face
        build(face, server, **{option.name: good})
    assert server.stats.requests == []


@pytest.mark.parametrize("face", FACES)
def test_unknown_keyword_is_refused_with_the_close_match(server, face):
    with pytest.raises(ValueError, match=r"unknown option 'shadow_ratee' \(did you mean 'shadow_rate'\?\)"):
        build(face, server, draft_timeout=5, trace_content=True, shadow_ratee=0.1)
    with pytest.raises(ValueError, match="'colour'"):
        build(face, server, colour="blue")
    assert server.stats.requests == []


@pytest.mark.parametrize("face", ("agent", "langchain", "llama_index"))
def test_build_only_option_per_call_is_refused(server, face):
    obj = build(face, server, validator=accept)
    with pytest.raises(ValueError, match="shadow_rate is set when the cascade is built, not per call"):
        if face == "agent":
            obj.run_sync("q?", shadow_rate=0.5)
        elif face == "langchain":
            obj.invoke("q?", shadow_rate=0.5)
        else:
            obj.chat([ChatMessage(role=MessageRole.USER, content="q?")], shadow_rate=0.5)
    assert server.stats.requests == []


@pytest.mark.parametrize("face", ("langchain", "llama_index"))
def test_every_option_is_forwarded_to_the_engine(server, face):
    values = {"temperature": 0.3, "max_tokens": 64, "stop": ["END"], "streaming_mode": "guarded",
              "quality_threshold": 0.6, "complexity_hint": "simple", "timeout": 30.0, "draft_timeout": 5.0,
              "speculative_escalation": True, "high_risk_tools": ("delete_*",), "trace_content": True,
              "cache_routing": False, "log_prompts": True}
    obj = build(face, server, **values)
    agent = obj.cascade_agent if face == "langchain" else obj.agent
    got = agent.spec.values()
    assert {k: got[k] for k in values} == values


# ---- the defects the spec fixes -------------------------------------------------------------------


def test_draft_timeout_reaches_the_engine_through_chat_cascade(server):
    say(server, CHEAP, "slow " * 50, delay=0.05)  # about 2.5 s of draft
    say(server, STRONG, "fast answer")
    msg = ChatCascade(models=chain(server), validator=accept, draft_timeout=0.2).invoke("q?")
    assert msg.content == "fast answer"  # the slow draft was abandoned
    assert msg.response_metadata["model_name"] == STRONG


def test_draft_timeout_reaches_the_engine_through_cascade_llm(server):
    say(server, CHEAP, "slow " * 50, delay=0.05)
    say(server, STRONG, "fast answer")
    r = CascadeLLM(chain(server), validator=accept, draft_timeout=0.2).chat(
        [ChatMessage(role=MessageRole.USER, content="q?")])
    assert r.message.content == "fast answer"


def _accepting_policy() -> Policy:
    return Policy({"*": Group(ConstantModel(0.9), 0.5)}, name="accepts")


@pytest.mark.parametrize("face", FACES)
def test_policy_decides_when_a_validator_is_given(server, face):
    # the validator alone would reject every draft; the policy accepts them: the policy must decide
    say(server, CHEAP, "Paris.")
    obj = build(face, server, validator=reject, policy=_accepting_policy())
    if face == "agent":
        r = obj.run_sync("What is the capital of France?")
        used, reason = r.model_used, r.decisions[-1]["reason"]
    elif face == "langchain":
        info = obj.invoke([HumanMessage("What is the capital of France?")]).response_metadata["cascade"]
        used, reason = info["model_used"], info["reason"]
    else:
        info = obj.chat([ChatMessage(role=MessageRole.USER, content="What is the capital of France?")]).raw["cascade"]
        used, reason = info["model_used"], info["reason"]
    assert used == CHEAP and "accepts" in reason
    assert [r["model"] for r in server.stats.requests] == [CHEAP]


@pytest.mark.parametrize("face", FACES)
def test_per_call_validator_feeds_the_policy(server, face):
    say(server, CHEAP, "Paris.")
    obj = build(face, server, policy=_accepting_policy())
    if face == "agent":
        used = obj.run_sync("Capital of France?", validator=reject).model_used
    elif face == "langchain":
        used = obj.invoke("Capital of France?", validator=reject).response_metadata["cascade"]["model_used"]
    else:
        used = obj.chat([ChatMessage(role=MessageRole.USER, content="Capital of France?")],
                        validator=reject).raw["cascade"]["model_used"]
    assert used == CHEAP


def test_docs_table_is_the_generated_one():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "options.md").read_text(encoding="utf-8")
    assert options_table() in text, ("docs/options.md is out of date: paste the output of python -c 'from "
                                     "cascadeflow_integrations.spec import options_table; print(options_table())'")
