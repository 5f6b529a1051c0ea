"""Calibration on the small fixture."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cascadeflow_integrations.quality.calibrate import calibrate, main, to_items

FIXTURE = Path(__file__).parent / "fixtures" / "calibration_small.csv"


def _rows() -> list[dict[str, str]]:
    with open(FIXTURE, newline="") as f:
        return list(csv.DictReader(f))


def test_calibrate_small_fixture() -> None:
    res = calibrate(_rows(), target_quality=0.9, split=0.5, seed=0)
    assert res.n_fit + res.n_heldout == 16
    assert res.fit.quality_share >= 0.9
    # The fixture's wrong drafts are all caught by free checks, except one.
    assert res.heldout.quality_share >= 0.85 and res.heldout.cost_share < 0.6
    assert [p.threshold for p in res.curve] == sorted(p.threshold for p in res.curve)
    assert all(0.0 <= p.escalation_share <= 1.0 for p in res.curve)
    assert res.to_dict()["threshold"] == res.threshold


def test_token_estimation_is_reported() -> None:
    rows = [{k: v for k, v in r.items() if k != "strong_tokens"} for r in _rows()]
    items, notes = to_items(rows)
    assert len(items) == 16 and notes and "estimated" in notes[0]


def test_routellm_format_rows() -> None:
    cheap, strong = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"
    row = {
        "prompt": "What is 2+2?",
        cheap: "False",
        strong: "True",
        f"{cheap}_response": "2 + 2 = 5",
        f"{strong}_response": "4",
    }
    items, _ = to_items([row] * 4)
    assert (
        items[0].draft_quality == 0.0 and items[0].strong_quality == 1.0 and items[0].strong_cost > items[0].draft_cost
    )


def test_bad_inputs() -> None:
    with pytest.raises(ValueError):
        calibrate(_rows(), split=1.5)
    with pytest.raises(ValueError, match="draft_correct"):
        to_items([{"prompt": "p", "draft": "d"}])


def test_cli_prints_curve(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FIXTURE), "--target", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "threshold  quality  escalated  cost" in out and "chosen threshold" in out
