"""One feature recipe (`learning.features.features`): every path that builds features (the decision log, `fit`
on records, the learner's shadow drafts, a policy deciding and its skip model) gives the features pinned in
tests/fixtures/feature_recipe.json, computed by the per-caller compositions this recipe replaced; and a
policy-decided call computes its features once, the decision log reusing the policy's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from learning_fixtures import fitted_policy, prompt_only_records
from replay_helpers import CHEAP, STRONG, agent, say

from cascadeflow_integrations import CascadeAgent
from cascadeflow_integrations.learning import features as recipe
from cascadeflow_integrations.learning import fit
from cascadeflow_integrations.learning.fit import read_record
from cascadeflow_integrations.learning.log import build_row
from cascadeflow_integrations.learning.policy import Policy
from cascadeflow_integrations.messages import Message
from cascadeflow_integrations.quality.base import CheckResult, Decision, Draft
from cascadeflow_integrations.result import CascadeResult
from cascadeflow_integrations.stores import MemoryStore
from cascadeflow_integrations.tools.call import ToolCall
from cascadeflow_integrations.types import TokenLogprob

GOLD_PATH = Path(__file__).parent / "fixtures" / "feature_recipe.json"
Q = "Tom has 12 apples and buys 30 more at the market on day 3. How many apples does he have now?"
GOOD = "12 + 30 = 42.\n#### 42"
CHOICE = "Question 4: which planet is the largest?\nA. Mars\nB. Jupiter\nC. Venus\nD. Earth\nAnswer:"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
WEATHER = "What is the weather in Paris today? Use the tool."
LPS = [-0.01, -0.2, -0.05, -3.1, -0.4, -0.02, -2.5, -0.001, -0.3, -0.07]
HARD = "Question 9 about astrology horoscope zodiac: pick one.\nA. one\nB. two\nC. three\nD. four\nAnswer:"


def _pairs(f: dict[str, float] | None) -> Any:
    """Names and values, sorted (the word buckets come in set order, which varies between processes)."""
    return None if f is None else sorted([k, v] for k, v in f.items())


def _with_buckets(p: Policy, buckets: int) -> Policy:
    doc = p.to_dict()
    doc["hash_buckets"] = buckets
    return Policy.from_dict(doc)


def policy_cases() -> dict[str, Any]:
    p128 = fitted_policy()
    p64 = _with_buckets(p128, 64)
    call = ToolCall("call_1", "get_weather", {"city": "Paris"})
    given = [CheckResult("completeness", True, 0.9), CheckResult("house_rule", False, 0.25, "no"),
             CheckResult("agreement", True, 0.5, neutral=True)]
    out: dict[str, Any] = {}
    for name, p in (("p128", p128), ("p64", p64)):
        for case, args, kw in (
            ("number", (Q, GOOD), {"complexity": "simple", "logprobs": LPS}),
            ("choice", (CHOICE, "B. Jupiter"), {}),
            ("tool", (WEATHER, ""), {"tools": TOOLS, "tool_calls": [call], "finish_reason": "tool_calls",
                                     "complexity": "moderate"}),
            ("recorded", (Q, "It is 42.\n#### 42"), {"samples": ["42", "43"], "self_check": 0.8}),
            ("given_checks", (Q, GOOD), {"checks": given, "logprobs": [TokenLogprob("a", -0.5)]}),
        ):
            kind, checks, feats = p.features(*args, **kw)
            out[f"policy.features/{name}/{case}"] = {"kind": kind, "checks": [c.name for c in checks],
                                                     "features": _pairs(feats)}
        for case, prompt, kw in (("number", Q, {}), ("tool", WEATHER, {"tools": TOOLS}),
                                 ("complex", CHOICE, {"complexity": "complex"})):
            out[f"skip/{name}/{case}"] = _pairs(recipe.prompt_features(prompt, kw.get("complexity"), None,
                                                                       kw.get("tools"), p.hash_buckets))
    return out


def fit_records() -> list[dict[str, Any]]:
    return [
        {"prompt": Q, "draft": GOOD, "strong": "42", "logprobs": LPS},
        {"prompt": CHOICE, "draft": "I think it could be A or maybe C.", "strong": "B", "complexity": "hard",
         "finish_reason": "length"},
        {"prompt": WEATHER, "draft": "It is sunny in Paris.", "tools": TOOLS, "strong": "Sunny."},
        {"prompt": Q, "draft": "It is 42.\n#### 42", "strong": "42", "samples": ["42", "42."], "self_check": [True]},
        {"prompt": HARD, "draft_correct": False},
    ]


def fit_cases() -> dict[str, Any]:
    out = {}
    for i, rec in enumerate(fit_records()):
        v = read_record(rec)
        out[f"fit/{i}"] = {"kind": v.kind, "checks": [c.name for c in v.checks], "prompt_features":
                           _pairs(v.prompt_feats), "features": _pairs(v.feats)}
    return out


def log_inputs() -> list[tuple[str, list[Message], Any, Draft, Decision, str]]:
    """(name, messages, tools, draft, decision, complexity) of hand-made finished calls."""
    checks = [CheckResult("completeness", True, 0.75), CheckResult("consistency", False, 0.125, "slip"),
              CheckResult("agreement", True, 0.5, neutral=True), CheckResult("policy:x", False, 0.3)]
    lp = [TokenLogprob(str(i), x) for i, x in enumerate(LPS)]
    call = ToolCall("call_1", "get_weather", {"city": "Paris"})
    return [
        ("number", [Message("system", "Be brief."), Message("user", Q)], None,
         Draft(GOOD, logprobs=lp, finish_reason="stop"), Decision(False, 0.3, 0.3, "slip", 0.7, checks), "simple"),
        ("tool", [Message("user", WEATHER)], TOOLS, Draft("", tool_calls=[call], finish_reason="tool_calls"),
         Decision(True, 0.9, 0.9, "ok", 0.5, checks[:1]), "moderate"),
    ]


def log_result(draft: Draft, decision: Decision, complexity: str) -> CascadeResult:
    """A finished cascade as the engine leaves it for the decision log."""
    r = CascadeResult(content="42", model_used=STRONG, strategy="cascade", complexity=complexity)
    r.drafts.append(draft)
    r.decisions.append(decision.to_dict())
    r.decided.append(decision)
    return r


def log_cases() -> dict[str, Any]:
    out = {}
    for name, messages, tools, draft, decision, complexity in log_inputs():
        row, _ = build_row(log_result(draft, decision, complexity), messages, tools, False, 1.0)
        out[f"log/{name}"] = {"checks": row.checks, "features": _pairs(row.features)}
    return out


def gold() -> dict[str, Any]:
    return json.loads(GOLD_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("cases", [policy_cases, fit_cases, log_cases])
def test_every_path_gives_the_pinned_features(cases: Any) -> None:
    want = gold()
    got = cases()
    assert got, "no cases"
    for name, value in got.items():
        assert json.loads(json.dumps(value)) == want[name], name


async def test_shadow_draft_rows_have_the_pinned_features(module_replay_server: Any) -> None:
    server = module_replay_server
    p = fit(prompt_only_records(600), target_quality=0.95)
    store = MemoryStore()
    a = agent(server, policy=p, decision_log=store, shadow_rate=1.0)
    say(server, STRONG, "C")
    say(server, CHEAP, "A")  # the draft the request was routed past, asked for in the background
    r = await a.run(HARD)
    assert r.strategy == "direct"
    await a._learner.drain_shadows()
    await a.aclose()
    row = await store.row(f"{r.request_id}.draft")
    assert row is not None
    assert _pairs(row.features) == gold()["live/shadow_draft"]


def _count_recipe(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the recipe's draft half: it runs once per feature dict of a draft, whoever asks."""
    calls: list[str] = []
    real = recipe.draft_features

    def counted(*args: Any, **kw: Any) -> dict[str, float]:
        calls.append(args[1])
        return real(*args, **kw)

    monkeypatch.setattr(recipe, "draft_features", counted)
    return calls


async def test_a_policy_decided_call_computes_features_once(module_replay_server: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    server = module_replay_server
    policy = fitted_policy()
    store = MemoryStore()
    a = agent(server, policy=policy, decision_log=store)
    calls = _count_recipe(monkeypatch)
    say(server, CHEAP, GOOD)
    r = await a.run(Q)
    await a.aclose()
    assert r.decisions[0]["policy"]["name"] == policy.name
    assert calls == [GOOD]  # the policy's computation; the log reuses it
    row = await store.row(r.request_id)
    assert row is not None
    # what the log holds is what the policy decided on (check scores as the checks gave them, no longer
    # rounded to 4 places by a trip through the decision's dict), as the recipe gives them on the same inputs
    _, _, live = policy.features(Q, GOOD, complexity=r.complexity, checks=[c for c in r.decided[0].checks
                                                                            if not c.name.startswith("policy:")])
    assert row.features == live and row.features["kind=number"] == 1.0
    assert _pairs(row.features) == gold()["log/policy_decided"]


async def test_the_log_recomputes_when_the_policy_hashes_words_differently(
        module_replay_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    server = module_replay_server
    policy = _with_buckets(fitted_policy(), 64)
    store = MemoryStore()
    a = agent(server, policy=policy, decision_log=store)
    calls = _count_recipe(monkeypatch)
    say(server, CHEAP, GOOD)
    r = await a.run(Q)
    await a.aclose()
    assert calls == [GOOD, GOOD]  # the log keeps its own word buckets (the default), so it computes its own
    row = await store.row(r.request_id)
    assert row is not None and _pairs(row.features) == gold()["log/policy_decided"]
    assert r.decided[0].features is not None and r.decided[0].features.values != row.features


async def test_without_a_policy_the_log_computes_the_features(module_replay_server: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    server = module_replay_server
    store = MemoryStore()
    a = agent(server, decision_log=store)
    calls = _count_recipe(monkeypatch)
    say(server, CHEAP, GOOD)
    r = await a.run("Tom has 12 apples and buys 30 more. How many apples does he have?")  # the shipped checks accept
    await a.aclose()
    assert calls == [GOOD] and r.decided[0].features is None
    row = await store.row(r.request_id)
    assert row is not None and row.features["check:completeness"] == r.decided[0].checks[0].score


async def test_a_hook_amended_decision_reaches_the_row(module_replay_server: Any) -> None:
    """The budget makes a rejected draft the answer: the typed decision the log serialises says so, as the
    `decisions` dict does, and the row keeps the stored format."""
    from cascadeflow_integrations.budget import Budget
    from cascadeflow_integrations.messages import to_messages
    from replay_helpers import model, reject

    server = module_replay_server
    models = [model(server, CHEAP, cost=1.0), model(server, STRONG, cost=10.0)]
    fits_the_draft = Budget(1).worst_case_usd(models[:1], to_messages("What is 2+2?", None), None, 50) * 1.01
    store = MemoryStore()
    a = CascadeAgent(models, budget=Budget(fits_the_draft, on_exceed="drafts_only"), validator=reject,
                     decision_log=store)
    say(server, CHEAP, "four")
    r = await a.run("What is 2+2?", max_tokens=50)
    await a.aclose()
    assert r.model_used == CHEAP and r.decisions[0]["budget_override"] is True
    typed = r.decided[0]
    assert typed.accepted is True and typed.reason == r.decisions[0]["reason"] and typed.reason.startswith("budget")
    row = await store.row(r.request_id)
    assert row is not None and row.decision == {"accepted": True, "score": r.decisions[0]["score"],
                                                "threshold": r.decisions[0]["threshold"],
                                                "reason": r.decisions[0]["reason"]}
    assert list(row.decision) == ["accepted", "score", "threshold", "reason"] and row.draft_accepted is True
