"""Fitting a policy on a small hand-made fixture: refusal on too few labels, decisions, the guard,
skip-the-draft from prompts alone, JSON round trips, hostile policy files, the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cascadeflow_integrations.cli import main as cli_main
from cascadeflow_integrations.learning import NotEnoughLabels, Policy, PolicyFileError, fit
from cascadeflow_integrations.quality.base import Decision
from learning_fixtures import fitted_policy, prompt_only_records, records

GOOD = ("Tom has 12 apples and buys 30 more at the market on day 3. How many apples does he have now?",
        "12 + 30 = 42.\n#### 42")
SLIP = (GOOD[0], "He has 12 + 30 = 43 apples.\n#### 43")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return fitted_policy()  # type: ignore[no-any-return]


def test_refuses_too_few_labels_and_says_how_many_more() -> None:
    with pytest.raises(NotEnoughLabels) as e:
        fit(records(40), target_quality=0.95)
    msg = str(e.value)
    assert "has 40" in msg and "60 more" in msg
    assert "number" in msg and "choice" in msg and "more for a model of its own" in msg
    assert e.value.needed == 60 and e.value.per_kind["number"] > 0


def test_unlabelled_records_do_not_count() -> None:
    recs = [{"prompt": "Tell me a story about a dragon.", "draft": "Once upon a time...", "strong": "Long ago..."}] * 200
    with pytest.raises(NotEnoughLabels, match="has 0"):
        fit(recs)


def test_fitted_policy_decides(policy: Policy) -> None:
    good = policy.decide(*GOOD)
    slip = policy.decide(*SLIP)
    assert isinstance(good, Decision) and good.accepted and not slip.accepted
    assert good.policy is not None and good.policy["name"] == policy.name and good.policy["kind"] == "number"
    assert good.policy["features"], "the decision names the features that weighed most"
    assert policy.name in good.reason
    assert policy.decide(GOOD[0], "I'm not sure, but maybe it is around 50 apples, hard to say.").accepted is False
    # A truncated draft is vetoed whatever the model says.
    assert policy.decide(*GOOD, finish_reason="length").accepted is False


def test_report_has_heldout_curve_and_bound(policy: Policy) -> None:
    r = policy.report
    assert r["n_labels"] == 300 and r["n_heldout"] == 300  # every label, scored on nested folds
    assert "nested" in r["heldout_how"]
    assert r["fit_lower_bound"] is not None and r["fit_lower_bound"] >= 0.95
    assert r["confidence"] == 0.9 and policy.confidence == 0.9 and "90%" in r["guarantee"]
    assert r["chosen"] == "model" and {c["name"] for c in r["candidates"]} >= {"signal:checks_product", "model"}
    assert r["heldout"]["quality_share"] >= 0.9
    assert r["heldout"]["cost_share"] < r["heldout_accept_all"]["cost_share"] + 1.0
    assert [c["threshold"] for c in r["heldout_curve"]][:3] == [0.0, 0.05, 0.1]
    assert r["heldout_oracle"]["quality_share"] >= r["heldout"]["quality_share"] - 1e-9
    # The shipped free checks already tell these slips apart, so the policy escalates about the wrong share.
    assert 0.15 <= r["heldout"]["escalation_share"] <= 0.5


def test_never_beaten_by_accept_all() -> None:
    recs = records(200, seed=3)
    for r in recs:
        r["draft_correct"] = True  # every draft is right: accepting them all is best
    p = fit(recs)
    assert p.report["fit"]["escalation_share"] == 0.0
    assert p.report["heldout"]["escalation_share"] == 0.0
    assert p.decide(*SLIP).accepted  # nothing in these labels says a slip is wrong


def test_escalate_all_when_drafts_are_worthless() -> None:
    recs = records(200, seed=4)
    for r in recs:
        r["draft_correct"] = False
        r["draft_tokens"] = r["strong_tokens"] = 1000
    p = fit(recs)
    assert p.report["fit"]["quality_share"] == 1.0
    assert p.route(GOOD[0])[0] is True  # every request goes direct: a draft would only add its cost
    assert p.decide(*GOOD).accepted is False


def test_skip_the_draft_from_prompts_alone() -> None:
    p = fit(prompt_only_records(600), target_quality=0.95)
    assert p.skip is not None
    hard = "Question 9 about astrology horoscope zodiac: pick one.\nA. one\nB. two\nC. three\nD. four\nAnswer:"
    easy = "Question 9 about geography rivers mountains: pick one.\nA. one\nB. two\nC. three\nD. four\nAnswer:"
    skip_hard, p_hard = p.route(hard)
    skip_easy, p_easy = p.route(easy)
    assert skip_hard and not skip_easy
    assert p_hard is not None and p_easy is not None and p_hard < p_easy
    h = p.report["heldout"]
    assert 0.25 <= h["skip_share"] <= 0.6 and h["quality_share"] >= 0.93


def test_json_round_trip(policy: Policy, tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    policy.save(path)
    text = path.read_text()
    assert text.lstrip().startswith("{") and '"format": "cascadeflow-integrations/policy"' in text
    loaded = Policy.load(path)
    assert loaded.to_dict() == json.loads(text)
    for prompt, draft in (GOOD, SLIP):
        a, b = policy.decide(prompt, draft), loaded.decide(prompt, draft)
        assert (a.accepted, round(a.score, 4)) == (b.accepted, round(b.score, 4))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"not json at all", "not valid JSON"),
        (b"\x80\x81\x82", "UTF-8"),
        (b"[1, 2, 3]", "must be a JSON object"),
        (b'{"format": "something-else"}', "not a cascadeflow policy"),
        (b"\x80\x04\x95\x15\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94.", "UTF-8"),
        (b"[" * 100000 + b"]" * 100000, "not valid JSON"),
    ],
)
def test_malformed_or_hostile_files(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(content)
    with pytest.raises(PolicyFileError, match=match):
        Policy.load(path)


def test_tampered_fields_are_named(policy: Policy, tmp_path: Path) -> None:
    good = policy.to_dict()

    def broken(edit) -> str:  # type: ignore[no-untyped-def]
        d = json.loads(json.dumps(good))
        edit(d)
        path = tmp_path / "p.json"
        path.write_text(json.dumps(d))
        with pytest.raises(PolicyFileError) as e:
            Policy.load(path)
        return str(e.value)

    model = next(g for g in good["groups"].values() if g["model"]["type"] == "logistic")
    gname = next(k for k, g in good["groups"].items() if g is model)
    assert "coef must hold" in broken(lambda d: d["groups"][gname]["model"]["coef"].pop())
    assert "threshold" in broken(lambda d: d["groups"][gname].__setitem__("threshold", "__import__('os')"))
    assert "schema" in broken(lambda d: d.__setitem__("schema", 99))
    assert "lacks '*'" in broken(lambda d: d["groups"].pop("*"))
    assert "unknown answer kind" in broken(lambda d: d["groups"].__setitem__("essay", d["groups"]["*"]))
    assert "type" in broken(lambda d: d["groups"][gname]["model"].__setitem__("type", "pickle"))
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(good).replace('"intercept": ', '"intercept": NaN, "x": ', 1))
    with pytest.raises(PolicyFileError, match="not valid JSON"):
        Policy.load(path)
    with pytest.raises(PolicyFileError, match="cannot be read"):
        Policy.load(tmp_path / "missing.json")


def test_missing_sklearn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)
    with pytest.raises(ImportError, match=r"cascadeflow-integrations\[learn\]"):
        fit(records(120))


def test_cli_fit_on_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "records.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in records(200)))
    out = tmp_path / "policy.json"
    assert cli_main(["fit", str(src), "--target", "0.95", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "curve of" in text and "lower confidence bound" in text and "guarantee:" in text and f"wrote {out}" in text
    assert Policy.load(out).target_quality == 0.95
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(json.dumps(r) for r in records(30)))
    assert cli_main(["fit", str(small)]) == 2
    assert "70 more" in capsys.readouterr().err
    assert cli_main(["fit", str(tmp_path / "nope.db")]) == 2


def test_served_traffic_needs_labels_of_accepted_drafts() -> None:
    from cascadeflow_integrations.learning.fit import example_from_record, fit_examples

    exs = [example_from_record(r) for r in records(200)]
    for e in exs:
        assert e is not None
        e.served_accepted = False  # only escalations were labelled: nothing is known of accepted drafts
    with pytest.raises(NotEnoughLabels, match="labels of accepted drafts too: has 0 of the 15"):
        fit_examples(exs)  # type: ignore[arg-type]
    for e in exs[:15]:
        e.served_accepted = True  # type: ignore[union-attr]
    assert fit_examples(exs).report["n_labels"] == 200  # type: ignore[arg-type]


def test_recorded_samples_and_self_check_are_features() -> None:
    import random
    import re

    rnd = random.Random(1)
    recs = [r for r in records(400, seed=5) if "####" in r["strong"]]  # the word problems
    for r in recs:
        right = re.findall(r"#### (\d+)", r["strong"])[0]
        other = str(int(right) + 7)
        # the draft model's other samples agree with a right draft, mostly not with a wrong one
        r["samples"] = [f"#### {right}"] * 3 if r["draft_correct"] else [f"#### {other}", f"#### {right}", "#### 1"]
        r["self_check"] = 0.9 if r["draft_correct"] else rnd.choice([0.2, 0.6])
    p = fit(recs)
    # each recorded check is a scorer of its own, beside the model that reads them all; the cheapest wins
    names = {c["name"] for c in p.report["candidates"]}
    assert {"signal:check:agreement", "signal:check:self_check", "model"} <= names
    model = (p.groups.get("number") or p.groups["*"]).model
    reads = {getattr(model, "feature", None), *getattr(model, "names", [])}
    assert reads & {"check:agreement", "check:self_check", "checks_product"}  # the product holds both checks
    agree = p.decide(*GOOD, samples=["#### 42", "#### 42"], self_check=0.9)
    disagree = p.decide(*GOOD, samples=["#### 49", "#### 1"], self_check=0.2)
    assert agree.score > disagree.score
    with pytest.raises(ValueError, match="samples must be a list"):
        p.decide(*GOOD, samples="#### 42")


def test_records_with_tool_calls_as_json_dicts_are_read() -> None:
    """A JSON records file holds tool calls as plain dicts (or OpenAI's function form, or a JSON list in CSV)."""
    import json

    from cascadeflow_integrations.learning.fit import read_record

    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.",
                                               "parameters": {"type": "object",
                                                              "properties": {"city": {"type": "string"}}}}}]
    plain = [{"id": "c1", "name": "get_weather", "arguments": {"city": "Paris"}}]
    openai = [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
    other = [{"id": "c9", "name": "get_weather", "arguments": {"city": "Rome"}}]
    for draft_calls in (plain, openai, json.dumps(plain)):
        rec = {"prompt": "Weather in Paris?", "draft": "", "tools": tools, "strong": "",
               "draft_tool_calls": draft_calls, "strong_tool_calls": plain}
        view = read_record(rec)
        assert view.draft_quality == 1.0  # the same call as the strong model's, by agreement
        assert view.feats is not None and view.feats["draft_tool_calls"] == 1.0
    wrong = read_record({"prompt": "Weather in Paris?", "draft": "", "tools": tools, "strong": "",
                         "draft_tool_calls": other, "strong_tool_calls": plain})
    assert wrong.draft_quality == 0.0
    with pytest.raises(ValueError, match="draft_tool_calls"):
        read_record({"prompt": "q", "draft": "", "draft_correct": True, "draft_tool_calls": [{"arguments": {}}]})
