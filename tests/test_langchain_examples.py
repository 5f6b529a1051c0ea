"""The LangChain examples run offline (replaying recordings) and print what they promise."""

from __future__ import annotations


import pytest
from replay_helpers import run_offline

EXPECTED = {
    "langchain_chain.py": [
        "OFFLINE: replaying recorded provider responses",
        "A: The capital of France is Paris.",
        "model gpt-4o-mini, draft accepted: True",
        "A: Air molecules scatter short (blue) wavelengths",
        "Structured output: City(name='Kyoto', country='Japan')",
    ],
    "langgraph_agent.py": [
        "OFFLINE: replaying recorded provider responses",
        "gpt-4o-mini draft accepted",
        "[tool call] get_weather",
        "gpt-4o-mini draft rejected",
        "escalating gpt-4o-mini -> gpt-4o",
        "It's sunny in Paris right now: 24C with a light wind.",
        "2 model steps, 1 drafts accepted, 1 escalation(s)",
    ],
    "langchain_callbacks.py": [
        "OFFLINE: replaying recorded provider responses",
        "routing: cascade",
        "draft gpt-4o-mini: '2'",
        "decision: accept",
        "answer: 2 + 2 = 4.",
        "on_custom_event cascade_switch",
        "on_chat_model_stream 'Cheap'",
        "on_custom_event cascade_complete",
        "Cascade requests: 5",
        "Escalations: 2",
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_offline(name):
    proc = run_offline(f"examples/{name}")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    pos = 0
    for line in EXPECTED[name]:  # in order
        found = out.find(line, pos)
        assert found >= 0, f"{line!r} missing (after offset {pos}) in:\n{out}"
        pos = found + len(line)
    assert "not sure" not in out and "Traceback" not in proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
