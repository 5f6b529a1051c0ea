"""The decision log, shadow calls, feedback and a fitted policy used end to end, on the loopback replay
server through the real SDKs (core, LangChain, LlamaIndex)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from learning_fixtures import fitted_policy, prompt_only_records, records
from replay_helpers import CHEAP, STRONG, agent, collect, model, say

from cascadeflow_integrations import CascadeAgent
from cascadeflow_integrations.learning import NotEnoughLabels, Policy, fit
from cascadeflow_integrations.learning.fit import read_record
from cascadeflow_integrations.learning.model import ConstantModel
from cascadeflow_integrations.learning.policy import Group, SkipRule
from cascadeflow_integrations.replay import Reply
from cascadeflow_integrations.replay.wire import openai_stream, words
from cascadeflow_integrations.stores import DecisionRow, Label, MemoryStore, SQLiteStore
from cascadeflow_integrations.streaming import StreamEventType

Q = "Tom has 12 apples and buys 30 more at the market on day 3. How many apples does he have now?"
#: what the shipped validator accepts (every given used); the policy tests use Q, like the fit fixture
QD = "Tom has 12 apples and buys 30 more. How many apples does he have?"
GOOD = "12 + 30 = 42.\n#### 42"
SLIP = "He has 12 + 30 = 43 apples.\n#### 43"


@pytest.fixture(scope="module")
def fitted() -> Policy:
    return fitted_policy()  # type: ignore[no-any-return]


async def test_rows_and_escalation_labels(module_replay_server: Any, tmp_path: Path) -> None:
    server = module_replay_server
    a = agent(server, decision_log=str(tmp_path / "log.db"))
    say(server, CHEAP, GOOD)
    accepted = await a.run(QD)
    say(server, CHEAP, "I'm not sure, maybe 50.")
    say(server, STRONG, "He has 42 apples.\n#### 42")
    escalated = await a.run(QD)
    say(server, CHEAP, "I cannot say.")
    say(server, STRONG, "The answer is 42.")
    agreeing = await a.run("Is the sky blue? Answer yes or no.")
    await a.aclose()
    assert accepted.draft_accepted and not escalated.draft_accepted
    store = SQLiteStore(tmp_path / "log.db")
    rows = {r.request_id: r for r in await store.rows()}
    assert set(rows) == {accepted.request_id, escalated.request_id, agreeing.request_id}
    r = rows[accepted.request_id]
    assert r.prompt is None and len(r.prompt_hash) == 24  # prompt text is off by default
    assert r.answer_kind == "number" and r.draft_answer == "42" and r.final_answer == "42"
    assert r.decision is not None and r.decision["accepted"] is True
    assert [c["name"] for c in r.checks][:2] == ["completeness", "refusal"]
    assert r.attempts[0]["model"] == CHEAP and r.attempts[0]["input_tokens"] == 20
    assert r.features["check:answer_presence"] == 1.0 and r.features["kind=number"] == 1.0
    e = rows[escalated.request_id]
    assert [x["model"] for x in e.attempts] == [CHEAP, STRONG] and e.decision["accepted"] is False
    labels = {lb.request_id: lb for lb in await store.labels()}
    assert labels[escalated.request_id].source == "escalation" and labels[escalated.request_id].score == 0.0
    assert accepted.request_id not in labels  # an accepted draft is labelled only by a shadow call or the user
    assert rows[agreeing.request_id].answer_kind == "yes_no"
    assert agreeing.request_id not in labels  # "The answer is 42." holds no yes/no: no label, not a wrong one
    store.close()


async def test_log_prompts_keeps_the_text(module_replay_server: Any) -> None:
    store = MemoryStore()
    a = agent(module_replay_server, decision_log=store, log_prompts=True)
    say(module_replay_server, CHEAP, GOOD)
    r = await a.run(QD)
    await a.aclose()
    row = await store.row(r.request_id)
    assert row is not None and row.prompt == QD


async def test_feedback_labels(module_replay_server: Any) -> None:
    store = MemoryStore()
    a = agent(module_replay_server, decision_log=store)
    say(module_replay_server, CHEAP, GOOD)
    r = await a.run(QD)
    assert a.feedback(r.request_id, correct=False)
    assert a.feedback(r.request_id, score=0.7)
    with pytest.raises(ValueError, match="exactly one"):
        a.feedback(r.request_id)
    with pytest.raises(ValueError, match="score"):
        a.feedback(r.request_id, score=3)
    await a.aclose()
    labels = await store.labels()
    assert [(lb.score, lb.source, lb.target) for lb in labels] == [(0.0, "feedback", "final"), (0.7, "feedback", "final")]
    with pytest.raises(ValueError, match="decision log"):
        agent(module_replay_server).feedback("x", correct=True)


async def test_shadow_call_runs_after_the_response_and_its_cost_is_apart(module_replay_server: Any) -> None:
    server = module_replay_server
    store = MemoryStore()
    a = CascadeAgent([model(server, CHEAP, cost=0.001), model(server, STRONG, cost=0.01)], decision_log=store,
                     shadow_rate=1.0)
    say(server, CHEAP, GOOD)
    # The shadow answer is held back by the server: the response must not wait for it.
    server.add(STRONG, Reply(events=openai_stream(STRONG, words("The answer is 42."), usage=(20, 10)), first_delay=1.0))
    r = await a.run(QD)
    assert r.draft_accepted and r.total_cost == pytest.approx(30 * 0.001 / 1000)  # the draft only
    assert a.shadow_cost == 0.0 and await store.labels() == []  # still waiting on the shadow call
    await a._learner.drain_shadows()
    assert a.shadow_cost == pytest.approx(30 * 0.01 / 1000)
    assert r.total_cost == pytest.approx(30 * 0.001 / 1000)  # unchanged: shadow cost is kept apart
    (label,) = await store.labels()
    assert (label.request_id, label.source, label.score, label.weight) == (r.request_id, "shadow", 1.0, 1.0)
    assert label.cost == pytest.approx(a.shadow_cost)
    await a.aclose()


async def test_aclose_cancels_shadow_calls(module_replay_server: Any) -> None:
    server = module_replay_server
    store = MemoryStore()
    a = agent(server, decision_log=store, shadow_rate=1.0)
    say(server, CHEAP, GOOD)
    server.add(STRONG, Reply(events=openai_stream(STRONG, words("42"), usage=(20, 10)), first_delay=30.0))
    r = await a.run(QD)
    assert r.draft_accepted
    tasks = list(a._learner._tasks)
    assert len(tasks) == 1
    await asyncio.wait_for(a.aclose(), 10)
    assert all(t.done() for t in tasks) and tasks[0].cancelled()
    assert await store.labels() == [] and a.shadow_cost == 0.0
    assert (await store.row(r.request_id)) is not None  # the log was drained


def test_shadow_rate_needs_a_log_and_a_share(module_replay_server: Any) -> None:
    with pytest.raises(ValueError, match="decision log"):
        agent(module_replay_server, shadow_rate=0.1)
    with pytest.raises(ValueError, match="shadow_rate"):
        agent(module_replay_server, decision_log=MemoryStore(), shadow_rate=1.5)


async def test_policy_decides_in_the_core_path(module_replay_server: Any, fitted: Policy, tmp_path: Path) -> None:
    server = module_replay_server
    path = tmp_path / "policy.json"
    fitted.save(path)
    a = agent(server, policy=str(path))
    assert a.policy is not None and a.policy.name == fitted.name
    say(server, CHEAP, GOOD)
    events = await collect(a.stream_events(Q, streaming_mode="buffered"))
    (dec,) = [e for e in events if e.type == StreamEventType.DRAFT_DECISION]
    assert dec.data["accepted"] is True
    assert dec.data["policy"]["name"] == fitted.name and dec.data["policy"]["features"]
    assert fitted.name in dec.data["reason"]
    say(server, CHEAP, SLIP)
    say(server, STRONG, "42")
    r = await a.run(Q)
    assert not r.draft_accepted and r.model_used == STRONG
    assert r.decisions[0]["policy"]["kind"] == "number"
    await a.aclose()


async def test_bad_policy_file_falls_back_to_thresholds(module_replay_server: Any, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "policy.json"
    path.write_text('{"format": "cascadeflow-integrations/policy", "schema": 1, "groups": {"*": '
                    '{"threshold": 0.5, "model": {"type": "pickle", "payload": "cos\\nsystem"}}}}')
    with caplog.at_level(logging.ERROR, logger="cascadeflow_integrations"):
        a = agent(module_replay_server, policy=str(path))
    assert a.policy is None and "groups.*.model.type" in (a.policy_error or "")
    assert any("falling back" in r.message for r in caplog.records)
    say(module_replay_server, CHEAP, GOOD)
    r = await a.run(QD)
    assert r.draft_accepted and "policy" not in r.decisions[0]
    assert r.decisions[0]["threshold"] == pytest.approx(0.801)  # the shipped thresholds decided
    await a.aclose()


async def test_policy_routes_direct_when_a_draft_would_be_rejected(module_replay_server: Any) -> None:
    server = module_replay_server
    p = fit(prompt_only_records(600), target_quality=0.95)
    hard = "Question 9 about astrology horoscope zodiac: pick one.\nA. one\nB. two\nC. three\nD. four\nAnswer:"
    a = agent(server, policy=p)
    say(server, STRONG, "C")
    events = await collect(a.stream_events(hard))
    routing = events[0]
    assert routing.type == StreamEventType.ROUTING and routing.data["strategy"] == "direct"
    assert routing.data["policy"]["name"] == p.name and routing.data["policy"]["estimate"] < 0.5
    assert "would be accepted" in routing.data["reason"]
    assert [body["model"] for body in server.stats.requests] == [STRONG]  # no draft was asked for
    await a.aclose()


def _seed_log(store: Any, n: int) -> None:
    """Rows and labels as the agent writes them, from the hand-made records (no provider needed)."""
    for i, rec in enumerate(records(n, seed=7)):
        v = read_record(rec)
        rid = f"seed-{i}"
        served = i % 3 == 0  # a third were accepted and shadowed, the rest escalated
        store.append(DecisionRow(request_id=rid, answer_kind=v.kind, complexity=v.complexity, features=v.feats or {},
                                 decision={"accepted": served},
                                 attempts=[{"model": CHEAP, "phase": "draft", "cost": v.draft_cost},
                                           {"model": STRONG, "phase": "verifier", "cost": v.strong_cost}],
                                 checks=[{"name": c.name, "passed": c.passed, "score": c.score} for c in v.checks]))
        store.add_label(Label(rid, float(rec["draft_correct"]), source="shadow" if served else "escalation",
                              weight=3.0 if served else 1.0))


async def test_agent_fit_from_its_log_and_background_refit(module_replay_server: Any, tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "log.db")
    a = agent(module_replay_server, decision_log=store)
    with pytest.raises(NotEnoughLabels, match="more needed"):
        await a.fit()
    _seed_log(store, 260)
    p1 = await a.fit(0.95, refit_every=5, save=tmp_path / "p.json")
    assert a.policy is p1 and Policy.load(tmp_path / "p.json").name == p1.name
    published = await store.get_policy()
    assert published is not None and published.doc["name"] == p1.name
    say(module_replay_server, CHEAP, SLIP)
    say(module_replay_server, STRONG, "42")
    r = await a.run(Q)
    assert not r.draft_accepted and r.decisions[0]["policy"]["name"] == p1.name
    _seed_log(store, 40)
    for _ in range(5):
        a.feedback(r.request_id, correct=True)
    refit = a._learner._refit
    assert refit is not None
    await refit
    assert a.policy is not p1 and a._learner.refits == 2
    assert (await store.get_policy()).version == published.version + 1  # type: ignore[union-attr]
    await a.aclose()
    store.close()


async def test_langchain_and_llamaindex_carry_the_request_id(module_replay_server: Any, fitted: Policy) -> None:
    pytest.importorskip("langchain_core")
    pytest.importorskip("llama_index.core")
    from llama_index.core.llms import ChatMessage

    from cascadeflow_integrations.langchain import ChatCascade
    from cascadeflow_integrations.llama_index import CascadeLLM

    server = module_replay_server
    models = [model(server, CHEAP), model(server, STRONG)]
    store = MemoryStore()
    lc = ChatCascade(models=models, decision_log=store, policy=fitted)
    say(server, CHEAP, GOOD)
    msg = await lc.ainvoke(Q)
    meta = msg.response_metadata["cascade"]
    assert meta["draft_accepted"] and meta["decisions"][0]["policy"]["name"] == fitted.name
    assert lc.feedback(meta["request_id"], correct=True)
    say(server, CHEAP, SLIP)
    say(server, STRONG, "He has 42.")
    chunks = [c async for c in lc.astream(Q)]
    streamed = [c for c in chunks if c.response_metadata.get("cascade")][-1].response_metadata["cascade"]
    assert not streamed["draft_accepted"]
    await lc.cascade_agent.aclose()

    li_store = MemoryStore()
    li = CascadeLLM(models, decision_log=li_store, policy=fitted)
    say(server, CHEAP, SLIP)
    say(server, STRONG, "He has 42.")
    resp = await li.achat([ChatMessage(role="user", content=Q)])
    info = resp.raw["cascade"]
    assert not info["draft_accepted"] and info["decisions"][0]["policy"]["name"] == fitted.name
    assert li.feedback(info["request_id"], score=1.0)
    await li._agent.aclose()
    rows = {r.request_id for r in await store.rows()}
    assert meta["request_id"] in rows and streamed["request_id"] in rows
    li_labels = await li_store.labels()
    assert {lb.source for lb in li_labels} == {"escalation", "feedback"}
    assert all(lb.request_id == info["request_id"] for lb in li_labels)
    with pytest.raises(ValueError, match="go on the CascadeAgent"):
        ChatCascade(agent=CascadeAgent(models), decision_log=store)
    with pytest.raises(ValueError, match="go on the CascadeAgent"):
        CascadeLLM(agent=CascadeAgent(models), policy=fitted)


def test_policy_json_is_plain_data(fitted: Policy, tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    fitted.save(path)
    doc = json.loads(path.read_text())
    assert doc["groups"]["*"]["model"]["type"] in ("logistic", "constant")
    assert isinstance(doc["report"]["heldout_curve"], list)
    # the skip rule round-trips with its threshold
    p = Policy({"*": Group(ConstantModel(0.9), 0.5)}, skip=SkipRule(ConstantModel(0.1), 0.3))
    p.save(path)
    q = Policy.load(path)
    assert q.route("anything") == (True, pytest.approx(0.1))


async def test_judge_labels_free_text(module_replay_server: Any) -> None:
    from cascadeflow_integrations.quality import JudgeValidator, default_validator

    server = module_replay_server
    store = MemoryStore()
    from cascadeflow_integrations.types import Completion, Usage

    asked: list[Any] = []

    async def grader(request: Any) -> Completion:  # plays the judge model, as in test_quality_judge.py
        asked.append(request)
        return Completion(text="VERDICT: CORRECT\nGRADE: 9", usage=Usage(50, 5))

    judge = JudgeValidator(model=model(server, "judge-model"), complete=grader)
    a = CascadeAgent([model(server, CHEAP), model(server, STRONG)], decision_log=store, shadow_rate=1.0,
                     validator=[default_validator(), judge])
    say(server, CHEAP, "Rome grew from a village on the Tiber into an empire that ruled the Mediterranean.")
    say(server, STRONG, "Rome began as a small settlement and became a vast empire.")
    r = await a.run("Tell me about the history of Rome in two sentences.")
    assert r.draft_accepted, r.decisions
    await a._learner.drain_shadows()  # the shadow call, then the judge (free text has no agreement label)
    (label,) = await store.labels()
    assert (label.request_id, label.source, label.score, label.target) == (r.request_id, "judge", 0.9, "draft")
    assert len(asked) == 2  # once to validate the draft, once to label it after the shadow call
    await a.aclose()


def test_sync_calls_shadow_on_the_background_loop_and_aclose_cancels(module_replay_server: Any) -> None:
    server = module_replay_server
    store = MemoryStore()
    a = agent(server, decision_log=store, shadow_rate=1.0)
    say(server, CHEAP, GOOD)
    server.add(STRONG, Reply(events=openai_stream(STRONG, words("42"), usage=(20, 10)), first_delay=30.0))
    r = a.run_sync(QD)  # runs on the library's background loop; the shadow task lives there too
    assert r.draft_accepted
    tasks = list(a._learner._tasks)
    assert len(tasks) == 1
    asyncio.run(asyncio.wait_for(a.aclose(), 10))  # closed from another loop
    assert tasks[0].cancelled()
    assert asyncio.run(store.labels()) == [] and asyncio.run(store.row(r.request_id)) is not None


async def test_requests_routed_direct_get_shadow_drafts(module_replay_server: Any) -> None:
    server = module_replay_server
    p = fit(prompt_only_records(600), target_quality=0.95)
    hard = "Question 9 about astrology horoscope zodiac: pick one.\nA. one\nB. two\nC. three\nD. four\nAnswer:"
    store = MemoryStore()
    a = agent(server, policy=p, decision_log=store, shadow_rate=1.0)
    say(server, STRONG, "C")
    say(server, CHEAP, "A")  # the draft the request did not get, asked for in the background
    r = await a.run(hard)
    assert r.strategy == "direct" and r.model_used == STRONG
    await a._learner.drain_shadows()
    row = await store.row(f"{r.request_id}.draft")
    assert row is not None and row.strategy == "cascade" and row.decision is None
    assert row.features["kind=choice"] == 1.0 and row.draft_answer == "A" and row.final_answer == "C"
    (label,) = await store.labels()
    assert (label.request_id, label.source, label.score, label.weight) == (row.request_id, "shadow", 0.0, 1.0)
    assert server.pending() == []
    await a.aclose()


def test_cli_fit_on_a_decision_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cascadeflow_integrations.cli import main as cli_main

    db = tmp_path / "cascade.db"
    store = SQLiteStore(db)
    _seed_log(store, 260)
    store.close()
    out = tmp_path / "policy.json"
    assert cli_main(["fit", str(db), "--target", "0.95", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "labels: 260" in text and "curve of" in text
    assert Policy.load(out).report["n_labels"] == 260


async def test_a_validator_given_with_the_policy_computes_its_checks(module_replay_server: Any,
                                                                     fitted: Policy) -> None:
    from cascadeflow_integrations.quality import CheckResult, Decision, default_validator

    def house_rule(request: Any, draft: Any) -> Decision:
        return Decision(True, 0.9, 0.9, "house rule", 0.0, [CheckResult("house_rule", True, 0.9)])

    store = MemoryStore()
    a = agent(module_replay_server, policy=fitted, validator=[default_validator(), house_rule], decision_log=store)
    say(module_replay_server, CHEAP, GOOD)
    r = await a.run(Q)
    assert r.decisions[0]["policy"]["name"] == fitted.name
    assert "house_rule" in [c["name"] for c in r.decisions[0]["checks"]]
    await a.aclose()
    row = await store.row(r.request_id)
    assert row is not None and row.features["check:house_rule"] == 0.9  # a feature for the next fit
