"""The LlamaIndex examples run offline (in-process replay server) and print what they promise."""

from __future__ import annotations


import pytest
from replay_helpers import run_offline

pytest.importorskip("llama_index.core")

def run_example(name: str) -> str:
    proc = run_offline(f"examples/{name}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
    return proc.stdout


def test_query_engine_example():
    out = run_example("llamaindex_query_engine.py")
    assert out.startswith("OFFLINE: replaying recorded provider responses")
    assert "A: The Eiffel Tower is 330 metres tall." in out
    assert "draft from gpt-4o-mini accepted" in out and "draft from gpt-4o-mini rejected" in out
    assert "escalating gpt-4o-mini -> gpt-4o" in out and "answered by gpt-4o," in out
    assert "is a tall iron tower" not in out  # the rejected draft never reaches the stream
    assert "(span CascadeLLM.astream_chat)" in out


def test_agent_example():
    out = run_example("llamaindex_agent.py")
    assert out.startswith("OFFLINE: replaying recorded provider responses")
    assert "draft from gpt-4o-mini rejected (tool_calls failed" in out
    assert "[tool] multiply({'a': 12, 'b': 37}) -> 444" in out
    assert "step answered by gpt-4o-mini" in out
    assert out.rstrip().endswith("A: There are 444 eggs in 37 boxes (12 x 37 = 444).")
