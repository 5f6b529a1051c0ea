"""Demo scenarios through the adapters: a LangChain chain and a LlamaIndex query engine.

Both wrap the same `CascadeAgent`, so they replay the same recordings through the same engine;
the view is fed from each framework's own event channel (LangChain callback handlers, LlamaIndex
instrumentation), as a user's code would be.
"""

from __future__ import annotations

from typing import Any

from ..cascade.agent import CascadeAgent
from . import recordings as rec
from .run import Row, Scenario
from .view import PlainView, ScenarioState, shown_checks


def _on_routing(st: ScenarioState, view: PlainView, strategy: str, complexity: str, reason: str) -> None:
    st.routing = f"{strategy} · complexity {complexity} · {reason}"
    view.routing(st)


def _on_decision(st: ScenarioState, view: PlainView, d: dict[str, Any]) -> None:
    verdict = "accepted" if d["accepted"] else "rejected"
    st.decision = f"{verdict} · confidence {d['confidence']:.2f} · {d['reason']}"
    st.checks = shown_checks(d)
    view.decision(st)


def _row(label: str, r: dict[str, Any]) -> Row:
    return Row(label, r["model_used"], r["total_cost"], r["baseline_cost"], r["latency_ms"], r["ttft_ms"],
               "draft accepted" if r["draft_accepted"] else "escalated", bool(r["draft_accepted"]))


async def langchain_chain(agent: CascadeAgent, view: PlainView) -> Row:
    """`prompt | ChatCascade | StrOutputParser`, streamed with `astream`, decisions via a callback handler."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    from ..langchain import CascadeCallbackHandler, ChatCascade

    st = ScenarioState("5 · LangChain: prompt | ChatCascade | StrOutputParser", rec.LC_Q)
    done: dict[str, Any] = {}

    class Show(CascadeCallbackHandler):
        def on_cascade_routing(self, data: Any, *, run_id: Any) -> None:
            _on_routing(st, view, data["strategy"], data["complexity"], data["reason"])

        def on_cascade_decision(self, data: Any, *, run_id: Any) -> None:
            _on_decision(st, view, data)

        def on_cascade_switch(self, data: Any, *, run_id: Any) -> None:
            st.switch = f"{data['from_model']} → {data['to_model']} ({data['detail']})"
            view.switch(st)

        def on_cascade_complete(self, data: Any, *, run_id: Any) -> None:
            done.update(data)

    view.begin(st)
    prompt = ChatPromptTemplate.from_messages([("system", "Answer in one sentence."), ("human", "{question}")])
    chain = prompt | ChatCascade(agent=agent, temperature=0) | StrOutputParser()
    async for piece in chain.astream({"question": rec.LC_Q}, config={"callbacks": [Show()]}):
        st.final_model = "ChatCascade"
        st.final.append(piece)
        view.text(st, piece, "answer", "ChatCascade")
    st.stats = f"cost ${done['total_cost']:.6f} · answered by {done['model_used']} · latency {done['latency_ms']:.0f} ms"
    view.done(st)
    return _row("LangChain chain", done)


async def llamaindex_query(agent: CascadeAgent, view: PlainView) -> Row:
    """A streaming `VectorStoreIndex` query engine on `CascadeLLM`, decisions via instrumentation."""
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.embeddings import MockEmbedding
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler

    from ..llama_index import CascadeCompleteEvent, CascadeDecisionEvent, CascadeLLM, CascadeRoutingEvent

    st = ScenarioState("6 · LlamaIndex: streaming query engine on CascadeLLM", rec.LI_Q)
    done: dict[str, Any] = {}

    class Show(BaseEventHandler):
        @classmethod
        def class_name(cls) -> str:
            return "DemoCascadeView"

        def handle(self, event: Any, **kwargs: Any) -> None:
            if isinstance(event, CascadeRoutingEvent):
                _on_routing(st, view, event.strategy, event.complexity, event.reason)
            elif isinstance(event, CascadeDecisionEvent):
                _on_decision(st, view, {"accepted": event.accepted, "confidence": event.confidence,
                                        "reason": event.reason, "checks": event.details.get("checks", [])})
            elif isinstance(event, CascadeCompleteEvent):
                done.update(event.result)

    view.begin(st)
    docs = [Document(text="The Louvre museum is in Paris, France, on the right bank of the Seine."),
            Document(text="The Prado museum is in Madrid, Spain.")]
    index = VectorStoreIndex.from_documents(docs, embed_model=MockEmbedding(embed_dim=8))
    engine = index.as_query_engine(llm=CascadeLLM(agent=agent, temperature=0), streaming=True, similarity_top_k=2)
    handler = Show()
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(handler)
    try:
        response: Any = await engine.aquery(rec.LI_Q)  # an AsyncStreamingResponse (streaming=True)
        async for token in response.async_response_gen():
            if not token:
                continue
            st.final_model = "CascadeLLM"
            st.final.append(token)
            view.text(st, token, "answer", "CascadeLLM")
    finally:
        dispatcher.event_handlers.remove(handler)
    st.stats = f"cost ${done['total_cost']:.6f} · answered by {done['model_used']} · latency {done['latency_ms']:.0f} ms"
    view.done(st)
    return _row("LlamaIndex query", done)


def framework_scenarios() -> list[Scenario]:
    """The adapter scenarios whose frameworks are installed."""
    out: list[Scenario] = []
    try:
        import langchain_core  # noqa: F401

        out.append(langchain_chain)
    except ImportError:
        pass
    try:
        import llama_index.core  # noqa: F401

        out.append(llamaindex_query)
    except ImportError:
        pass
    return out
