"""bench/README.md: each section and each generated result block appears once, and a rerun keeps it so."""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "bench" / "README.md"


def test_sections_and_result_blocks_appear_once() -> None:
    text = README.read_text(encoding="utf-8")
    headings = Counter(line for line in text.splitlines() if line.startswith("## "))
    assert [h for h, n in headings.items() if n > 1] == []
    markers = Counter(re.findall(r"<!-- ([\w -]+ results (?:start|end)) -->", text))
    assert markers and all(n == 1 for n in markers.values()), markers


def test_fleet_rerun_replaces_its_one_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("bench_fleet", ROOT / "bench" / "fleet.py")
    assert spec is not None and spec.loader is not None
    fleet = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fleet)
    copy = tmp_path / "README.md"
    copy.write_text(README.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(fleet, "README", str(copy))
    fleet.update_readme("new results")
    text = copy.read_text(encoding="utf-8")
    assert text.count(fleet.SECTION) == 1 and text.count("new results") == 1
    # a file holding the block twice (as it once did) is refused, not rewritten twice
    copy.write_text(text + "\n" + text, encoding="utf-8")
    with pytest.raises(SystemExit, match="2 fleet result blocks"):
        fleet.update_readme("newer results")
