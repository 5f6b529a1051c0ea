"""
LlamaIndex agent on a cascade
=============================

A `FunctionAgent` whose LLM is a `CascadeLLM`. Every agent step is one cascade call: the cheap model
drafts (a tool call or an answer), the draft is validated (tool calls against the tool's schema),
and a bad step escalates to the stronger model. Only accepted output reaches the agent.

Run:
    python examples/llamaindex_agent.py           # offline: replays recorded responses
    python examples/llamaindex_agent.py --live    # live: needs OPENAI_API_KEY
"""

import asyncio
from typing import Any

from _replay import Reply, models, openai_stream, replay, say
from llama_index.core.agent.workflow import AgentStream, FunctionAgent, ToolCallResult
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler

from cascadeflow_integrations.llama_index import (
    CascadeCompleteEvent,
    CascadeDecisionEvent,
    CascadeEvent,
    CascadeLLM,
    CascadeSwitchEvent,
)

QUESTION = "A box holds 12 eggs. How many eggs are in 37 boxes?"


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def recordings(server):
    # Step 1: the cheap model passes a string where the schema wants an integer, so its tool call is
    # rejected and the step escalates; the strong model makes a valid call.
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", tool_calls=[
        ("call_draft", "multiply", '{"a": "twelve", "b": 37}')], usage=(90, 18)), delay=0.01))
    server.add("gpt-4o", Reply(events=openai_stream("gpt-4o", tool_calls=[
        ("call_1", "multiply", '{"a": 12, "b": 37}')], usage=(90, 18)), delay=0.01))
    # Step 2: with the tool result in the history, the cheap model's answer is accepted.
    say(server, "gpt-4o-mini", "There are 444 eggs in 37 boxes (12 x 37 = 444).", match="444", usage=(130, 20))


class PrintCascade(BaseEventHandler):
    """Print cascade decisions (a handler sees every instrumentation event, so filter on type)."""

    @classmethod
    def class_name(cls) -> str:
        return "PrintCascade"

    def handle(self, event: Any, **kwargs: Any) -> None:
        if not isinstance(event, CascadeEvent):
            return
        if isinstance(event, CascadeDecisionEvent):
            verdict = "accepted" if event.accepted else "rejected"
            print(f"  [cascade] draft from {event.model} {verdict} ({event.reason})")
        elif isinstance(event, CascadeSwitchEvent):
            print(f"  [cascade] escalating {event.from_model} -> {event.to_model}")
        elif isinstance(event, CascadeCompleteEvent):
            after_text = "\n" if event.result["content"] else ""  # the answer text was just streamed
            print(f"{after_text}  [cascade] step answered by {event.model_used}, cost ${event.total_cost:.6f}")


async def main(base_url):
    get_dispatcher().add_event_handler(PrintCascade())
    llm = CascadeLLM(models=models(base_url), temperature=0)
    agent = FunctionAgent(tools=[multiply], llm=llm, system_prompt="Use the tools for arithmetic.")
    print(f"Agent LLM: {llm.metadata.model_name}\nQ: {QUESTION}")

    handler = agent.run(QUESTION)
    async for ev in handler.stream_events():
        if isinstance(ev, ToolCallResult):
            print(f"  [tool] {ev.tool_name}({ev.tool_kwargs}) -> {ev.tool_output.content}")
        elif isinstance(ev, AgentStream) and ev.delta:
            print(ev.delta, end="", flush=True)
    answer = await handler
    print(f"\nA: {answer}")
    await llm.aclose()


if __name__ == "__main__":
    with replay(recordings) as url:
        asyncio.run(main(url))
