"""Second hardening round on the learning surfaces: hostile policy numbers and names, the fit CLI's errors,
read-only logs, feedback ids."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from cascadeflow_integrations.cli import main as cli_main
from cascadeflow_integrations.learning import Policy, PolicyFileError, fit
from cascadeflow_integrations.learning.fit import examples_from_log
from cascadeflow_integrations.stores.base import DecisionRow, Label
from learning_fixtures import records


@pytest.fixture(scope="module")
def doc() -> dict:
    return fit(records(200), report_folds=0).to_dict()


def _load(tmp_path: Path, d: dict) -> Policy:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(d))
    return Policy.load(path)


def _logistic(d: dict) -> dict:
    models = [g["model"] for g in d["groups"].values()]
    if d.get("skip"):
        models.append(d["skip"]["model"])
    return next(m for m in models if m["type"] == "logistic")


def test_products_that_overflow_are_refused(tmp_path: Path, doc: dict) -> None:
    d = json.loads(json.dumps(doc))
    if not any(g["model"]["type"] == "logistic" for g in d["groups"].values()):
        d["groups"]["*"]["model"] = {"type": "logistic", "names": ["prompt_words"], "coef": [0.5],
                                     "intercept": 0.0, "mean": [1.0], "scale": [1.0]}
    m = _logistic(d)
    m["coef"][0], m["scale"][0] = 1e9, 1e-300  # each in range; together every estimate is NaN
    with pytest.raises(PolicyFileError, match=r"coef\[0\] / scale\[0\].*inf or NaN"):
        _load(tmp_path, d)


@pytest.mark.parametrize("name", ["evil\nname", "\x1b[31mred\x1b[0m", "tab\there"])
def test_names_with_control_characters_are_refused(tmp_path: Path, doc: dict, name: str) -> None:
    d = json.loads(json.dumps(doc))
    d["name"] = name
    with pytest.raises(PolicyFileError, match="printable") as e:
        _load(tmp_path, d)
    assert "\n" not in str(e.value).replace("\\n", "") and "\x1b" not in str(e.value)
    with pytest.raises(ValueError, match="printable"):
        fit(records(120), report_folds=0, name=name)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli_main(["fit", *argv])
    err = capsys.readouterr().err
    return code, err


def test_out_problems_are_found_before_the_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    few = tmp_path / "few.jsonl"  # too few labels: a fit that ran first would say so instead
    few.write_text("\n".join(json.dumps(r) for r in records(20)))
    code, err = _cli(capsys, str(few), "--out", str(tmp_path / "missing" / "p.json"))
    assert code == 2 and "does not exist" in err and "Traceback" not in err and len(err.splitlines()) == 1
    code, err = _cli(capsys, str(few), "--out", str(tmp_path))
    assert code == 2 and "is a directory" in err and len(err.splitlines()) == 1


def test_bad_jsonl_line_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "r.jsonl"
    lines = [json.dumps(r) for r in records(250)]
    lines[200] = '{"prompt": "x", "draft"'  # line 201
    src.write_text("\n".join(lines))
    code, err = _cli(capsys, str(src))
    assert code == 2 and f"{src}: line 201, column" in err and len(err.splitlines()) == 1


def test_bad_label_is_named_by_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "r.jsonl"
    recs = records(150)
    recs[9]["draft_correct"] = "maybe"
    src.write_text("\n".join(json.dumps(r) for r in recs))
    code, err = _cli(capsys, str(src))
    assert code == 2 and "line 10: draft_correct='maybe'" in err


def test_ragged_csv_is_refused_naming_the_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "r.csv"
    rows = ["prompt,draft,draft_correct,strong_correct"] + [f"q{i},d,true,true" for i in range(150)]
    rows[42] += ",extra"
    src.write_text("\n".join(rows))
    code, err = _cli(capsys, str(src))
    assert code == 2 and "row 43: 5 values for 4 columns" in err


def _log(path: Path) -> None:
    from cascadeflow_integrations.stores.sqlite import SQLiteStore

    store = SQLiteStore(path)
    for i, r in enumerate(records(260)):
        accepted = i % 4 == 0  # a share of accepted drafts, labelled by shadow calls
        store.append(DecisionRow(request_id=f"r{i}", ts=float(i), strategy="cascade", decision={"accepted": accepted},
                                 features={"complexity": 2.0, "kind=number": 1.0, "checks_product": 0.9 if
                                           r["draft_correct"] else 0.2}, answer_kind="number",
                                 attempts=[{"phase": "draft", "cost": 0.001}, {"phase": "verifier", "cost": 0.01}]))
        store.add_label(Label(f"r{i}", 1.0 if r["draft_correct"] else 0.0, source="shadow" if accepted else "escalation",
                              target="draft"))
    store.close()


def test_corrupted_log_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "cascade.db"
    _log(db)
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = bytearray(db.read_bytes())
    for k in range(4096, len(raw), 97):  # scribble over every page after the first
        raw[k] = 0xFF
    db.write_bytes(bytes(raw))
    code, err = _cli(capsys, str(db))
    assert code == 2 and str(db) in err and "decision log" in err and len(err.splitlines()) == 1


def test_a_log_is_fitted_without_writing_to_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "cascade.db"
    _log(db)
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for side in ("-wal", "-shm"):
        Path(str(db) + side).unlink(missing_ok=True)
    before = (db.read_bytes(), db.stat().st_mtime_ns)
    out = tmp_path / "p.json"
    code = cli_main(["fit", str(db), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert (db.read_bytes(), db.stat().st_mtime_ns) == before  # opened read-only: nothing written
    wal = Path(str(db) + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # SQLite's reader may open an empty WAL, never fill it
    os.chmod(db, 0o444)  # a read-only file (root ignores the bits, so the check above is the real one)
    assert cli_main(["fit", str(db), "--out", str(out)]) == 0


def test_repeated_feedback_replaces_the_earlier_label() -> None:
    row = DecisionRow(request_id="a", ts=1.0, strategy="cascade", decision={"accepted": True},
                      features={"checks_product": 1.0}, answer_kind="number",
                      attempts=[{"phase": "draft", "cost": 0.001}])
    same_ts = [Label("a", 1.0, source="feedback", target="final", ts=5.0),
               Label("a", 0.0, source="feedback", target="final", ts=5.0)]
    (ex,) = examples_from_log([row], same_ts)
    assert ex.draft_quality == 0.0  # the later one wins, even at the same time stamp
    (ex,) = examples_from_log([row], same_ts[::-1])
    assert ex.draft_quality == 1.0
