"""
LangChain: cascade events and cost tracking
===========================================

Three ways to watch a cascade from LangChain:
1. a `CascadeCallbackHandler` subclass with typed `on_cascade_*` hooks,
2. `astream_events(version="v2")`, where cascade events arrive as `on_custom_event`,
3. `get_cascade_callback()`, totalling cost and savings over every call in a block (also concurrent ones).

Run:
    python examples/langchain_callbacks.py            # offline: replays recorded responses
    python examples/langchain_callbacks.py --live     # live: needs OPENAI_API_KEY
"""

import asyncio

from _replay import Reply, models, openai_stream, replay, say, words

from cascadeflow_integrations.langchain import CascadeCallbackHandler, ChatCascade, get_cascade_callback

EASY = "What is 2 + 2?"
HARD = "Summarise the causes of the 2008 financial crisis in two sentences."


class Printer(CascadeCallbackHandler):
    def on_cascade_routing(self, data, *, run_id):
        print(f"  routing: {data['strategy']} ({data['complexity']})")

    def on_cascade_draft_chunk(self, data, *, run_id):
        print(f"  draft {data['model']}: {data['text']!r}")

    def on_cascade_decision(self, data, *, run_id):
        print(f"  decision: {'accept' if data['accepted'] else 'reject'} ({data['reason']})")

    def on_cascade_switch(self, data, *, run_id):
        print(f"  switch: {data['from_model']} -> {data['to_model']} ({data['reason']})")

    def on_cascade_complete(self, data, *, run_id):
        print(f"  complete: {data['model_used']}, ${data['total_cost']:.6f}")


def recordings(server):
    for _ in range(4):
        say(server, "gpt-4o-mini", "2 + 2 = 4.", match="2 + 2", usage=(14, 6))
    for _ in range(3):
        server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", words(
            "The 2008 crisis began when"), finish="length", usage=(28, 6)), delay=0.01), match="2008")
        say(server, "gpt-4o", "Cheap credit fed a housing bubble; when it burst, losses on leveraged "
            "mortgage securities froze the banks.", match="2008", usage=(28, 20))


async def main(base_url):
    llm = ChatCascade(models=models(base_url), max_tokens=120)

    print("1. Typed hooks (CascadeCallbackHandler):")
    answer = await llm.ainvoke(EASY, config={"callbacks": [Printer()]})
    print(f"  answer: {answer.content}\n")

    print("2. astream_events(version='v2'):")
    drafted = 0
    async for ev in llm.astream_events(HARD, version="v2"):
        if ev["event"] == "on_custom_event":
            if ev["name"] == "cascade_draft_chunk":
                drafted += 1
                continue
            if drafted:
                print(f"  ({drafted} cascade_draft_chunk events)")
                drafted = 0
            print(f"  on_custom_event {ev['name']}")
        elif ev["event"] == "on_chat_model_stream" and ev["data"]["chunk"].content:
            print(f"  on_chat_model_stream {ev['data']['chunk'].content!r}")

    print("\n3. get_cascade_callback() over concurrent calls:")
    with get_cascade_callback() as cb:
        await asyncio.gather(*(llm.ainvoke(q) for q in (EASY, EASY, EASY, HARD, HARD)))
    print("  " + repr(cb).replace("\n", "\n  "))
    await llm.aclose()


if __name__ == "__main__":
    with replay(recordings) as url:
        asyncio.run(main(url))
