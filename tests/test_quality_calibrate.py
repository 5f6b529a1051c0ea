"""Calibration on the small fixture."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from cascadeflow_integrations.quality import COMPLEXITIES, Thresholds
from cascadeflow_integrations.quality.calibrate import (
    Item,
    calibrate,
    calibrate_scored,
    choose_threshold_robust,
    classify_items,
    main,
    to_items,
)

FIXTURE = Path(__file__).parent / "fixtures" / "calibration_small.csv"


def _rows() -> list[dict[str, str]]:
    with open(FIXTURE, newline="") as f:
        return list(csv.DictReader(f))


def test_calibrate_small_fixture() -> None:
    # 8 records certify nothing: a certified threshold escalates every level and says so
    cert = calibrate(_rows(), target_quality=0.9, split=0.5, seed=0)
    assert cert.threshold > 1.0 and cert.heldout.escalation_share == 1.0 and cert.escalate_all
    res = calibrate(_rows(), target_quality=0.9, split=0.5, seed=0, method="point")
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


def _synthetic(n: int = 400, seed: int = 1) -> tuple[list[Item], list[float]]:
    # Scores carry signal: a wrong draft scores lower on average; two levels with different error rates.
    rnd = random.Random(seed)
    items, scores = [], []
    for i in range(n):
        level = "simple" if i % 3 else "moderate"
        right = rnd.random() < (0.8 if level == "simple" else 0.6)
        items.append(Item(f"q{i}", "d", float(right), 1.0, 0.01, 1.0, complexity=level))
        scores.append(round(min(1.0, max(0.0, rnd.gauss(0.8 if right else 0.55, 0.15))), 3))
    return items, scores


def test_certified_is_more_conservative_than_point_estimate() -> None:
    items, scores = _synthetic()
    point_res = calibrate_scored(items, scores, 0.95, method="point")
    cert = calibrate_scored(items, scores, 0.95, confidence=0.9)
    assert cert.threshold >= point_res.threshold
    assert cert.fit.quality_share >= point_res.fit.quality_share
    assert cert.fit_quality_lower >= 0.95 or cert.threshold > 1.0
    # The lower bound is below the point estimate it protects.
    assert cert.fit_quality_lower <= cert.fit.quality_share + 1e-9
    assert cert.method == "certified" and cert.to_dict()["confidence"] == 0.9
    assert cert.n_fit == len(items) and cert.n_heldout == len(items)  # every record; nested folds report
    assert any("nested" in n for n in cert.notes)


def test_old_bootstrap_method_name_still_works_and_says_so() -> None:
    items, scores = _synthetic()
    with pytest.warns(DeprecationWarning, match="certified"):
        old = calibrate_scored(items, scores, 0.95, method="bootstrap", n_boot=300)
    assert old.threshold == calibrate_scored(items, scores, 0.95).threshold
    t, lower = choose_threshold_robust(items, scores, 0.95, 0.9, n_boot=200)
    assert t == old.threshold and (lower >= 0.95 or t > 1.0)


def test_unreachable_target_escalates_all_and_says_so() -> None:
    items, scores = _synthetic(60)
    res = calibrate_scored(items, scores, 1.001, confidence=0.95)
    assert res.threshold > 1.0 and res.escalate_all and "route those levels direct" in " ".join(res.notes)
    assert res.heldout.escalation_share == 1.0
    assert all(v == 1.0 for v in res.thresholds.to_dict().values())


def test_per_complexity_thresholds() -> None:
    items, scores = _synthetic(1200)
    res = calibrate_scored(items, scores, 0.95, per_complexity=True, min_level_records=50)
    assert set(res.per_level) == {"simple", "moderate"}
    assert res.level_counts["simple"] + res.level_counts["moderate"] == res.n_fit
    d = res.thresholds.to_dict()
    assert set(d) == set(COMPLEXITIES)
    assert d["simple"] == pytest.approx(min(1.0, res.per_level["simple"]))
    # The easier level gets the looser threshold; each level is certified on its own (at half the error).
    assert res.per_level["simple"] <= res.per_level["moderate"]
    assert res.fit_quality_lower >= 0.95
    assert Thresholds().override(d) == res.thresholds
    # Too few records everywhere: one threshold for every level.
    small = calibrate_scored(items, scores, 0.95, per_complexity=True, min_level_records=10_000)
    assert small.per_level == {} and len(set(small.thresholds.to_dict().values())) == 1


def test_per_complexity_uses_the_router_when_records_have_none() -> None:
    items = [Item("hi", "hello", 1.0, 1.0, 0.0, 1.0), Item("What is 12 * 7 + 3? Calculate it.", "87", 1.0, 1.0, 0.0, 1.0)]
    assert classify_items(items)[0] == "trivial"


def test_cli_per_complexity(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FIXTURE), "--target", "0.9", "--per-complexity", "--min-level-records", "2"]) == 0
    out = capsys.readouterr().out
    assert "per complexity" in out and "quality_threshold=" in out


def test_bad_method_and_confidence() -> None:
    items, scores = _synthetic(20)
    with pytest.raises(ValueError, match="method"):
        calibrate_scored(items, scores, method="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="confidence"):
        calibrate_scored(items, scores, confidence=1.0)


# ---- the CLI on bad files: one line on stderr naming file, row and column, exit 2 -------------------

GOOD_HEADER = "prompt,draft,draft_correct,strong_correct,draft_tokens,strong_tokens"
GOOD_ROW = "What is 2+2?,4,True,True,1,1"


def _bad_file(tmp_path: Path, text: str | bytes) -> Path:
    p = tmp_path / "records.csv"
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def _cli_error(capsys: pytest.CaptureFixture[str], path: Path) -> str:
    from cascadeflow_integrations.cli import main as cli_main

    assert cli_main(["calibrate", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert str(path) in lines[0] and "expected" in lines[0] and "Traceback" not in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("question,draft,draft_correct,strong_correct\nq,d,True,True\n", "row 1, column 'prompt'"),
        (GOOD_HEADER.replace(",", ";") + "\n" + GOOD_ROW.replace(",", ";") + "\n", "row 1: "),
        (f"{GOOD_HEADER}\n{GOOD_ROW}\nWhat is 3+3?,6,maybe,True,1,1\n", "row 3, column 'draft_correct'"),
        (f"{GOOD_HEADER}\n{GOOD_ROW}\nWhat is 3+3?,6\n", "row 3, column 'draft_correct': missing"),
        (f"{GOOD_HEADER}\n{GOOD_ROW},extra\n", "row 2, column 7"),
        (f"{GOOD_HEADER}\n{GOOD_ROW}\nWhat is 3+3?,6,True,True,many,1\n", "row 3, column 'draft_tokens'"),
        ("prompt,draft,draft_score,strong_score\n" + "q,d,0.5,1\n" * 3 + "q,d,1.7,1\n", "row 5, column 'draft_score'"),
        ("prompt,draft,draft_score,strong_score\nq,d,0.5,nan\n", "row 2, column 'strong_score'"),
        (f"{GOOD_HEADER}\n", "row 2: no records"),
    ],
    ids=["no-prompt-column", "semicolons", "non-label", "short-row", "long-row", "non-numeric-tokens",
         "score-above-1", "score-nan", "no-records"],
)
def test_cli_bad_file_is_one_line_naming_row_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         text: str, where: str) -> None:
    line = _cli_error(capsys, _bad_file(tmp_path, text))
    assert where in line, line


def test_cli_semicolon_file_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _cli_error(capsys, _bad_file(tmp_path, "prompt;draft;draft_correct;strong_correct\nq;d;True;True\n"))
    assert "';'-delimited" in line and "comma-separated" in line


def test_cli_score_out_of_range_is_refused_not_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = "".join(f"What is {i}+{i}?,{2 * i},{1.7 if i == 3 else 1},1\n" for i in range(8))
    line = _cli_error(capsys, _bad_file(tmp_path, "prompt,draft,draft_score,strong_score\n" + rows))
    assert "'1.7' is not a score in [0, 1]" in line and "row 5" in line


def test_cli_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _cli_error(capsys, tmp_path / "nope.csv")
    assert "no such file" in line


def test_cli_directory_instead_of_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _cli_error(capsys, tmp_path)
    assert "cannot be read" in line


def test_cli_non_utf8_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _bad_file(tmp_path, f"{GOOD_HEADER}\n{GOOD_ROW}\nCaf\xe9 au lait?,no,True,True,1,1\n".encode("latin-1"))
    line = _cli_error(capsys, path)
    assert "row 3, byte 4" in line and "not UTF-8" in line


def test_cli_too_few_records_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _cli_error(capsys, _bad_file(tmp_path, f"{GOOD_HEADER}\n{GOOD_ROW}\n"))
    assert "at least 4 records" in line


def test_calibrate_module_cli_in_a_subprocess(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = _bad_file(tmp_path, "question,draft\nq,d\n")
    proc = subprocess.run([sys.executable, "-m", "cascadeflow_integrations.quality.calibrate", str(path)],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[1])
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "row 1, column 'prompt'" in proc.stderr and str(path) in proc.stderr
