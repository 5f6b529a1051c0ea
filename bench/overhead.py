"""Streaming overhead of the cascade, against a loopback server in its own process.

    .venv/bin/python bench/overhead.py            # full run (2,000 chunks, 7 repeats), updates bench/README.md
    .venv/bin/python bench/overhead.py --quick    # smoke run (300 chunks, 3 repeats), prints only
    .venv/bin/python bench/overhead.py --profile  # also cProfile the cascade path (b)

The server (`bench/_server.py`) streams N one-word chunks in the real OpenAI / Anthropic wire
format (chunked SSE, one send per event, keep-alive). For every client path below, each repeat
measures, in this (client) process:

* CPU per chunk: `time.process_time()` delta around consuming the whole stream, / N;
* wall per chunk: `time.perf_counter()` delta around the same, / N;
* time to first chunk: wall time from the call to the first content chunk in the consumer's hands.

Repeats are interleaved round-robin across the paths (after one warm-up call each), and the
median and minimum are reported. SDK clients / agents are built once and reused, as in an app.

Memory: a child process opens 1,000 concurrent `CascadeAgent.stream_events` streams (each has
received its first chunk and is held open by the server), and reports RSS delta and tracemalloc
delta per stream (a raw `AsyncOpenAI` child gives the baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

README = os.path.join(ROOT, "bench", "README.md")
SECTION = "## Streaming overhead"
KEY = "sk-bench-not-a-real-key"
CHEAP, STRONG = "gpt-4o-mini", "gpt-4o"
A_CHEAP, A_STRONG = "claude-haiku-4-5", "claude-sonnet-4-5"
QUERY = "Write a long, detailed essay on the history of Paris, from the Romans to today."
MAX_TOKENS = 4096


# ---- the server process -----------------------------------------------------------------------

class ServerProc:
    def __init__(self, words: int, pace_us: float = 0.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "bench", "_server.py"), "--words", str(words),
             "--pace-us", str(pace_us)],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"bench server failed to start: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# ---- the client paths -------------------------------------------------------------------------
# Each path is `async def run() -> (first_chunk_perf_counter, n_content_chunks)`; built by a
# factory that gets the server URL and returns (run, aclose).

Run = Callable[[], Awaitable[tuple[float | None, int]]]


def _raw_openai_body(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": QUERY}], "stream": True,
            "stream_options": {"include_usage": True}}


def _raw_anthropic_body(model: str) -> dict[str, Any]:
    return {"model": model, "max_tokens": MAX_TOKENS, "messages": [{"role": "user", "content": QUERY}],
            "stream": True}


def make_a0(url: str, lib: str = "httpx2", fmt: str = "openai") -> tuple[Run, Any]:
    """The floor: a plain async HTTP client reading SSE lines and json.loads-ing each."""
    httpx = __import__(lib)
    client = httpx.AsyncClient(timeout=60)
    loads = json.loads
    perf = time.perf_counter
    if fmt == "openai":
        target, body = url + "/v1/chat/completions", _raw_openai_body(CHEAP)
        headers = {"authorization": f"Bearer {KEY}"}
    else:
        target, body = url + "/v1/messages", _raw_anthropic_body(A_CHEAP)
        headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}

    async def run_openai() -> tuple[float | None, int]:
        first, n = None, 0
        async with client.stream("POST", target, json=body, headers=headers) as r:
            async for line in r.aiter_lines():
                if line[:6] != "data: ":
                    continue
                data = line[6:]
                if data == "[DONE]":
                    continue  # read on to the end of the body, so the connection goes back to the pool
                obj = loads(data)
                choices = obj["choices"]
                if choices and choices[0]["delta"].get("content"):
                    if first is None:
                        first = perf()
                    n += 1
        return first, n

    async def run_anthropic() -> tuple[float | None, int]:
        first, n = None, 0
        async with client.stream("POST", target, json=body, headers=headers) as r:
            async for line in r.aiter_lines():
                if line[:6] != "data: ":
                    continue
                obj = loads(line[6:])
                if obj["type"] == "content_block_delta" and obj["delta"].get("text"):
                    if first is None:
                        first = perf()
                    n += 1
        return first, n

    return (run_openai if fmt == "openai" else run_anthropic), client.aclose


def make_a(url: str) -> tuple[Run, Any]:
    """The raw OpenAI SDK stream (typed chunk objects)."""
    import openai

    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
    perf = time.perf_counter

    async def run() -> tuple[float | None, int]:
        first, n = None, 0
        stream = await client.chat.completions.create(
            model=CHEAP, messages=[{"role": "user", "content": QUERY}], stream=True,
            stream_options={"include_usage": True})
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                if first is None:
                    first = perf()
                n += 1
        return first, n

    return run, client.close


def make_a_anthropic(url: str) -> tuple[Run, Any]:
    """The raw Anthropic SDK stream (typed event objects)."""
    import anthropic

    client = anthropic.AsyncAnthropic(base_url=url, api_key=KEY, max_retries=0)
    perf = time.perf_counter

    async def run() -> tuple[float | None, int]:
        first, n = None, 0
        stream = await client.messages.create(
            model=A_CHEAP, max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": QUERY}], stream=True)
        async for ev in stream:
            if ev.type == "content_block_delta" and ev.delta.type == "text_delta" and ev.delta.text:
                if first is None:
                    first = perf()
                n += 1
        return first, n

    return run, client.close


@dataclass
class Check:
    """What the cascade paths saw (asserted after the warm-up: the draft must be accepted)."""

    notes: dict[str, str] = field(default_factory=dict)


CHECK = Check()


def _agent(url: str, provider: str, mode: str, validator: Any = None) -> Any:
    from cascadeflow_integrations import CascadeAgent, ModelConfig

    cheap, strong = (CHEAP, STRONG) if provider == "openai" else (A_CHEAP, A_STRONG)
    base = url + "/v1" if provider == "openai" else url
    models = [ModelConfig(name=cheap, provider=provider, base_url=base, api_key=KEY, max_retries=0,
                          input_cost=0.00015, output_cost=0.0006),
              ModelConfig(name=strong, provider=provider, base_url=base, api_key=KEY, max_retries=0,
                          input_cost=0.0025, output_cost=0.01)]
    return CascadeAgent(models, streaming_mode=mode, validator=validator)


def make_b(url: str, mode: str = "optimistic", provider: str = "openai", label: str = "b") -> tuple[Run, Any]:
    """`CascadeAgent.stream_events`, 2 models, the draft accepted by the default validator."""
    from cascadeflow_integrations.streaming import StreamEventType

    agent = _agent(url, provider, mode)
    CHUNK, COMPLETE = StreamEventType.CHUNK, StreamEventType.COMPLETE
    perf = time.perf_counter
    state = {"checked": False}

    async def run() -> tuple[float | None, int]:
        first, n = None, 0
        result = None
        async for ev in agent.stream_events(QUERY, max_tokens=MAX_TOKENS):
            if ev.type is CHUNK:
                if first is None:
                    first = perf()
                n += 1
            elif ev.type is COMPLETE:
                result = ev.data["result"]
        if not state["checked"]:
            state["checked"] = True
            if result is None or not result.draft_accepted:
                decisions = getattr(result, "decisions", None)
                raise RuntimeError(f"({label}) the draft was not accepted: {decisions}")
            d = result.decisions[0] if result.decisions else {}
            CHECK.notes[label] = (f"draft accepted by the default validator "
                                  f"(confidence {d.get('confidence', float('nan')):.2f}), "
                                  f"model_used={result.model_used}, attempts={len(result.attempts)}")
        return first, n

    return run, agent.aclose


def make_prov(url: str, provider: str = "openai") -> tuple[Run, Any]:
    """Our provider alone (`provider.stream` deltas, no engine): splits (b) into provider vs engine."""
    from cascadeflow_integrations.messages import to_messages
    from cascadeflow_integrations.providers import create_provider
    from cascadeflow_integrations.types import ChatRequest, TextDelta

    agent = _agent(url, provider, "optimistic")  # same ModelConfig as (b)
    prov = create_provider(agent.models[0])
    perf = time.perf_counter

    async def run() -> tuple[float | None, int]:
        first, n = None, 0
        # as the engine asks for a draft: logprobs when the provider supports them
        req = ChatRequest(messages=to_messages(QUERY), max_tokens=MAX_TOKENS, temperature=0.7,
                          logprobs=prov.supports_logprobs)
        async for d in prov.stream(req):
            if type(d) is TextDelta:
                if first is None:
                    first = perf()
                n += 1
        return first, n

    return run, prov.aclose


def make_c(url: str) -> tuple[Run, Any]:
    """langchain-openai `ChatOpenAI.astream`."""
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model=CHEAP, base_url=url + "/v1", api_key=KEY, max_retries=0, stream_usage=True)
    perf = time.perf_counter

    async def run() -> tuple[float | None, int]:
        first, n = None, 0
        async for chunk in llm.astream(QUERY):
            if chunk.content:
                if first is None:
                    first = perf()
                n += 1
        return first, n

    return run, None


def make_d(url: str) -> tuple[Run, Any]:
    """cascadeflow 1.2.0 `CascadeAgent.stream_events`, 2 `vllm` models at the loopback server."""
    import logging

    logging.getLogger("cascadeflow").setLevel(logging.ERROR)
    from cascadeflow import CascadeAgent as CF, ModelConfig as CFModel
    from cascadeflow.streaming import StreamEventType as CFType

    agent = CF(models=[CFModel(name=CHEAP, provider="vllm", base_url=url + "/v1", cost=0.000375),
                       CFModel(name=STRONG, provider="vllm", base_url=url + "/v1", cost=0.00625)])
    CHUNK = CFType.CHUNK
    perf = time.perf_counter
    state = {"checked": False}

    async def run() -> tuple[float | None, int]:
        first, n = None, 0
        types: list[str] = []
        async for ev in agent.stream_events(QUERY, max_tokens=MAX_TOKENS):
            if ev.type is CHUNK:
                if first is None:
                    first = perf()
                n += 1
            elif not state["checked"]:
                types.append(f"{ev.type.value}:{ {k: v for k, v in (ev.data or {}).items() if k in ('model', 'accepted', 'from_model', 'to_model', 'reason')} }")
        if not state["checked"]:
            state["checked"] = True
            CHECK.notes["d"] = "events: " + ", ".join(types)[:400]
        return first, n

    return run, None


def make_e(url: str) -> tuple[Run, Any]:
    """`ChatCascade.astream` (cascadeflow_integrations.langchain), the draft accepted."""
    from cascadeflow_integrations.langchain import ChatCascade

    agent = _agent(url, "openai", "optimistic")
    try:
        llm = ChatCascade(agent=agent)
    except TypeError:
        llm = ChatCascade(models=agent.models)
    perf = time.perf_counter

    async def run() -> tuple[float | None, int]:
        first, n = None, 0
        async for chunk in llm.astream(QUERY, max_tokens=MAX_TOKENS):
            if chunk.content:
                if first is None:
                    first = perf()
                n += 1
        return first, n

    return run, agent.aclose


def make_f(url: str) -> tuple[Run, Any]:
    """`ChatCascade.astream` whose members are langchain-openai `ChatOpenAI` models, the draft accepted."""
    from langchain_openai import ChatOpenAI

    from cascadeflow_integrations.langchain import ChatCascade

    def member(name: str) -> Any:
        return ChatOpenAI(model=name, base_url=url + "/v1", api_key=KEY, max_retries=0, stream_usage=True)

    llm = ChatCascade(models=[member(CHEAP), member(STRONG)])
    perf = time.perf_counter
    state = {"checked": False}

    async def run() -> tuple[float | None, int]:
        first, n = None, 0
        last = None
        async for chunk in llm.astream(QUERY, max_tokens=MAX_TOKENS):
            if chunk.content:
                if first is None:
                    first = perf()
                n += 1
            last = chunk
        if not state["checked"]:
            state["checked"] = True
            cascade = (last.response_metadata or {}).get("cascade", {}) if last is not None else {}
            if not cascade.get("draft_accepted"):
                raise RuntimeError(f"(f) the draft was not accepted: {cascade.get('decisions')}")
            CHECK.notes["f"] = (f"draft accepted by the default validator (ChatOpenAI members, no logprobs), "
                                f"model_used={cascade.get('model_used')}")
        return first, n

    return run, None


# ---- measuring --------------------------------------------------------------------------------

@dataclass
class Case:
    key: str
    label: str
    run: Run
    aclose: Any
    cpu: list[float] = field(default_factory=list)     # s per chunk
    wall: list[float] = field(default_factory=list)    # s per chunk
    ttfc: list[float] = field(default_factory=list)    # s
    connects: list[int] = field(default_factory=list)  # new TCP connections per call
    error: str | None = None


_CONNECTS = [0]


def _count_connects() -> None:
    """Count new TCP connections (every client here connects through loop.create_connection)."""
    import asyncio.base_events as be

    orig = be.BaseEventLoop.create_connection
    if getattr(orig, "_bench_counted", False):
        return

    async def create_connection(self: Any, *a: Any, **k: Any) -> Any:
        _CONNECTS[0] += 1
        return await orig(self, *a, **k)

    create_connection._bench_counted = True  # type: ignore[attr-defined]
    be.BaseEventLoop.create_connection = create_connection  # type: ignore[method-assign]


async def _measure(case: Case, n_expected: int) -> None:
    gc.collect()
    k0 = _CONNECTS[0]
    c0, w0 = time.process_time(), time.perf_counter()
    first, n = await case.run()
    c1, w1 = time.process_time(), time.perf_counter()
    case.connects.append(_CONNECTS[0] - k0)
    if n != n_expected:
        raise RuntimeError(f"({case.key}) got {n} content chunks, expected {n_expected}")
    case.cpu.append((c1 - c0) / n)
    case.wall.append((w1 - w0) / n)
    case.ttfc.append((first or w1) - w0)


FACTORIES: list[tuple[str, str, Callable[[str], tuple[Run, Any]]]] = [
    ("a0", "plain httpx2 AsyncClient + SSE lines + json.loads (floor)", lambda u: make_a0(u, "httpx2")),
    ("a0'", "plain httpx 0.28 AsyncClient + SSE lines + json.loads", lambda u: make_a0(u, "httpx")),
    ("a", "raw AsyncOpenAI stream (openai SDK)", make_a),
    ("p", "our OpenAIProvider.stream alone (deltas, no engine)", make_prov),
    ("b", "CascadeAgent.stream_events, optimistic, draft accepted", lambda u: make_b(u, "optimistic")),
    ("b-buf", "CascadeAgent.stream_events, buffered, draft accepted", lambda u: make_b(u, "buffered", label="b-buf")),
    ("c", "langchain-openai ChatOpenAI.astream", make_c),
    ("d", "cascadeflow 1.2.0 CascadeAgent.stream_events (vllm provider)", make_d),
    ("e", "ChatCascade.astream (cascadeflow_integrations.langchain)", make_e),
    ("f", "ChatCascade.astream with ChatOpenAI members", make_f),
    ("A0", "Anthropic: plain httpx2 + SSE lines + json.loads (floor)", lambda u: make_a0(u, "httpx2", "anthropic")),
    ("A", "Anthropic: raw AsyncAnthropic messages stream", make_a_anthropic),
    ("P", "Anthropic: our AnthropicProvider.stream alone (deltas, no engine)",
     lambda u: make_prov(u, "anthropic")),
    ("B", "Anthropic: CascadeAgent.stream_events, optimistic, draft accepted",
     lambda u: make_b(u, "optimistic", "anthropic", label="B")),
    ("B-buf", "Anthropic: CascadeAgent.stream_events, buffered, draft accepted",
     lambda u: make_b(u, "buffered", "anthropic", label="B-buf")),
]


async def bench(url: str, n: int, repeats: int, only: set[str] | None) -> list[Case]:
    cases: list[Case] = []
    for key, label, factory in FACTORIES:
        if only and key not in only:
            continue
        try:
            run, aclose = factory(url)
            case = Case(key, label, run, aclose)
            await _measure(case, n)  # warm-up (connections, imports, lazy clients)
            case.cpu.clear(), case.wall.clear(), case.ttfc.clear(), case.connects.clear()
        except Exception as exc:  # noqa: BLE001 - reported in the table
            c = Case(key, label, None, None)  # type: ignore[arg-type]
            c.error = f"{type(exc).__name__}: {exc}"[:300]
            cases.append(c)
            print(f"  {key}: not measured: {c.error}", file=sys.stderr)
            continue
        cases.append(case)
    live = [c for c in cases if c.error is None]
    for r in range(repeats):
        for case in live:
            if case.error is None:
                try:
                    await _measure(case, n)
                except Exception as exc:  # noqa: BLE001
                    case.error = f"{type(exc).__name__}: {exc}"[:300]
        print(f"  repeat {r + 1}/{repeats} done", file=sys.stderr)
    for case in live:
        if case.aclose is not None:
            try:
                await case.aclose()
            except Exception:  # noqa: BLE001
                pass
    return cases


# ---- memory -----------------------------------------------------------------------------------

def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _memory_child(url: str, kind: str, n_streams: int, trace: bool) -> dict[str, Any]:
    import tracemalloc

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n_streams * 2 + 256:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(n_streams * 2 + 256, 4096), hard), hard))
    if kind == "cascade":
        from cascadeflow_integrations import CascadeAgent, ModelConfig
        from cascadeflow_integrations.streaming import StreamEventType

        agent = CascadeAgent([ModelConfig(name="hold-" + CHEAP, base_url=url + "/v1", api_key=KEY, max_retries=0),
                              ModelConfig(name="hold-" + STRONG, base_url=url + "/v1", api_key=KEY, max_retries=0)])
        CHUNK = StreamEventType.CHUNK

        def open_stream() -> Any:
            return agent.stream_events(QUERY, max_tokens=MAX_TOKENS)

        def is_chunk(ev: Any) -> bool:
            return ev.type is CHUNK

        closer = agent.aclose
    else:
        import openai

        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)

        async def _gen() -> Any:
            stream = await client.chat.completions.create(
                model="hold-" + CHEAP, messages=[{"role": "user", "content": QUERY}], stream=True,
                stream_options={"include_usage": True})
            try:
                async for chunk in stream:
                    yield chunk
            finally:
                await stream.close()

        def open_stream() -> Any:
            return _gen()

        def is_chunk(ev: Any) -> bool:
            return bool(ev.choices and ev.choices[0].delta.content)

        closer = client.close

    release = asyncio.Event()
    opened = 0
    all_open = asyncio.Event()
    errors: list[str] = []

    async def hold(target: int) -> None:
        nonlocal opened
        agen = open_stream()
        try:
            async for ev in agen:
                if is_chunk(ev):
                    break
            opened += 1
            if opened == target:
                all_open.set()
            await release.wait()
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{type(exc).__name__}: {exc}")
            all_open.set()
        finally:
            await agen.aclose()

    # warm-up: imports, the SDK client, a few connections
    opened, release_warm = 0, release
    warm = [asyncio.create_task(hold(8)) for _ in range(8)]
    await asyncio.wait_for(all_open.wait(), 60)
    release.set()
    await asyncio.gather(*warm)
    release, all_open, opened = asyncio.Event(), asyncio.Event(), 0
    del release_warm
    gc.collect()
    await asyncio.sleep(0.2)
    gc.collect()
    if trace:
        tracemalloc.start()
    rss0 = _rss()
    tm0 = tracemalloc.get_traced_memory()[0] if trace else 0
    t0 = time.perf_counter()
    # Opened in waves of 50 (each wave past its first chunk before the next starts): 1,000 requests
    # started in the same instant would mostly measure the HTTP pool's queueing and connect timeouts.
    tasks: list[asyncio.Task[None]] = []
    for start in range(0, n_streams, 50):
        wave = min(50, n_streams - start)
        tasks += [asyncio.create_task(hold(n_streams)) for _ in range(wave)]
        deadline = time.perf_counter() + 120
        while opened + len(errors) < start + wave and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
    await asyncio.wait_for(all_open.wait(), 120)
    t_open = time.perf_counter() - t0
    gc.collect()
    rss1 = _rss()
    tm1 = tracemalloc.get_traced_memory()[0] if trace else 0
    top: list[str] = []
    if trace:
        snap = tracemalloc.take_snapshot()
        for stat in snap.statistics("filename")[:8]:
            top.append(f"{os.path.relpath(stat.traceback[0].filename, ROOT) if ROOT in stat.traceback[0].filename else stat.traceback[0].filename}: {stat.size / n_streams / 1024:.1f} KiB")
    release.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    await closer()
    return {"kind": kind, "streams": n_streams, "opened": opened, "errors": errors[:3], "n_errors": len(errors),
            "rss_per_stream": (rss1 - rss0) / n_streams, "tm_per_stream": (tm1 - tm0) / n_streams if trace else None,
            "open_s": t_open, "top": top}


def memory(url: str, n_streams: int) -> list[dict[str, Any]]:
    out = []
    for kind in ("raw-openai", "cascade"):
        row: dict[str, Any] = {"kind": kind}
        for trace in (False, True):
            proc = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--memory-child", kind, "--url", url,
                 "--streams", str(n_streams)] + (["--trace"] if trace else []),
                capture_output=True, text=True, timeout=600)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if proc.returncode or not lines:
                row["error"] = (proc.stderr.strip().splitlines() or ["?"])[-1][:300]
                break
            res = json.loads(lines[-1])
            if trace:  # RSS from the untraced run (tracemalloc's own bookkeeping inflates RSS)
                row.update(tm_per_stream=res["tm_per_stream"], top=res["top"], opened_traced=res["opened"],
                           n_errors=row["n_errors"] + res["n_errors"], errors=row["errors"] + res["errors"])
            else:
                row.update(res)
        out.append(row)
    return out


# ---- profiling --------------------------------------------------------------------------------

_CATEGORIES = [
    ("our provider: SSE decode + JSON", ("providers/_sse.py",)),
    ("our provider: chunk -> delta", ("cascadeflow_integrations/models/providers/",)),
    ("our engine: events, CascadeRun", ("cascadeflow_integrations/cascade/engine.py",
                                        "cascadeflow_integrations/cascade/streaming.py",
                                        "cascadeflow_integrations/types.py")),
    ("our LangChain adapter (ChatCascade, members, events)", ("cascadeflow_integrations/langchain/",)),
    ("our other code (routing, validation, result)", ("cascadeflow_integrations/",)),
    ("openai / anthropic SDK", ("site-packages/openai/", "site-packages/anthropic/")),
    ("langchain-core (callbacks, message chunks, tracers)", ("site-packages/langchain_core/",)),
    ("langchain-openai", ("site-packages/langchain_openai/",)),
    ("pydantic", ("site-packages/pydantic",)),
    ("HTTP transport (httpx2, httpcore2, h11, anyio)", ("site-packages/httpx2/", "site-packages/httpcore2/",
                                                        "site-packages/h11/", "site-packages/anyio/")),
    ("asyncio event loop + selectors", ("/asyncio/", "selectors.py")),
    ("json module", ("/json/",)),
    ("the benchmark's consumer loop", ("bench/overhead.py",)),
]


def _category(filename: str) -> str:
    if filename == "~":
        return "C builtins (dict.get, len, socket recv, ...)"
    for name, needles in _CATEGORIES:
        if any(n in filename for n in needles):
            return name
    return "other stdlib (contextlib, typing, ...)"


def _short(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1]
    return os.path.relpath(filename, ROOT)


async def profile_b(url: str, n: int, mode: str = "optimistic", provider: str = "openai") -> str:
    """cProfile (CPU-time clock, so other load on the machine does not skew it) of the floor, our
    provider alone and the cascade, summarised as each layer's share of the profiled CPU time.
    cProfile's own per-call cost inflates absolute numbers several-fold, so only shares are shown;
    the unprofiled a0 -> p -> b table rows give the absolute split (provider vs engine)."""
    import cProfile
    import pstats

    out: list[str] = []

    async def go() -> None:
        makers = {"floor": lambda: make_a0(url, "httpx2", provider),
                  "provider alone": lambda: make_prov(url, provider),
                  f"CascadeAgent {mode}": lambda: make_b(url, mode, provider, label=f"profile-{provider}-{mode}")}
        if provider == "openai":  # the LangChain face over the same members, and over ChatOpenAI members
            makers["ChatCascade.astream (e)"] = lambda: make_e(url)
            makers["ChatOpenAI.astream alone (c)"] = lambda: make_c(url)
            makers["ChatCascade over ChatOpenAI (f)"] = lambda: make_f(url)
        for name, make in makers.items():
            run, aclose = make()
            await run()
            prof = cProfile.Profile(time.process_time)
            prof.enable()
            for _ in range(3):
                await run()
            prof.disable()
            if aclose is not None:
                await aclose()
            st = pstats.Stats(prof)
            cats: dict[str, float] = {}
            total = 0.0
            for (filename, _line, _func), (_cc, _nc, tt, _ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
                cats[_category(filename)] = cats.get(_category(filename), 0.0) + tt
                total += tt
            out.append(f"- {provider} {name}: " + "; ".join(
                f"{k} {v / total:.0%}" for k, v in sorted(cats.items(), key=lambda kv: -kv[1]) if v / total >= 0.005))
            if name.startswith(("CascadeAgent", "ChatCascade")):
                ours = sorted(((tt, f"{_short(fn)}:{ln}({fu})") for (fn, ln, fu), (_c, _n, tt, _ct, _cl)
                               in st.stats.items()  # type: ignore[attr-defined]
                               if "cascadeflow_integrations" in fn or "langchain_core" in fn),
                              reverse=True)[:10]
                out.append("  - our functions by own time (share of the profiled total): " + "; ".join(
                    f"{f} {tt / total:.1%}" for tt, f in ours if tt / total >= 0.001))

    await go()
    return "\n".join(out)


# ---- report -----------------------------------------------------------------------------------

def _us(v: float) -> str:
    return f"{v * 1e6:.1f}"


def _ms(v: float) -> str:
    return f"{v * 1e3:.2f}"


def table(cases: list[Case]) -> tuple[str, list[str]]:
    by = {c.key: c for c in cases}

    def med(c: Case, attr: str) -> float:
        return statistics.median(getattr(c, attr))

    def ok(c: Case | None) -> bool:
        return c is not None and c.error is None and bool(c.cpu)

    rows = ["| | path | CPU µs/chunk (median / min) | × floor (median / min) | wall µs/chunk (median / min) "
            "| first chunk ms (median / min) | first chunk − floor, ms (median) | new TCP connections per call |",
            "|---|---|---|---|---|---|---|---|"]
    for c in cases:
        floor = by.get("A0") if c.key[0] in "ABP" else by.get("a0")
        if not ok(c):
            rows.append(f"| {c.key} | {c.label} | not measured: {c.error} | | | | | |")
            continue
        ratio = added = ""
        if ok(floor):
            ratio = f"{med(c, 'cpu') / med(floor, 'cpu'):.2f} / {min(c.cpu) / min(floor.cpu):.2f}"
            added = f"{(med(c, 'ttfc') - med(floor, 'ttfc')) * 1e3:+.2f}"
        rows.append(f"| {c.key} | {c.label} | {_us(med(c, 'cpu'))} / {_us(min(c.cpu))} | {ratio} "
                    f"| {_us(med(c, 'wall'))} / {_us(min(c.wall))} | {_ms(med(c, 'ttfc'))} / {_ms(min(c.ttfc))} "
                    f"| {added} | {sum(c.connects) / len(c.connects):.1f} |")

    goals: list[str] = []

    def goal(name: str, num: str, den: str, limit: float) -> None:
        a, b = by.get(num), by.get(den)
        if not (ok(a) and ok(b)):
            goals.append(f"- {name}: not measured")
            return
        r = med(a, "cpu") / med(b, "cpu")
        rmin = min(a.cpu) / min(b.cpu)
        goals.append(f"- {name}: {r:.2f}× (min {rmin:.2f}×) vs goal ≤ {limit}× — "
                     f"**{'met' if r <= limit else 'MISSED'}**")

    def ttfc_goal(name: str, num: str, den: str) -> None:
        a, b = by.get(num), by.get(den)
        if not (ok(a) and ok(b)):
            goals.append(f"- {name}: not measured")
            return
        d = (med(a, "ttfc") - med(b, "ttfc")) * 1e3
        dmin = (min(a.ttfc) - min(b.ttfc)) * 1e3
        goals.append(f"- {name}: {d:+.2f} ms (min-to-min {dmin:+.2f} ms) vs goal < 1 ms — "
                     f"**{'met' if d < 1 else 'MISSED'}**")

    # issue 21 item 6 ("hot path kept"): the three ratios the restructuring must hold, side by side
    goal("(b) optimistic CPU/chunk ÷ (a0)", "b", "a0", 1.15)
    goal("(b) buffered CPU/chunk ÷ (a0)", "b-buf", "a0", 1.15)
    goal("(e) ChatCascade.astream CPU/chunk ÷ (a0)", "e", "a0", 1.6)
    ttfc_goal("(b) optimistic time to first chunk − (a0)", "b", "a0")
    goal("Anthropic (B) optimistic CPU/chunk ÷ raw AsyncAnthropic (A)", "B", "A", 1.3)
    goal("Anthropic (B) optimistic CPU/chunk ÷ Anthropic floor (A0)", "B", "A0", 1.3)
    ttfc_goal("Anthropic (B) optimistic time to first chunk − raw AsyncAnthropic (A)", "B", "A")
    ttfc_goal("Anthropic (B) optimistic time to first chunk − Anthropic floor (A0)", "B", "A0")
    goal("(e) ChatCascade CPU/chunk ÷ (c) ChatOpenAI", "e", "c", 0.6)
    goal("(f) ChatCascade with ChatOpenAI members CPU/chunk ÷ (c) ChatOpenAI.astream alone", "f", "c", 1.15)
    return "\n".join(rows), goals


def versions() -> str:
    out: list[str] = []
    import cascadeflow_integrations

    out.append(f"cascadeflow-integrations {cascadeflow_integrations.__version__} (this tree)")
    for pkg in ("openai", "anthropic", "httpx", "httpx2", "langchain-core",
                "langchain-openai", "cascadeflow"):
        try:
            out.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            out.append(f"{pkg} (not installed)")
    return ", ".join(out)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.+)", f.read())
            if m:
                cpu = m.group(1).strip()
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, Python {platform.python_version()}"


def write_readme(section: str, heading: str = SECTION) -> None:
    """Replace (or append) the README section that starts with `heading`."""
    text = open(README).read() if os.path.exists(README) else "# Benchmarks\n"
    start = text.find(heading + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    else:
        nxt = text.find("\n## ", start + len(heading))
        end = len(text) if nxt < 0 else nxt + 1
        text = text[:start] + section.rstrip("\n") + "\n" + ("\n" + text[end:] if nxt >= 0 else "")
    with open(README, "w") as f:
        f.write(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: 300 chunks, 3 repeats, 100 streams; "
                                                         "does not touch bench/README.md")
    ap.add_argument("--chunks", type=int, help="content chunks per stream (default 2000)")
    ap.add_argument("--repeats", type=int, help="measured repeats per path (default 7)")
    ap.add_argument("--streams", type=int, help="concurrent streams for the memory test (default 1000)")
    ap.add_argument("--pace-us", type=float, default=0.0, help="server sleep between events (default 0)")
    ap.add_argument("--only", help="comma-separated path keys (a0,a0',a,p,b,b-buf,c,d,e,f,A0,A,P,B,B-buf)")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--profile", action="store_true", help="cProfile path (b) and (B) after the run")
    ap.add_argument("--no-write", action="store_true", help="do not update bench/README.md")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.memory_child:
        res = asyncio.run(_memory_child(args.url, args.memory_child, args.streams, args.trace))
        print(json.dumps(res))
        return

    n = args.chunks or (300 if args.quick else 2000)
    repeats = args.repeats or (3 if args.quick else 7)
    n_streams = args.streams or (100 if args.quick else 1000)
    only = set(args.only.split(",")) if args.only else None
    load0 = os.getloadavg()[0]
    server = ServerProc(n, args.pace_us)
    try:
        print(f"server pid {server.proc.pid} at {server.url}; {n} chunks, {repeats} repeats", file=sys.stderr)
        _count_connects()
        async def measure() -> tuple[list[Case], list[dict[str, Any]], list[str]]:
            # one event loop for all: langchain-openai keeps its default httpx client across calls,
            # bound to the loop that first used it
            cases = await bench(server.url, n, repeats, only)
            mem = [] if args.no_memory else await asyncio.to_thread(memory, server.url, n_streams)
            profile = []
            if args.profile:
                profile = [await profile_b(server.url, n, "optimistic", "openai"),
                           await profile_b(server.url, n, "optimistic", "anthropic")]
            return cases, mem, profile

        cases, mem, profile = asyncio.run(measure())
    finally:
        server.stop()

    rows, goals = table(cases)
    mem_lines = []
    for m in mem:
        if "error" in m:
            mem_lines.append(f"- {m['kind']}: not measured: {m['error']}")
            continue
        tm = f", tracemalloc {m['tm_per_stream'] / 1024:.1f} KiB" if m.get("tm_per_stream") is not None else ""
        errs = f"; {m['n_errors']} errors e.g. {m['errors']}" if m.get("n_errors") else ""
        mem_lines.append(f"- {'raw AsyncOpenAI stream' if m['kind'] == 'raw-openai' else 'CascadeAgent.stream_events (2 models, optimistic)'}: "
                         f"{m['opened']}/{m['streams']} open, RSS {m['rss_per_stream'] / 1024:.1f} KiB/stream{tm} "
                         f"(all open in {m['open_s']:.1f} s){errs}")
        if m.get("top"):
            mem_lines.append("  - tracemalloc by file, per stream: " + "; ".join(m["top"][:6]))
    notes = [f"- ({k}) {v}" for k, v in CHECK.notes.items()]
    date = datetime.date.today().isoformat()
    out = "\n".join([
        f"Measured {date} on {machine()}; {n} one-word chunks per stream, {repeats} repeats (median / min); "
        f"1-minute load average {load0:.1f} before / {os.getloadavg()[0]:.1f} after the run "
        f"(other work on the machine makes wall times and the first-chunk times noisier than CPU times).",
        f"Versions: {versions()}.", "", rows, "", "Goals (medians):", *goals, "",
        f"Memory per concurrent stream ({n_streams} streams open at once, each past its first chunk):",
        *(mem_lines or ["- not measured"]), "", "Checks:", *(notes or ["- none"]),
        *(["", "Profile (cProfile, CPU-time clock, 3 streams each; share of profiled CPU time per layer):", *profile]
          if profile else []),
    ])
    print(out)
    if not (args.quick or args.no_write or only or args.chunks or args.repeats):
        write_readme(SECTION + "\n\n" + METHOD + "\n" + out + "\n")
        print(f"\nwrote the '{SECTION}' section of {os.path.relpath(README)}", file=sys.stderr)


METHOD = """\
`python bench/overhead.py` (`--quick` for a smoke run). A loopback server in its own process
(`bench/_server.py`, asyncio) streams 2,000 one-word chunks in the real OpenAI or Anthropic wire
format (built by `cascadeflow_integrations.replay.wire`: chunked SSE, one write per event,
keep-alive, usage at the end). In the client process each repeat measures CPU
(`time.process_time()`) and wall time (`time.perf_counter()`) around consuming the whole stream,
divided by the chunk count, and the wall time from the call to the first content chunk. After one
warm-up call per path, repeats run round-robin over the paths; clients and agents are built once
and reused. Ratios are to the floor of the same wire format ((a0) for OpenAI, (A0) for Anthropic).
Cascade paths use 2 models with the default validator, which accepts the draft (checked on the
first call), so only the draft model is called; in buffered mode the first chunk only arrives after
the whole draft was validated, so its time to first chunk is the full stream by design (the same
holds for (e): `ChatCascade` only offers buffered/guarded modes). "new TCP connections per call"
counts `loop.create_connection` calls during a measured call: 0 means the keep-alive connection was
reused; 1 means the client dropped the previous connection, so every call pays a new connect (a
TLS handshake against a real provider). The memory test opens the streams in waves of 50 (each
wave past its first chunk before the next) and measures RSS (`/proc/self/statm`) and, in a second
run, tracemalloc, after a warm-up, in a fresh child process per path. (0.1 connections per call on
the SDK paths is the pool's 5 s keep-alive expiry lapsing between two round-robin repeats.)
CPU per chunk depends on the machine's load: when the client is descheduled, several SSE events
arrive in one read and every path gets cheaper per chunk, the floor most, and one repeat that
shares a core with other work moves a median: one run's ratios swing by ±0.15x on this shared
2-core machine. The goals of issue 21 item 6 are therefore read over several runs ("Hot path" above).
"""


if __name__ == "__main__":
    main()
