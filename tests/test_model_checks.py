"""Model-based checks (SelfCheck, AgreementCheck), staged spending and the tool-risk gate.

Every model call goes through the real SDKs to the loopback replay server in each provider's wire
format: OpenAI multi-choice streams (`n`), Anthropic and Groq concurrent requests.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from replay_helpers import CHEAP, STRONG, collect, model, say

from cascadeflow_integrations import CascadeAgent
from cascadeflow_integrations.members import resolve_member
from cascadeflow_integrations.providers import create_provider
from cascadeflow_integrations.quality import (
    AgreementCheck,
    CheckModel,
    CheckResult,
    Decision,
    Draft,
    SelfCheck,
    Staged,
    ToolRiskCheck,
    ValidationRequest,
    default_validator,
    evaluate,
    evaluate_sync,
)
from cascadeflow_integrations.replay import Reply, ReplayServer
from cascadeflow_integrations.replay.wire import (
    anthropic_body,
    anthropic_stream,
    openai_body,
    openai_choices_stream,
    openai_stream,
    openai_verdict_body,
    words,
)
from cascadeflow_integrations.streaming import StreamEventType, ToolStreamEventType
from cascadeflow_integrations.tools import ToolConfig
from cascadeflow_integrations.types import ChatRequest, FinishDelta, Message, TextDelta, Usage, UsageDelta

Q = "Janet's ducks lay 16 eggs per day. She eats 3 and bakes with 4. She sells the rest at $2 each. How much does she make?"
RIGHT = "16 - 3 - 4 = 9 eggs. 9 * 2 = 18.\n#### 18"
WRONG = "16 - 3 = 13 eggs. 13 * 2 = 26.\n#### 26"
PRICE = 0.001  # USD per 1K tokens, every side


def cheap(server: ReplayServer, provider: str = "openai", name: str = CHEAP) -> Any:
    return model(server, name, provider=provider, cost=PRICE)


def vreq(server: ReplayServer, provider: str = "openai", name: str = CHEAP, q: str = Q) -> ValidationRequest:
    cfg = cheap(server, provider, name)
    return ValidationRequest([Message("user", q)], draft_model=CheckModel(resolve_member(cfg)))


def unsure(score: float = 0.8) -> Any:
    """A free validator that always passes with the given score (so the threshold decides how sure it is)."""
    def free(request: Any, draft: Any) -> Decision:
        # One check that can vouch for a draft (as verified arithmetic does), so the band applies.
        return Decision(True, score, score, "free", 0.0, [CheckResult("consistency", True, score, "verified")])
    return free


# ---- provider layer: several answers to one request ----------------------------------------------


async def test_openai_multi_choice_stream_per_choice_index_usage_once(module_replay_server: ReplayServer) -> None:
    s = module_replay_server
    s.add(CHEAP, Reply(events=openai_choices_stream(CHEAP, ["It is 18.", "18", "It is 26 dollars."], usage=(30, 9))))
    p = create_provider(cheap(s))
    got = [x async for x in p.stream_choices(ChatRequest([Message("user", Q)], temperature=1.0), 3)]
    text = {i: "".join(d.text for j, d in got if j == i and isinstance(d, TextDelta)) for i in range(3)}
    assert text == {0: "It is 18.", 1: "18", 2: "It is 26 dollars."}
    assert [(i, d) for i, d in got if isinstance(d, UsageDelta)] == [(-1, UsageDelta(Usage(30, 9)))]
    assert sorted(i for i, d in got if isinstance(d, FinishDelta)) == [0, 1, 2]
    assert s.stats.requests[-1]["n"] == 3 and s.stats.requests[-1]["stream"] is True
    await p.aclose()


async def test_openai_sample_one_request_prompt_paid_once(module_replay_server: ReplayServer) -> None:
    s = module_replay_server
    s.add(CHEAP, Reply(events=openai_choices_stream(CHEAP, ["#### 18", "#### 18"], usage=(40, 6))))
    p = create_provider(cheap(s))
    out = await p.sample(ChatRequest([Message("user", Q)]), 2)
    assert [c.text for c in out.completions] == ["#### 18", "#### 18"]
    assert (out.requests, out.usage.input_tokens, out.usage.output_tokens) == (1, 40, 6)
    assert len(s.stats.requests) == 1
    await p.aclose()


@pytest.mark.parametrize("provider", ["anthropic", "groq"])
async def test_concurrent_samples_elsewhere(module_replay_server: ReplayServer, provider: str) -> None:
    s = module_replay_server
    body = anthropic_body if provider == "anthropic" else openai_body
    for text in ("#### 18", "#### 26", "#### 18"):
        s.add(CHEAP, Reply(body=body(CHEAP, text, usage=(40, 5))))
    p = create_provider(cheap(s, provider))
    out = await p.sample(ChatRequest([Message("user", Q)], temperature=1.0), 3)
    assert sorted(c.text for c in out.completions) == ["#### 18", "#### 18", "#### 26"]
    assert out.requests == 3 and out.usage.input_tokens == 120 and out.usage.output_tokens == 15
    assert len(s.stats.requests) == 3 and all("n" not in r for r in s.stats.requests)
    await p.aclose()


# ---- SelfCheck -----------------------------------------------------------------------------------


async def test_selfcheck_openai_logprobs_one_token(module_replay_server: ReplayServer) -> None:
    s = module_replay_server
    s.add(CHEAP, Reply(body=openai_verdict_body(CHEAP, 0.9, usage=(70, 1))))
    r = await SelfCheck().score(vreq(s), Draft(RIGHT))
    assert r.score == pytest.approx(0.9, abs=1e-6) and "logprobs" in r.detail
    assert r.calls == 1 and r.cost == pytest.approx(71 * PRICE / 1000)
    body = s.stats.requests[-1]
    assert body["max_completion_tokens"] == 1 and body["logprobs"] is True and body["top_logprobs"] == 5
    assert "Proposed answer:\n" + RIGHT in body["messages"][-1]["content"]


@pytest.mark.parametrize("provider", ["anthropic", "groq"])
async def test_selfcheck_sampled_verdicts_without_logprobs(module_replay_server: ReplayServer, provider: str) -> None:
    s = module_replay_server
    body = anthropic_body if provider == "anthropic" else openai_body
    for verdict in ("Yes", "No.", "Yes"):
        s.add(CHEAP, Reply(body=body(CHEAP, verdict, usage=(60, 1))))
    r = await SelfCheck(k=3).score(vreq(s, provider), Draft(RIGHT))
    assert r.score == pytest.approx(2 / 3) and r.calls == 3 and r.cost == pytest.approx(3 * 61 * PRICE / 1000)
    assert all(req.get("temperature") == 1.0 for req in s.stats.requests)


async def test_selfcheck_openai_without_logprobs_uses_n(module_replay_server: ReplayServer) -> None:
    s = module_replay_server
    s.add(CHEAP, Reply(events=openai_choices_stream(CHEAP, ["Yes", "Yes", "No", "Yes"], usage=(60, 4))))
    r = await SelfCheck(k=4, use_logprobs=False).score(vreq(s), Draft(RIGHT))
    assert r.score == pytest.approx(0.75) and r.calls == 1 and s.stats.requests[-1]["n"] == 4


def test_selfcheck_prompt_must_hold_the_answer() -> None:
    with pytest.raises(ValueError, match="answer"):
        SelfCheck(prompt="Is it right?")
    with pytest.raises(ValueError, match="k"):
        AgreementCheck(k=0)


# ---- AgreementCheck ------------------------------------------------------------------------------


async def test_agreement_openai_n_samples(module_replay_server: ReplayServer) -> None:
    s = module_replay_server
    s.add(CHEAP, Reply(events=openai_choices_stream(CHEAP, ["So 18.\n#### 18", "#### 26", "The answer is 18 dollars.",
                                                            "#### 18"], usage=(50, 20))))
    r = await AgreementCheck(k=4).score(vreq(s), Draft(RIGHT))
    assert r.score == pytest.approx(0.75) and "3/4" in r.detail and r.calls == 1
    assert r.cost == pytest.approx(70 * PRICE / 1000) and s.stats.requests[-1]["n"] == 4


async def test_agreement_anthropic_concurrent_samples(module_replay_server: ReplayServer) -> None:
    s = module_replay_server
    for text in ("#### 26", "#### 26", "#### 18"):
        s.add(CHEAP, Reply(body=anthropic_body(CHEAP, text, usage=(50, 5))))
    r = await AgreementCheck(k=3).score(vreq(s, "anthropic"), Draft(RIGHT))
    assert r.score == pytest.approx(1 / 3) and r.calls == 3


async def test_agreement_free_text_is_neutral_and_pays_nothing(module_replay_server: ReplayServer) -> None:
    s = module_replay_server
    q = "Write a short poem about autumn leaves and the wind."
    r = await AgreementCheck().score(vreq(s, q=q), Draft("Leaves drift down\nthe wind hums low,\n"
                                                         "gold on the ground\nand the year lets go."))
    assert r.neutral and "no extractable answer" in r.detail and r.calls == 0
    assert s.stats.requests == []


async def test_agreement_tool_calls_equivalent_arguments(module_replay_server: ReplayServer) -> None:
    from cascadeflow_integrations.tools.call import ToolCall

    s = module_replay_server
    tools = [{"name": "get_weather", "description": "", "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "days": {"type": "integer"}}}}]
    for i, args in enumerate(('{"days": 3, "city": "paris"}', '{"city": "Paris ", "days": 3.0}', '{"city": "Rome"}')):
        s.add(CHEAP, Reply(body=openai_body(CHEAP, None, tool_calls=[(f"c{i}", "get_weather", args)])))
    req = vreq(s, "groq")
    req.tools = tools
    draft = Draft("", [ToolCall(id="d", name="get_weather", arguments={"city": "Paris", "days": 3})])
    r = await AgreementCheck(k=3).score(req, draft)
    assert r.score == pytest.approx(2 / 3), r.detail
    assert all(body["tools"][0]["function"]["name"] == "get_weather" for body in s.stats.requests)


# ---- failing and hanging check calls -------------------------------------------------------------


async def test_failing_check_call_is_neutral_with_the_error_named(module_replay_server: ReplayServer) -> None:
    s = module_replay_server  # nothing queued: the replay server answers 404 for every call
    r = await SelfCheck().score(vreq(s), Draft(RIGHT))
    assert r.neutral and r.detail.startswith("neutral: error") and "no recording" in r.detail


async def test_failing_or_hanging_check_leaves_the_request_intact(module_replay_server: ReplayServer) -> None:
    s = module_replay_server
    say(s, CHEAP, RIGHT)
    s.add(CHEAP, Reply(body=openai_verdict_body(CHEAP, 0.9), first_delay=5.0))  # hangs past the check timeout
    say(s, CHEAP, RIGHT)  # second request: the check call fails (nothing queued for it)
    v = Staged(unsure(0.8), [SelfCheck(timeout=0.3)])
    agent = CascadeAgent([cheap(s), model(s, STRONG, cost=0.01)], validator=v, quality_threshold=0.8)
    hung = await agent.run(Q)
    failed = await agent.run(Q)
    for r, what in ((hung, "timed out"), (failed, "error")):
        assert r.draft_accepted and r.content == RIGHT
        check = next(c for c in r.decisions[0]["checks"] if c["name"] == "self_check")
        assert check["neutral"] and what in check["detail"]
    await agent.aclose()


# ---- staged spending in the engine ---------------------------------------------------------------


async def test_confident_free_score_pays_nothing(module_replay_server: ReplayServer) -> None:
    s = module_replay_server
    say(s, CHEAP, RIGHT)
    agent = CascadeAgent([cheap(s), model(s, STRONG)], validator=Staged(unsure(1.0), [AgreementCheck()]),
                         quality_threshold=0.7)
    r = await agent.run(Q)
    assert r.draft_accepted and r.validator_calls == 0 and r.validator_cost == 0
    assert len(s.stats.requests) == 1 and "skipped" in r.decisions[0]["reason"]
    await agent.aclose()


async def test_uncertain_free_score_pays_once_and_costs_are_summed(module_replay_server: ReplayServer) -> None:
    s = module_replay_server
    say(s, CHEAP, RIGHT, usage=(40, 12))
    s.add(CHEAP, Reply(events=openai_choices_stream(CHEAP, ["#### 18", "#### 18", "#### 18"], usage=(40, 9))))
    agent = CascadeAgent([cheap(s), model(s, STRONG, cost=0.01)],
                         validator=Staged(unsure(0.8), [AgreementCheck(k=3)]), quality_threshold=0.8)
    events = await collect(agent.stream_events(Q, streaming_mode="buffered"))
    r = events[-1].data["result"]
    decision = next(e for e in events if e.type is StreamEventType.DRAFT_DECISION).data
    check = next(c for c in decision["checks"] if c["name"] == "agreement")
    assert r.draft_accepted and r.validator_calls == 1 and len(s.stats.requests) == 2
    assert check["cost"] == pytest.approx(49 * PRICE / 1000) == decision["validator_cost"] == r.validator_cost
    assert r.total_cost == pytest.approx(52 * PRICE / 1000 + 49 * PRICE / 1000)
    await agent.aclose()


@pytest.mark.parametrize("mode", ["buffered", "guarded", "optimistic"])
async def test_wrong_draft_caught_by_disagreement(module_replay_server: ReplayServer, mode: str) -> None:
    s = module_replay_server
    say(s, CHEAP, WRONG)
    s.add(CHEAP, Reply(events=openai_choices_stream(CHEAP, ["#### 18", "#### 18", "#### 26"], usage=(40, 9))))
    say(s, STRONG, RIGHT)
    # The free checks score the wrong draft 0.72: unsure at 0.85, so the samples decide.
    agent = CascadeAgent([cheap(s), model(s, STRONG)], validator=Staged(default_validator(), [AgreementCheck(k=3)]),
                         quality_threshold=0.85)
    events = await collect(agent.stream_events(Q, streaming_mode=mode))
    r = events[-1].data["result"]
    assert r.model_used == STRONG and r.content == RIGHT and r.validator_calls == 1
    switch = next(e for e in events if e.type is StreamEventType.SWITCH)
    assert "agreement" in switch.data["detail"]
    shown = "".join(e.content for e in events if e.type is StreamEventType.CHUNK)
    assert shown == (WRONG + RIGHT if mode == "optimistic" else RIGHT)
    if mode == "optimistic":
        assert switch.data["retract_chars"] == len(WRONG)
    await agent.aclose()


@pytest.mark.parametrize("mode", ["buffered", "optimistic"])
@pytest.mark.parametrize("accept", [True, False])
async def test_speculative_escalation(module_replay_server: ReplayServer, accept: bool, mode: str) -> None:
    s = module_replay_server
    say(s, CHEAP, RIGHT)
    answers = ["#### 18"] * 3 if accept else ["#### 26"] * 3
    s.add(CHEAP, Reply(events=openai_choices_stream(CHEAP, answers, usage=(40, 9)), first_delay=0.2))
    s.add(STRONG, Reply(events=openai_stream(STRONG, words(RIGHT + " Checked."), usage=(40, 20)), delay=0.05))
    agent = CascadeAgent([cheap(s), model(s, STRONG, cost=0.01)], speculative_escalation=True,
                         validator=Staged(unsure(0.8), [AgreementCheck(k=3)]), quality_threshold=0.8)
    events = await collect(agent.stream_events(Q, streaming_mode=mode))
    r = events[-1].data["result"]
    shown = "".join(e.content for e in events if e.type is StreamEventType.CHUNK)
    assert shown == (RIGHT if accept else (RIGHT if mode == "optimistic" else "") + RIGHT + " Checked.")
    assert r.speculative_started and [a.model for a in r.attempts] == [CHEAP, STRONG]
    assert sum(1 for b in s.stats.requests if b["model"] == STRONG) == 1
    strong = r.attempts[1]
    if accept:
        assert r.model_used == CHEAP and r.content == RIGHT and strong.aborted and "cancelled" in strong.aborted
    else:
        assert r.model_used == STRONG and r.content == RIGHT + " Checked." and strong.aborted is None
    assert r.total_cost == pytest.approx(sum(a.cost for a in r.attempts) + r.validator_cost)
    await agent.aclose()


# ---- tool risk ------------------------------------------------------------------------------------

PAY = {"name": "transfer_funds", "description": "Move money",
       "parameters": {"type": "object", "properties": {"amount": {"type": "number"}}, "required": ["amount"]}}


def _call(server: ReplayServer, name: str, provider: str = "openai") -> None:
    args = json.dumps({"amount": 10})
    if provider == "anthropic":
        server.add(name, Reply(events=anthropic_stream(name, tool_calls=[("toolu_1", "transfer_funds", args)])))
    else:
        server.add(name, Reply(events=openai_stream(name, tool_calls=[("call_1", "transfer_funds", args)])))


@pytest.mark.parametrize("how", ["toolconfig", "dict", "pattern"])
@pytest.mark.parametrize("mode", ["buffered", "guarded"])
async def test_high_risk_tool_call_never_taken_from_a_draft(module_replay_server: ReplayServer, how: str,
                                                            mode: str) -> None:
    s = module_replay_server
    _call(s, CHEAP)
    _call(s, STRONG)
    tool: Any = {"toolconfig": ToolConfig(risk="high", **PAY), "dict": {**PAY, "risk": "high"}, "pattern": PAY}[how]
    agent = CascadeAgent([cheap(s), model(s, STRONG)], validator=lambda r, d: True,
                         high_risk_tools=["transfer_*"] if how == "pattern" else ())
    events = await collect(agent.stream_events("Send 10", tools=[tool], streaming_mode=mode))
    r = events[-1].data["result"]
    assert r.model_used == STRONG and r.tool_calls[0].name == "transfer_funds"
    switch = next(e for e in events if e.type is ToolStreamEventType.SWITCH)
    assert "high-risk tool 'transfer_funds'" in switch.data["detail"]
    assert switch.data["reason"] == ("aborted" if mode == "guarded" else "tool_risk")
    assert "tool_risk" in r.decisions[0]["reason"] or "tool_risk" in r.decisions[0]["checks"][0]["detail"]
    await agent.aclose()


async def test_low_risk_tool_call_accepted_and_run_path_gated(module_replay_server: ReplayServer) -> None:
    s = module_replay_server
    _call(s, CHEAP, "anthropic")
    agent = CascadeAgent([cheap(s, "anthropic"), model(s, STRONG)])
    r = await agent.run("Send 10", tools=[{**PAY, "risk": "low"}])
    assert r.draft_accepted and r.tool_calls[0].arguments == {"amount": 10}
    _call(s, CHEAP, "anthropic")
    _call(s, STRONG)
    r = await agent.run("Send 10", tools=[{**PAY, "risk": "critical"}])
    assert r.model_used == STRONG
    await agent.aclose()


def test_tool_risk_check_alone_and_bad_risk() -> None:
    from cascadeflow_integrations.tools.call import ToolCall

    req = ValidationRequest([Message("user", "x")], tools=[{**PAY, "risk": "high"}, {**PAY, "name": "rm_all"}])
    check = ToolRiskCheck(["rm_*"])
    assert not check.run(req, Draft("", [ToolCall("1", "rm_all", {})])).passed
    assert not check.run(req, Draft("", [ToolCall("1", "transfer_funds", {})])).passed
    assert check.run(req, Draft("no call")).passed
    with pytest.raises(ValueError, match="risk"):
        ToolConfig(risk="spicy", **PAY)


# ---- offline ----------------------------------------------------------------------------------------


async def test_evaluate_with_recorded_samples_and_self_check() -> None:
    agree = await evaluate(Q, RIGHT, samples=["#### 18", "It is 18.", "#### 18"], threshold=0.9)
    disagree = await evaluate(Q, RIGHT, samples=["#### 26", "#### 22", "#### 18"], threshold=0.9)
    assert agree.accepted and not disagree.accepted and agree.calls == 0 and agree.cost == 0
    assert "1/3 recorded samples agree" in disagree.reason
    yes = evaluate_sync(Q, RIGHT, self_check=0.95, threshold=0.9)
    no = evaluate_sync(Q, RIGHT, self_check=["no", "No.", "yes"], threshold=0.9)
    assert yes.accepted and not no.accepted
    with pytest.raises(ValueError, match="samples"):
        evaluate_sync(Q, RIGHT, samples="18")  # type: ignore[arg-type]


def test_staged_score_is_the_same_at_every_threshold() -> None:
    """The staged decision at threshold t equals `score >= t` (what calibration relies on)."""
    import asyncio

    v = Staged(unsure(0.8), [SelfCheck()], band=0.1)
    for p in (0.0, 0.3, 0.6, 1.0):
        req = ValidationRequest([Message("user", Q)], self_check=p)
        e = asyncio.run(v.validate(req, Draft(RIGHT), 0.0)).score
        for t in (0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95):
            req_live = ValidationRequest([Message("user", Q)])
            live = asyncio.run(v.validate(req_live, Draft(RIGHT), t))
            if live.calls == 0 and "skipped" in live.reason:  # outside the band: no model evidence needed
                assert live.accepted == (e >= t), (p, t)
            assert asyncio.run(v.validate(ValidationRequest([Message("user", Q)], self_check=p),
                                          Draft(RIGHT), t)).accepted == (e >= t - 1e-12), (p, t)


def test_calibrate_takes_recorded_samples() -> None:
    from cascadeflow_integrations.quality.calibrate import calibrate

    recs = []
    for i in range(150):  # a certified threshold needs labels: with 40, none is (every draft escalates)
        right = i % 3 != 0
        recs.append({"prompt": Q, "draft": RIGHT if right else WRONG, "draft_correct": right, "strong_correct": True,
                     "samples": json.dumps(["#### 18"] * 3 if right else ["#### 18", "#### 18", "#### 26"])})
    res = calibrate(recs, target_quality=0.95)
    assert res.heldout.quality_share >= 0.95 and res.heldout.escalation_share < 0.5
    assert calibrate(recs[:40], target_quality=0.95).threshold > 1.0


@pytest.mark.parametrize("sure", [False, True])
async def test_samples_concurrent_with_the_draft(module_replay_server: ReplayServer, sure: bool) -> None:
    s = module_replay_server
    # Both requests go to the draft model at once: the draft asks for logprobs, the samples do not.
    s.add(CHEAP, Reply(events=openai_stream(CHEAP, words(RIGHT), usage=(40, 12)), delay=0.01), match='"logprobs"')
    s.add(CHEAP, Reply(events=openai_choices_stream(CHEAP, ["#### 18"] * 3, usage=(40, 9))))
    v = Staged(unsure(1.0 if sure else 0.8), [AgreementCheck(k=3, concurrent=True)])
    agent = CascadeAgent([cheap(s), model(s, STRONG)], validator=v, quality_threshold=0.8)
    r = await agent.run(Q)
    assert r.draft_accepted and len(s.stats.requests) == 2 and r.validator_calls == 1
    check = next(c for c in r.decisions[0]["checks"] if c["name"] == "agreement")
    if sure:  # not needed, still paid: counted at its usage, or at an upper-bound estimate if cancelled
        assert check["neutral"] and "not needed" in check["detail"] or "cancelled" in check["detail"]
        assert r.validator_cost > 0
    else:
        assert check["score"] == 1.0 and r.validator_cost == pytest.approx(49 * PRICE / 1000)
    assert r.total_cost == pytest.approx(sum(a.cost for a in r.attempts) + r.validator_cost)
    await agent.aclose()


async def test_short_answer_without_evidence_always_checked() -> None:
    """No worked steps, no logprobs: the free score says nothing, so the samples decide (at any threshold)."""
    q = "A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the ball. How much is the ball, in dollars?"
    wrong = await evaluate(q, "0.10", samples=["0.05", "0.05", "0.10", "0.05"], threshold=0.5)
    right = await evaluate(q, "0.05", samples=["0.05", "0.05", "0.10", "0.05"], threshold=0.5)
    assert not wrong.accepted and right.accepted and "no evidence" in wrong.reason
    assert wrong.score == pytest.approx(0.25) and right.score == pytest.approx(0.75)


async def test_tool_loop_gates_high_risk_calls_every_step(module_replay_server: ReplayServer) -> None:
    from cascadeflow_integrations.tools import ToolExecutor

    s = module_replay_server
    paid: list[float] = []
    pay = ToolConfig(risk="high", function=lambda amount: paid.append(amount) or "sent", **PAY)
    _call(s, CHEAP)
    _call(s, STRONG)
    say(s, CHEAP, "Sent 10.")
    agent = CascadeAgent([cheap(s), model(s, STRONG)], tool_executor=ToolExecutor([pay]))
    r = await agent.run("Send 10", tools=[pay], execute_tools=True)
    assert paid == [10] and r.content == "Sent 10." and r.model_used == CHEAP
    assert [a.model for a in r.attempts] == [CHEAP, STRONG, CHEAP]
    assert "high-risk tool 'transfer_funds'" in r.decisions[0]["reason"]
    await agent.aclose()


def test_recorded_self_check_forms() -> None:
    assert evaluate_sync(Q, "#### 18", self_check=True, threshold=0.5).accepted
    assert not evaluate_sync(Q, "#### 18", self_check=[False], threshold=0.5).accepted
    with pytest.raises(ValueError, match="self_check"):
        evaluate_sync(Q, "#### 18", self_check=1.5)


async def test_server_ignoring_n_gives_the_choices_it_sent(module_replay_server: ReplayServer) -> None:
    s = module_replay_server
    say(s, CHEAP, "#### 18")  # a one-choice stream, as a compatible server that ignores `n` sends
    r = await AgreementCheck(k=3).score(vreq(s), Draft(RIGHT))
    assert r.score == 1.0 and "1/1 samples agree" in r.detail and "asked for 3 choices" in r.detail
