"""bench/README.md: each section and each generated result block appears once, and a rerun keeps it so."""

from __future__ import annotations

import importlib.util
import re
import sys
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


def test_ttft_rerun_replaces_its_section_and_keeps_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("bench_ttft", ROOT / "bench" / "ttft.py")
    assert spec is not None and spec.loader is not None
    ttft = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_ttft", ttft)  # its dataclasses look their module up
    spec.loader.exec_module(ttft)
    import overhead  # bench/ttft.py put bench/ on sys.path

    copy = tmp_path / "README.md"
    copy.write_text(README.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(overhead, "README", str(copy))
    for body in ("first results", "second results"):
        ttft.write_readme(f"{ttft.SECTION}\n\n{body}\n", ttft.SECTION)
    text = copy.read_text(encoding="utf-8")
    assert text.count(ttft.SECTION + "\n") == 1 and "first results" not in text and text.count("second results") == 1
    # the other sections are all still there, once each
    before = [h for h in README.read_text(encoding="utf-8").splitlines() if h.startswith("## ")]
    after = [h for h in text.splitlines() if h.startswith("## ")]
    assert sorted(set(before) | {ttft.SECTION}) == sorted(after)
