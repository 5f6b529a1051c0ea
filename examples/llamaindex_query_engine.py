"""
LlamaIndex query engine on a cascade
====================================

A streaming `VectorStoreIndex` query engine whose LLM is a `CascadeLLM`: the cheap model drafts,
the draft is validated, and only accepted text is streamed. Cascade decisions arrive through
LlamaIndex instrumentation (an event handler), inside the LLM call's span.

Run:
    python examples/llamaindex_query_engine.py           # offline: replays recorded responses
    python examples/llamaindex_query_engine.py --live    # live: needs OPENAI_API_KEY

Embeddings are `MockEmbedding` in both modes so the example needs no embedding package; the corpus is
tiny and every query retrieves all of it.
"""

import asyncio
from typing import Any

from _replay import Reply, models, openai_stream, replay, say, words
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler

from cascadeflow_integrations.llama_index import (
    CascadeCompleteEvent,
    CascadeDecisionEvent,
    CascadeEvent,
    CascadeLLM,
    CascadeSwitchEvent,
)

DOCS = [
    "Paris is the capital of France. The Eiffel Tower, finished in 1889, is 330 metres tall.",
    "The Louvre in Paris is the world's most-visited museum; it houses the Mona Lisa.",
]
Q1 = "How tall is the Eiffel Tower?"
Q2 = "Compare the Eiffel Tower and the Louvre as tourist attractions, in two sentences."


def recordings(server):
    say(server, "gpt-4o-mini", "The Eiffel Tower is 330 metres tall.", match="How tall")
    # The cheap model runs out of tokens mid-answer (finish_reason "length"): the draft is rejected.
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", words(
        "The Eiffel Tower is a tall iron tower and the Louvre is a"), finish="length", usage=(120, 14)),
        delay=0.01), match="Compare")
    say(server, "gpt-4o", "The Eiffel Tower, 330 metres of iron from 1889, is Paris's emblem and its best view. "
        "The Louvre, the world's most-visited museum, is where you go for art such as the Mona Lisa.",
        match="Compare", usage=(120, 42))


class PrintCascade(BaseEventHandler):
    """Print cascade decisions; a handler receives every instrumentation event, so filter on type."""

    @classmethod
    def class_name(cls) -> str:
        return "PrintCascade"

    def handle(self, event: Any, **kwargs: Any) -> None:
        if not isinstance(event, CascadeEvent):
            return
        if isinstance(event, CascadeDecisionEvent):
            verdict = "accepted" if event.accepted else "rejected"
            print(f"\n  [cascade] draft from {event.model} {verdict} ({event.reason})")
        elif isinstance(event, CascadeSwitchEvent):
            print(f"  [cascade] escalating {event.from_model} -> {event.to_model}")
        elif isinstance(event, CascadeCompleteEvent):
            print(f"\n  [cascade] answered by {event.model_used}, cost ${event.total_cost:.6f}, "
                  f"saved ~${event.cost_saved:.6f}  (span {event.span_id.split('-')[0]})")


async def main(base_url):
    get_dispatcher().add_event_handler(PrintCascade())
    llm = CascadeLLM(models=models(base_url), max_tokens=200)
    print(f"LLM: {llm.metadata.model_name}\n")
    index = VectorStoreIndex.from_documents([Document(text=t) for t in DOCS], embed_model=MockEmbedding(embed_dim=8))
    engine = index.as_query_engine(llm=llm, streaming=True, similarity_top_k=len(DOCS))

    for question in (Q1, Q2):
        print(f"Q: {question}\nA: ", end="", flush=True)
        response = await engine.aquery(question)
        async for token in response.async_response_gen():
            print(token, end="", flush=True)
        print()
    await llm.aclose()


if __name__ == "__main__":
    with replay(recordings) as url:
        asyncio.run(main(url))
