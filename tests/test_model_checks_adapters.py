"""Model-based checks and the tool-risk gate through ChatCascade and CascadeLLM (real SDKs, loopback server)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from replay_helpers import CHEAP, STRONG, model, say

from cascadeflow_integrations.quality import AgreementCheck, CheckResult, Decision, SelfCheck, Staged
from cascadeflow_integrations.replay import ReplayServer, Reply
from cascadeflow_integrations.replay.wire import anthropic_body, anthropic_stream, openai_choices_stream, openai_stream

Q = "A shop sells pens at $3 each. Tom buys 4 pens and pays with a $20 bill. How much change does he get?"
RIGHT, WRONG = "4 * 3 = 12. 20 - 12 = 8.\n#### 8", "4 * 3 = 12. 20 - 12 = 6.\n#### 6"


def unsure(request: Any, draft: Any) -> Decision:
    return Decision(True, 0.8, 0.8, "free", 0.0, [CheckResult("consistency", True, 0.8, "verified")])


def configs(server: ReplayServer, provider: str = "openai") -> list[Any]:
    return [model(server, CHEAP, provider=provider, cost=0.001), model(server, STRONG, cost=0.01)]


PAY = {"name": "transfer_funds", "description": "Move money",
       "parameters": {"type": "object", "properties": {"amount": {"type": "number"}}, "required": ["amount"]}}


def pay_call(server: ReplayServer, name: str) -> None:
    server.add(name, Reply(events=openai_stream(name, tool_calls=[("call_1", "transfer_funds", '{"amount": 10}')])))


# ---- LangChain --------------------------------------------------------------------------------------


async def test_chat_cascade_staged_check_catches_wrong_draft(module_replay_server: ReplayServer) -> None:
    pytest.importorskip("langchain_core")
    from cascadeflow_integrations.langchain import ChatCascade, get_cascade_callback

    s = module_replay_server
    say(s, CHEAP, WRONG)
    s.add(CHEAP, Reply(events=openai_choices_stream(CHEAP, ["#### 8", "#### 8", "#### 6"], usage=(30, 6))))
    say(s, STRONG, RIGHT)
    say(s, CHEAP, RIGHT)
    s.add(CHEAP, Reply(events=openai_choices_stream(CHEAP, ["#### 8"] * 3, usage=(30, 6))))
    llm = ChatCascade(models=configs(s), validator=Staged(unsure, [AgreementCheck(k=3)]), quality_threshold=0.8)
    with get_cascade_callback() as cb:
        chunks = [c async for c in llm.astream(Q)]
        msg = await llm.ainvoke(Q)
    streamed = "".join(str(c.content) for c in chunks)
    assert streamed == RIGHT and chunks[-1].response_metadata["model_name"] == STRONG
    meta = msg.response_metadata["cascade"]
    assert msg.content == RIGHT and meta["draft_accepted"] and meta["validator_calls"] == 1
    assert meta["validator_cost"] == pytest.approx(36 * 0.001 / 1000)
    assert cb.model_checked == 2 and cb.validator_cost == pytest.approx(2 * 36 * 0.001 / 1000)


def test_chat_cascade_high_risk_tool_from_metadata(module_replay_server: ReplayServer) -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.tools import tool

    from cascadeflow_integrations.langchain import ChatCascade

    @tool
    def transfer_funds(amount: float) -> str:
        """Move money."""
        return "done"

    transfer_funds.metadata = {"risk": "high"}
    s = module_replay_server
    pay_call(s, CHEAP)
    pay_call(s, STRONG)
    msg = ChatCascade(models=configs(s), validator=lambda r, d: True).bind_tools([transfer_funds]).invoke("Send 10")
    meta = msg.response_metadata["cascade"]
    assert msg.response_metadata["model_name"] == STRONG and msg.tool_calls[0]["name"] == "transfer_funds"
    assert "high-risk tool 'transfer_funds'" in meta["decisions"][0]["reason"]


# ---- LlamaIndex -------------------------------------------------------------------------------------


async def test_cascade_llm_self_check_anthropic_and_risk_pattern(module_replay_server: ReplayServer) -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core.base.llms.types import ChatMessage, MessageRole
    from llama_index.core.tools import FunctionTool

    from cascadeflow_integrations.llama_index import CascadeLLM

    s = module_replay_server
    s.add(CHEAP, Reply(events=anthropic_stream(CHEAP, [WRONG], usage=(30, 10))))
    for verdict in ("No", "No", "Yes"):
        s.add(CHEAP, Reply(body=anthropic_body(CHEAP, verdict, usage=(50, 1))))
    say(s, STRONG, RIGHT)
    llm = CascadeLLM(configs(s, "anthropic"), validator=Staged(unsure, [SelfCheck(k=3)]), quality_threshold=0.8,
                     high_risk_tools=["transfer_*"])
    r = await llm.achat([ChatMessage(role=MessageRole.USER, content=Q)])
    info = r.raw["cascade"]
    assert r.message.content == RIGHT and info["model_used"] == STRONG and info["validator_calls"] == 3
    assert "self_check" in info["decisions"][0]["reason"]

    def transfer_funds(amount: float) -> str:
        """Move money."""
        return "done"

    s.add(CHEAP, Reply(events=anthropic_stream(CHEAP, tool_calls=[("toolu_1", "transfer_funds",
                                                                    json.dumps({"amount": 10}))])))
    pay_call(s, STRONG)
    r = await llm.achat_with_tools([FunctionTool.from_defaults(transfer_funds)], user_msg="Send 10")
    assert r.raw["cascade"]["model_used"] == STRONG
    assert "high-risk pattern 'transfer_*'" in r.raw["cascade"]["decisions"][0]["reason"]


async def test_checks_call_a_langchain_member(module_replay_server: ReplayServer) -> None:
    """The draft is a ChatAnthropic member: the self-check's verdicts go through its own stream."""
    pytest.importorskip("langchain_anthropic")
    from langchain_anthropic import ChatAnthropic

    from cascadeflow_integrations import Member
    from cascadeflow_integrations.langchain import ChatCascade

    s = module_replay_server
    claude = ChatAnthropic(model=CHEAP, base_url=s.url, api_key="sk-ant-test-not-a-real-key", max_retries=0)
    s.add(CHEAP, Reply(events=anthropic_stream(CHEAP, [WRONG], usage=(30, 10))))
    for verdict in ("No", "No", "Yes"):
        s.add(CHEAP, Reply(events=anthropic_stream(CHEAP, [verdict], usage=(50, 1))))
    say(s, STRONG, RIGHT)
    llm = ChatCascade(models=[Member(claude, input_cost=0.001, output_cost=0.001), model(s, STRONG, cost=0.01)],
                      validator=Staged(unsure, [SelfCheck(k=3)]), quality_threshold=0.8)
    msg = await llm.ainvoke(Q)
    meta = msg.response_metadata["cascade"]
    assert msg.content == RIGHT and meta["model_used"] == STRONG and meta["validator_calls"] == 3
    assert meta["validator_cost"] == pytest.approx(3 * 51 * 0.001 / 1000)


async def test_check_with_its_own_cheap_model(module_replay_server: ReplayServer) -> None:
    from cascadeflow_integrations import CascadeAgent

    s = module_replay_server
    say(s, CHEAP, RIGHT)
    s.add("verifier-mini", Reply(body=anthropic_body("verifier-mini", "Yes", usage=(60, 1))))
    own = model(s, "verifier-mini", provider="anthropic", cost=0.002)
    agent = CascadeAgent(configs(s), validator=Staged(unsure, [SelfCheck(model=own, k=1)]), quality_threshold=0.8)
    r = await agent.run(Q)
    assert r.draft_accepted and r.validator_calls == 1 and r.validator_cost == pytest.approx(61 * 0.002 / 1000)
    assert [b["model"] for b in s.stats.requests] == [CHEAP, "verifier-mini"]
    await agent.aclose()
