"""The core examples and the demo run offline (replaying recordings) and print what they promise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from replay_helpers import run_offline

EXPECTED = {
    "streaming_text.py": [
        "OFFLINE: replaying recorded provider responses",
        "✓ Draft accepted",
        "🎯 Model: gpt-4o-mini",
        "✗ Draft rejected (0%): completeness failed: truncated (finish_reason=length)",
        "⤴️  Cascading: gpt-4o-mini → gpt-4o (retract 76 chars already shown)",
        "post-quantum schemes such as lattice-based ML-KEM.",
        "🎯 Model: gpt-4o",
    ],
    "streaming_tools.py": [
        "🔧 Tool call #0 starting: get_weather",
        "… arguments so far: {'location': 'Pari'}",
        "🔧 Tool: get_weather({'location': 'Paris', 'unit': 'celsius'})",
        "🔧 Tool call #1 starting: get_weather",
        "🔧 Tool: get_weather({'location': 'Tokyo', 'unit': 'celsius'})",
        "✅ Streaming complete: 2 tool call(s) from gpt-4o-mini",
    ],
    "tool_execution.py": [
        "🔧 Executing: get_weather({'location': 'Paris'})",
        "✅ Result: {'location': 'Paris', 'temperature': 18, 'unit': '°C'}",
        "✅ Final answer (gpt-4o-mini): It is 18°C in Paris right now.",
        "🔧 Executing: calculate({'operation': 'multiply', 'x': 12.5, 'y': 8.3})",
        "✅ Final answer (gpt-4o-mini): 12.5 multiplied by 8.3 is 103.75.",
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_offline(name):
    proc = run_offline(f"examples/{name}")
    assert proc.returncode == 0, proc.stderr
    for line in EXPECTED[name]:
        assert line in proc.stdout, f"{name}: missing {line!r}\n{proc.stdout}"


def test_demo_runs_offline_with_plain_output():
    # stdout is a pipe: plain lines; --fast replays without the pacing (same replies, same outcomes)
    proc = run_offline("-m", "cascadeflow_integrations.demo", "--fast")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "OFFLINE REPLAY" in out and "\x1b[" not in out  # says it replays; no control codes
    assert "decision: accepted" in out and "FAIL consistency: arithmetic does not hold: 12+5*3+4*1.5 = 39 (is 33)" in out
    assert "switch: gpt-4o-mini → gpt-4o" in out
    assert "tool call: get_weather" in out and "aborted: refusal at start" in out
    assert "5 · LangChain" in out and "6 · LlamaIndex" in out
    rows = {line.split(" | ")[0]: line.split(" | ") for line in out.splitlines() if " | " in line}
    assert rows["simple"][1:3] == ["gpt-4o-mini", "draft accepted"]
    assert rows["bad arithmetic"][1:3] == ["gpt-4o", "escalated"]
    assert rows["guarded abort"][1:3] == ["gpt-4o", "escalated"]
    assert rows["samples disagree"][1:3] == ["gpt-4o", "escalated"]  # agreement 1/3 on a short answer
    assert rows["samples agree"][1:3] == ["gpt-4o-mini", "draft accepted"]
    assert "agreement" in out and "samples agree on number" in out
    assert {"tool call", "LangChain chain", "LlamaIndex query"} <= set(rows)
    total, base = (float(x.strip("$")) for x in rows["total"][3:5])
    assert 0 < total < base  # the cascade cost less than sending everything to gpt-4o
    assert re.search(r"Saved ~\d+% versus", out)
    # the offline learning scenario: before/after on held-out requests, and the curve written as a PNG
    before = re.search(r"before \(shipped defaults\): quality ([\d.]+)%, cost ([\d.]+)%", out)
    after = re.search(r"after  \(learned policy\):   quality ([\d.]+)%, cost ([\d.]+)%", out)
    assert before and after, out
    assert float(after.group(1)) >= float(before.group(1)) - 1.0
    png = re.search(r"cumulative curve: (\S+\.png)", out)
    assert png and Path(png.group(1)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_dispatches_demo_and_calibrate():
    proc = run_offline("-m", "cascadeflow_integrations.cli", "--help")
    assert proc.returncode == 0 and "demo" in proc.stdout and "calibrate" in proc.stdout
    proc = run_offline("-m", "cascadeflow_integrations.cli", "calibrate", "tests/fixtures/calibration_small.csv")
    assert proc.returncode == 0, proc.stderr
    assert "threshold" in proc.stdout.lower()


async def test_demo_exits_non_zero_when_a_scenario_fails():
    import io

    from cascadeflow_integrations.demo.run import main_async

    async def broken(agent, view):
        raise RuntimeError("scenario exploded")

    out = io.StringIO()
    code = await main_async(False, out, True, [broken], pace=0.0)
    text = out.getvalue()
    assert code == 1
    assert "scenario failed: RuntimeError: scenario exploded" in text and "FAILED: " in text
    # the other scenarios still ran and the summary was printed
    assert "bad arithmetic | gpt-4o | escalated" in text
