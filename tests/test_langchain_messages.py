"""LangChain -> engine message and tool-choice conversion (no network)."""

from __future__ import annotations

import pytest
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from cascadeflow_integrations.langchain.messages import to_engine_messages, to_engine_tool_choice


def test_every_kind_keeps_its_structure():
    msgs = to_engine_messages([
        SystemMessage("Be brief."),
        HumanMessage([{"type": "text", "text": "Look:"}, {"type": "image", "base64": "AAA", "mime_type": "image/png"},
                      {"type": "image", "url": "https://x/y.png"}, "and this"], name="ann"),
        AIMessage([{"type": "text", "text": "Checking."}, {"type": "tool_use", "id": "c1", "name": "f", "input": {}},
                   {"type": "thinking", "thinking": "hmm", "signature": "s"}],
                  tool_calls=[{"id": "c1", "name": "f", "args": {"a": 1}}]),
        ToolMessage("boom", tool_call_id="c1", name="f", status="error"),
        ToolMessage([{"type": "text", "text": "part"}], tool_call_id="c2"),
        ChatMessage(role="developer", content="dev note"),
    ])
    assert [m.role for m in msgs] == ["system", "user", "assistant", "tool", "tool", "system"]
    assert msgs[0].content == "Be brief."
    assert msgs[1].name == "ann" and msgs[1].content == [
        {"type": "text", "text": "Look:"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
        {"type": "text", "text": "and this"},
    ]
    ai = msgs[2]
    assert ai.content == [{"type": "text", "text": "Checking."}]  # tool_use/thinking blocks are not text
    assert [(c.id, c.name, c.arguments) for c in ai.tool_calls] == [("c1", "f", {"a": 1})]
    assert (msgs[3].tool_call_id, msgs[3].name, msgs[3].content) == ("c1", "f", "boom")
    assert msgs[3].is_error and not msgs[4].is_error  # status="error" is kept (Anthropic's is_error)
    assert msgs[4].content == [{"type": "text", "text": "part"}]


def test_invalid_tool_calls_are_resent():
    ai = AIMessage("", invalid_tool_calls=[{"id": "c9", "name": "f", "args": "{oops", "error": "bad",
                                            "type": "invalid_tool_call"}])
    (m,) = to_engine_messages([ai])
    assert m.tool_calls[0].id == "c9" and m.tool_calls[0].raw_arguments == "{oops"


def test_unsupported_messages_raise():
    with pytest.raises(TypeError, match="ToolMessage"):
        to_engine_messages([FunctionMessage("x", name="f")])
    with pytest.raises(ValueError, match="role"):
        to_engine_messages([ChatMessage(role="wizard", content="x")])


@pytest.mark.parametrize(("given", "wire"), [
    (None, None), (False, None), (True, "required"), ("any", "required"), ("required", "required"),
    ("auto", "auto"), ("none", "none"), ("f", {"type": "function", "function": {"name": "f"}}),
    ({"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "f"}}),
])
def test_tool_choice(given, wire):
    assert to_engine_tool_choice(given) == wire
