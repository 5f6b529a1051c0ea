"""Validators inside real calls (loopback replay server, real SDKs): a raising check escalates, sync
validators run concurrently, and the result says which model of the chain answered."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from cascadeflow_integrations import CascadeAgent
from cascadeflow_integrations.quality import Decision, Validator
from cascadeflow_integrations.streaming import StreamEventType

from replay_helpers import CHEAP, STRONG, accept, agent, collect, kinds, model, say

HUGE = "9" * 400


@pytest.fixture
def server(module_replay_server: Any) -> Any:
    return module_replay_server


def errors_logged(caplog: Any) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "cascadeflow_integrations" and "raised" in r.getMessage()]


# ---- item 1: a check that raises never crashes the request ------------------------------------------


async def test_a_309_digit_answer_is_judged_by_the_default_validator(server: Any) -> None:
    for _ in range(3):
        say(server, CHEAP, f"The answer is {HUGE}")
        say(server, STRONG, "There are 12 apples.")
    a = agent(server)  # the default validator
    q = "How many apples are left?"
    results = [await a.run(q)]
    events = await collect(a.stream_events(q, streaming_mode="buffered"))
    assert events[-1].type is StreamEventType.COMPLETE
    results.append(events[-1].data["result"])
    results.append(await asyncio.to_thread(a.run_sync, q))
    for r in results:
        checks = [c for d in r.decisions for c in d["checks"]]
        assert {c["name"] for c in checks} >= {"answer_presence", "consistency"}
        assert [c for c in checks if c["error"]] == []  # judged, not caught


def boom(request: Any, draft: Any) -> bool:
    raise ZeroDivisionError("user check divided by zero")


async def aboom(request: Any, draft: Any) -> bool:
    raise ZeroDivisionError("user check divided by zero")


class Boom(Validator):
    name = "boom"

    async def validate(self, request: Any, draft: Any, threshold: float) -> Decision:
        raise ZeroDivisionError("user check divided by zero")


def _run(a: CascadeAgent, how: str) -> tuple[Any, list[Any]]:
    """The result and the events (when the entry point has them) of one call, by entry point."""
    q = "What is the capital of France?"
    if how == "run":
        return asyncio.run(a.run(q)), []
    if how == "run_sync":
        return a.run_sync(q), []
    if how == "stream_events":
        events = asyncio.run(collect(a.stream_events(q)))
    else:
        events = list(a.stream_events_sync(q))
    return events[-1].data["result"], events


@pytest.mark.parametrize("validator,name", [(boom, "boom"), (aboom, "aboom"), (Boom(), "boom")])
@pytest.mark.parametrize("how", ["run", "run_sync", "stream_events", "stream_events_sync"])
def test_a_raising_user_validator_escalates_with_the_error_named(server: Any, caplog: Any, validator: Any,
                                                                 name: str, how: str) -> None:
    say(server, CHEAP, "Lyon, I think.")
    say(server, STRONG, "Paris.")
    named = f"{name} failed: raised ZeroDivisionError: user check divided by zero"
    with caplog.at_level(logging.WARNING, logger="cascadeflow_integrations"):
        r, events = _run(agent(server, validator=validator), how)
    assert r.model_used == STRONG and r.content == "Paris." and not r.draft_accepted
    assert named in r.decisions[0]["reason"]
    assert r.decisions[0]["checks"][-1]["error"] == "ZeroDivisionError: user check divided by zero"
    if events:
        assert [k.rstrip("*") for k in kinds(events)[-3:]] == ["switch", "chunk", "complete"]
        decision = next(e for e in events if e.type is StreamEventType.DRAFT_DECISION)
        switch = next(e for e in events if e.type is StreamEventType.SWITCH)
        assert decision.data["accepted"] is False and named in decision.data["reason"]
        assert switch.data["reason"] == "quality_failed" and named in switch.data["detail"]
    assert len(errors_logged(caplog)) == 1
    assert server.pending() == []


class BoomWhileStreaming(Validator):
    name = "watcher"

    async def validate(self, request: Any, draft: Any, threshold: float) -> Decision:  # pragma: no cover
        raise AssertionError("an aborted draft is not validated again")

    def check_partial(self, request: Any, partial: Any) -> str | None:
        raise OverflowError("int too large to convert to float")


async def test_a_raising_check_partial_aborts_the_draft_and_escalates(server: Any, caplog: Any) -> None:
    say(server, CHEAP, "a long draft that keeps streaming for a while")
    say(server, STRONG, "Paris.")
    a = agent(server, validator=BoomWhileStreaming())
    with caplog.at_level(logging.WARNING, logger="cascadeflow_integrations"):
        events = await collect(a.stream_events("q?", streaming_mode="guarded"))
    switch = next(e for e in events if e.type is StreamEventType.SWITCH)
    assert switch.data["reason"] == "aborted"
    assert "watcher raised OverflowError: int too large to convert to float" in switch.data["detail"]
    r = events[-1].data["result"]
    assert r.model_used == STRONG and r.content == "Paris." and r.attempts[0].aborted
    assert len(errors_logged(caplog)) == 1  # once, not once per chunk


def test_langchain_a_raising_validator_escalates(server: Any) -> None:
    pytest.importorskip("langchain_core")
    from cascadeflow_integrations.langchain import ChatCascade

    say(server, CHEAP, "Lyon, I think.")
    say(server, STRONG, "Paris.")
    llm = ChatCascade(models=[model(server, CHEAP), model(server, STRONG)], validator=boom)
    msg = llm.invoke("What is the capital of France?")
    assert msg.content == "Paris." and msg.response_metadata["model_name"] == STRONG
    assert "boom failed: raised ZeroDivisionError" in msg.response_metadata["cascade"]["decisions"][0]["reason"]


async def test_llama_index_a_raising_validator_escalates(server: Any) -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core.base.llms.types import ChatMessage

    from cascadeflow_integrations.llama_index import CascadeLLM

    say(server, CHEAP, "Lyon, I think.")
    say(server, STRONG, "Paris.")
    llm = CascadeLLM([model(server, CHEAP), model(server, STRONG)], validator=aboom)
    resp = await llm.achat([ChatMessage(role="user", content="What is the capital of France?")])
    assert resp.message.content == "Paris." and resp.raw["cascade"]["model_used"] == STRONG
    assert "aboom failed: raised ZeroDivisionError" in resp.raw["cascade"]["reason"]


# ---- item 7: sync validators run in threads, so concurrent calls overlap ----------------------------

N_CONCURRENT = 4
#: only a guard against a deadlock: the barrier opens as soon as all validators are waiting on it
BARRIER_TIMEOUT = 30


def rendezvous_validator() -> Any:
    """A blocking sync validator that passes only if N_CONCURRENT of them run at the same time."""
    barrier = threading.Barrier(N_CONCURRENT, timeout=BARRIER_TIMEOUT)

    def all_together(request: Any, draft: Any) -> bool:
        barrier.wait()  # on the event loop this blocks it: the others never start, the barrier breaks
        return True

    return all_together


def _queue_drafts(server: Any) -> None:
    for _ in range(N_CONCURRENT):
        say(server, CHEAP, "Paris.")
        say(server, STRONG, "Paris, said the strong model.")  # only used if a validator failed


async def test_sync_validators_of_concurrent_async_calls_overlap(server: Any) -> None:
    _queue_drafts(server)
    a = agent(server, validator=rendezvous_validator())
    results = await asyncio.gather(*(a.run("Capital of France?") for _ in range(N_CONCURRENT)))
    assert [r.draft_accepted for r in results] == [True] * N_CONCURRENT
    assert [d["reason"] for r in results for d in r.decisions] == ["all_together: passed"] * N_CONCURRENT


def test_sync_validators_of_concurrent_sync_calls_overlap(server: Any) -> None:
    """Threads calling run_sync share one background loop: a blocking validator must not hold it."""
    _queue_drafts(server)
    a = agent(server, validator=rendezvous_validator())
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(a.run_sync("Capital of France?")))
               for _ in range(N_CONCURRENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(BARRIER_TIMEOUT * 2)
    assert [r.draft_accepted for r in results] == [True] * N_CONCURRENT


async def test_async_validators_still_run_on_the_loop(server: Any) -> None:
    say(server, CHEAP, "Paris.")
    loop_thread: list[threading.Thread] = []

    async def on_loop(request: Any, draft: Any) -> bool:
        loop_thread.append(threading.current_thread())
        return True

    r = await agent(server, validator=on_loop).run("q?")
    assert r.draft_accepted and loop_thread == [threading.current_thread()]


# ---- item 10: which model of the chain answered -------------------------------------------------------

CHAIN = ("m-small", "m-mid", "m-large")


def _chain(server: Any, accepted: str | None) -> Any:
    for n in CHAIN:
        say(server, n, f"answer from {n}")

    def only(request: Any, draft: Any) -> bool:
        return draft.model == accepted

    return agent(server, *CHAIN, validator=only)


@pytest.mark.parametrize("accepted,index", [("m-small", 0), ("m-mid", 1), (None, 2)])
async def test_accepted_index_in_result_events_and_decisions(server: Any, accepted: str | None, index: int) -> None:
    a = _chain(server, accepted)
    events = await collect(a.stream_events("q?", streaming_mode="buffered"))
    r = events[-1].data["result"]
    assert r.model_used == CHAIN[index] and r.content == f"answer from {CHAIN[index]}"
    assert r.accepted_index == index and r.to_dict()["accepted_index"] == index and r["accepted_index"] == index
    assert r.draft_accepted is (index == 0)  # only the first model's draft counts as "the draft"
    decisions = [e.data for e in events if e.type is StreamEventType.DRAFT_DECISION]
    assert [(d["model"], d["index"]) for d in decisions] == [(CHAIN[i], i) for i in range(min(index + 1, 2))]
    assert [d["index"] for d in r.decisions] == [d["index"] for d in decisions]


async def test_accepted_index_when_the_call_goes_direct(server: Any) -> None:
    say(server, "m-large", "direct answer")
    r = await agent(server, *CHAIN, validator=accept).run("q?", force_direct=True)
    assert r.strategy == "direct" and r.model_used == "m-large" and r.accepted_index == 2 and not r.draft_accepted
    say(server, CHEAP, "only model")
    r = await CascadeAgent([model(server, CHEAP)]).run("q?")
    assert r.accepted_index == 0 and r.model_used == CHEAP


def test_accepted_index_in_langchain_metadata_and_events(server: Any) -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.callbacks import BaseCallbackHandler

    from cascadeflow_integrations.langchain import ChatCascade

    class Record(BaseCallbackHandler):
        def __init__(self) -> None:
            self.events: list[tuple[str, Any]] = []

        def on_custom_event(self, name: str, data: Any, **kw: Any) -> None:
            self.events.append((name, data))

    a = _chain(server, "m-mid")
    rec = Record()
    msg = ChatCascade(agent=a).invoke("q?", config={"callbacks": [rec]})
    assert msg.content == "answer from m-mid"
    meta = msg.response_metadata["cascade"]
    assert meta["accepted_index"] == 1 and meta["draft_accepted"] is False and meta["model_used"] == "m-mid"
    assert [d["index"] for n, d in rec.events if n == "cascade_decision"] == [0, 1]
    assert [d["accepted_index"] for n, d in rec.events if n == "cascade_complete"] == [1]


async def test_accepted_index_in_llama_index_raw_and_events(server: Any) -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler

    from cascadeflow_integrations.llama_index import CascadeCompleteEvent, CascadeDecisionEvent, CascadeLLM

    seen: list[Any] = []

    class Collect(BaseEventHandler):
        @classmethod
        def class_name(cls) -> str:
            return "CollectAcceptedIndex"

        def handle(self, event: Any, **kwargs: Any) -> None:
            if isinstance(event, (CascadeDecisionEvent, CascadeCompleteEvent)):
                seen.append(event)

    root = get_dispatcher()
    handler = Collect()
    root.add_event_handler(handler)
    try:
        resp = await CascadeLLM(agent=_chain(server, "m-mid")).achat([ChatMessage(role="user", content="q?")])
    finally:
        root.event_handlers.remove(handler)
    assert resp.message.content == "answer from m-mid"
    assert resp.raw["cascade"]["accepted_index"] == 1 and resp.raw["cascade"]["draft_accepted"] is False
    assert resp.additional_kwargs["cascade"]["accepted_index"] == 1
    assert [e.index for e in seen if isinstance(e, CascadeDecisionEvent)] == [0, 1]
    assert [e.accepted_index for e in seen if isinstance(e, CascadeCompleteEvent)] == [1]
