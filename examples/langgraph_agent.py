"""
LangGraph: a ReAct agent on a cascade
=====================================

The agent calls a tool, reads its result and answers. Each model step is a cascade: the cheap
model's tool call is accepted; its final answer is cut short, so that step escalates to the
stronger model. `stream_mode="messages"` shows only tokens the cascade kept.

Run:
    python examples/langgraph_agent.py            # offline: replays recorded responses
    python examples/langgraph_agent.py --live     # live: needs OPENAI_API_KEY
"""

import asyncio
import warnings

from _replay import Reply, models, openai_stream, replay, say, words
from langchain_core.messages import AIMessageChunk
from langchain_core.tools import tool
from langgraph.prebuilt import create_react_agent

from cascadeflow_integrations.langchain import CascadeCallbackHandler, ChatCascade, get_cascade_callback

QUESTION = "What's the weather in Paris right now?"


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"Sunny in {city}, 24C, light wind."


class Decisions(CascadeCallbackHandler):
    def on_cascade_decision(self, data, *, run_id):
        verdict = "accepted" if data["accepted"] else "rejected"
        print(f"\n  [cascade] {data['model']} draft {verdict}: {data['reason']}")

    def on_cascade_switch(self, data, *, run_id):
        print(f"  [cascade] escalating {data['from_model']} -> {data['to_model']}")


def recordings(server):
    # step 2 (the tool result is in the request): the cheap answer is cut off, so it escalates
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", words("It is currently"), finish="length",
                                                         usage=(90, 4)), delay=0.01), match="Sunny in Paris")
    say(server, "gpt-4o", "It's sunny in Paris right now: 24C with a light wind.", match="Sunny in Paris",
        usage=(90, 16))
    # step 1: the cheap model calls the tool, accepted
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", tool_calls=[
        ("call_1", "get_weather", '{"city": "Paris"}')], usage=(60, 15))), match="weather")


async def main(base_url):
    llm = ChatCascade(models=models(base_url), max_tokens=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # moved to langchain.agents.create_agent (needs `langchain`) in LangGraph 1.0
        agent = create_react_agent(llm, [get_weather])
    print(f"Q: {QUESTION}\nA: ", end="", flush=True)
    with get_cascade_callback() as cost:
        async for chunk, meta in agent.astream({"messages": [("user", QUESTION)]}, stream_mode="messages",
                                               config={"callbacks": [Decisions()]}):
            if isinstance(chunk, AIMessageChunk):
                for call in chunk.tool_call_chunks:
                    if call["name"]:
                        print(f"\n  [tool call] {call['name']}", end="", flush=True)
                print(chunk.content, end="", flush=True)
    print(f"\n\n{cost.requests} model steps, {cost.drafts_accepted} drafts accepted, {cost.escalations} escalation(s)")
    print(f"total ${cost.total_cost:.6f}, estimated saving ${cost.cost_saved:.6f} vs. the strong model only")
    await llm.aclose()


if __name__ == "__main__":
    with replay(recordings) as url:
        asyncio.run(main(url))
