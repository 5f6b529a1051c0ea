"""Time to first token of the adapters at a realistic pace, draft accepted and draft escalated.

    .venv/bin/python bench/ttft.py             # 5 repeats, updates bench/README.md
    .venv/bin/python bench/ttft.py --quick     # 2 repeats, prints only

The loopback server of `bench/overhead.py` (`bench/_server.py`, its own process) streams a
300-token answer (one token per SSE event) paced at 80 tokens/s (12.5 ms between events), for both
models of a 2-model cascade (gpt-4o-mini draft, gpt-4o strong). Each call measures, in the client:
the wall time from the call to the first content token in the consumer's hands (TTFT) and to the end
of the stream. Paths run round-robin, one call at a time, after one warm-up call each.

The cascades use the adapters' streaming modes (`buffered`, the default, and `guarded`): only
accepted text reaches the consumer, so a draft's tokens are held until it is validated. "accepted"
uses the default validator (it accepts this answer); "escalated" a validator that rejects every
draft (`lambda request, draft: False`), so the strong model streams after the whole draft.
The member alone is the same model called directly: the openai SDK stream for `ModelConfig`
members, `ChatOpenAI.astream` for `ChatOpenAI` members.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from overhead import (  # noqa: E402  (bench/ is not a package)
    CHEAP,
    KEY,
    MAX_TOKENS,
    QUERY,
    ROOT,
    STRONG,
    ServerProc,
    machine,
    make_a,
    make_c,
    versions,
    write_readme,
)

SECTION = "## Time to first token at a realistic pace"
TOKENS = 300
RATE = 80.0  # tokens per second

Run = Callable[[], Awaitable[tuple[float | None, int, str | None]]]  # (first-token time, tokens, model used)


def reject(request: Any, draft: Any) -> bool:
    """A validator that escalates every draft."""
    return False


def _configs(url: str) -> list[Any]:
    from cascadeflow_integrations import ModelConfig

    return [ModelConfig(name=CHEAP, provider="openai", base_url=url + "/v1", api_key=KEY, max_retries=0,
                        input_cost=0.00015, output_cost=0.0006),
            ModelConfig(name=STRONG, provider="openai", base_url=url + "/v1", api_key=KEY, max_retries=0,
                        input_cost=0.0025, output_cost=0.01)]


def _member_alone(make: Callable[[str], tuple[Any, Any]]) -> Callable[[str], tuple[Run, Any]]:
    def factory(url: str) -> tuple[Run, Any]:
        run, aclose = make(url)

        async def wrapped() -> tuple[float | None, int, str | None]:
            first, n = await run()
            return first, n, CHEAP

        return wrapped, aclose

    return factory


def make_chat_cascade(mode: str, escalate: bool, lc_members: bool = False) -> Callable[[str], tuple[Run, Any]]:
    def factory(url: str) -> tuple[Run, Any]:
        from cascadeflow_integrations.langchain import ChatCascade

        if lc_members:
            from langchain_openai import ChatOpenAI

            models: list[Any] = [ChatOpenAI(model=m, base_url=url + "/v1", api_key=KEY, max_retries=0,
                                            stream_usage=True) for m in (CHEAP, STRONG)]
        else:
            models = _configs(url)
        llm = ChatCascade(models=models, streaming_mode=mode, **({"validator": reject} if escalate else {}))
        perf = time.perf_counter

        async def run() -> tuple[float | None, int, str | None]:
            first, n, last = None, 0, None
            async for chunk in llm.astream(QUERY, max_tokens=MAX_TOKENS):
                if chunk.content:
                    if first is None:
                        first = perf()
                    n += 1
                last = chunk
            cascade = (last.response_metadata or {}).get("cascade", {}) if last is not None else {}
            return first, n, cascade.get("model_used")

        return run, None

    return factory


def make_cascade_llm(mode: str, escalate: bool) -> Callable[[str], tuple[Run, Any]]:
    def factory(url: str) -> tuple[Run, Any]:
        from llama_index.core.llms import ChatMessage

        from cascadeflow_integrations.llama_index import CascadeLLM

        llm = CascadeLLM(models=_configs(url), streaming_mode=mode, **({"validator": reject} if escalate else {}))
        messages = [ChatMessage(role="user", content=QUERY)]
        perf = time.perf_counter

        async def run() -> tuple[float | None, int, str | None]:
            first, n, last = None, 0, None
            async for r in await llm.astream_chat(messages, max_tokens=MAX_TOKENS):
                if r.delta:
                    if first is None:
                        first = perf()
                    n += 1
                last = r
            return first, n, (last.raw or {}).get("model") if last is not None else None

        return run, None

    return factory


#: (key, label, factory, the member-alone key it is compared with, expected model used)
PATHS: list[tuple[str, str, Callable[[str], tuple[Run, Any]], str, str]] = [
    ("m-sdk", "member alone: openai SDK stream (AsyncOpenAI)", _member_alone(make_a), "", CHEAP),
    ("m-lc", "member alone: ChatOpenAI.astream", _member_alone(make_c), "", CHEAP),
    ("lc-buf-acc", "ChatCascade.astream, buffered, accepted", make_chat_cascade("buffered", False), "m-sdk", CHEAP),
    ("lc-buf-esc", "ChatCascade.astream, buffered, escalated", make_chat_cascade("buffered", True), "m-sdk", STRONG),
    ("lc-grd-acc", "ChatCascade.astream, guarded, accepted", make_chat_cascade("guarded", False), "m-sdk", CHEAP),
    ("lc-grd-esc", "ChatCascade.astream, guarded, escalated", make_chat_cascade("guarded", True), "m-sdk", STRONG),
    ("lcm-buf-acc", "ChatCascade.astream over ChatOpenAI members, buffered, accepted",
     make_chat_cascade("buffered", False, lc_members=True), "m-lc", CHEAP),
    ("lcm-buf-esc", "ChatCascade.astream over ChatOpenAI members, buffered, escalated",
     make_chat_cascade("buffered", True, lc_members=True), "m-lc", STRONG),
    ("li-buf-acc", "CascadeLLM.astream_chat, buffered, accepted", make_cascade_llm("buffered", False), "m-sdk", CHEAP),
    ("li-buf-esc", "CascadeLLM.astream_chat, buffered, escalated", make_cascade_llm("buffered", True), "m-sdk", STRONG),
    ("li-grd-acc", "CascadeLLM.astream_chat, guarded, accepted", make_cascade_llm("guarded", False), "m-sdk", CHEAP),
    ("li-grd-esc", "CascadeLLM.astream_chat, guarded, escalated", make_cascade_llm("guarded", True), "m-sdk", STRONG),
]


@dataclass
class Case:
    key: str
    label: str
    run: Run
    aclose: Any
    base: str
    expect: str
    ttft: list[float] = field(default_factory=list)   # s
    total: list[float] = field(default_factory=list)  # s
    error: str | None = None


async def _measure(case: Case) -> None:
    t0 = time.perf_counter()
    first, n, model = await case.run()
    t1 = time.perf_counter()
    if n < TOKENS or first is None:
        raise RuntimeError(f"({case.key}) got {n} content chunks, expected {TOKENS}")
    if model != case.expect:
        raise RuntimeError(f"({case.key}) answered by {model!r}, expected {case.expect!r}")
    case.ttft.append(first - t0)
    case.total.append(t1 - t0)


async def bench(url: str, repeats: int, only: set[str] | None) -> list[Case]:
    cases: list[Case] = []
    for key, label, factory, base, expect in PATHS:
        if only and key not in only:
            continue
        case = Case(key, label, None, None, base, expect)  # type: ignore[arg-type]
        try:
            case.run, case.aclose = factory(url)
            await _measure(case)  # warm-up (imports, connections); also checks the model that answered
            case.ttft.clear(), case.total.clear()
        except Exception as exc:  # noqa: BLE001 - reported in the table
            case.error = f"{type(exc).__name__}: {exc}"[:300]
            print(f"  {key}: not measured: {case.error}", file=sys.stderr)
        cases.append(case)
    for r in range(repeats):
        for case in cases:
            if case.error is None:
                try:
                    await _measure(case)
                except Exception as exc:  # noqa: BLE001
                    case.error = f"{type(exc).__name__}: {exc}"[:300]
        print(f"  repeat {r + 1}/{repeats} done", file=sys.stderr)
    for case in cases:
        if case.aclose is not None:
            try:
                await case.aclose()
            except Exception:  # noqa: BLE001
                pass
    return cases


def table(cases: list[Case]) -> str:
    by = {c.key: c for c in cases}
    rows = ["| | path | model that answered | TTFT ms (median / min) | TTFT − member alone, ms (median) "
            "| TTFT ÷ member's whole answer | whole answer s (median) |",
            "|---|---|---|---|---|---|---|"]
    for c in cases:
        if c.error or not c.ttft:
            rows.append(f"| {c.key} | {c.label} | | not measured: {c.error} | | | |")
            continue
        t = statistics.median(c.ttft)
        base = by.get(c.base)
        added = share = ""
        if base is not None and base.ttft:
            added = f"{(t - statistics.median(base.ttft)) * 1e3:+.0f}"
            share = f"{t / statistics.median(base.total):.2f}"
        rows.append(f"| {c.key} | {c.label} | {c.expect} | {t * 1e3:.1f} / {min(c.ttft) * 1e3:.1f} | {added} "
                    f"| {share} | {statistics.median(c.total):.2f} |")
    return "\n".join(rows)


METHOD = f"""\
`python bench/ttft.py` (run by `make bench`). The loopback server of "Streaming overhead"
(`bench/_server.py`, its own process) streams a {TOKENS}-token answer, one token per SSE event, paced
at {RATE:.0f} tokens/s ({1e3 / RATE:.1f} ms between events; no extra delay before the first token), for
both models of a 2-model cascade. Each call measures the wall time from the call to the first content
token in the consumer's hands (TTFT) and to the end of the stream; paths run round-robin, one call at a
time, after one warm-up call each (which also checks which model answered). "accepted": the default
validator accepts the draft; "escalated": a validator that rejects every draft, so the strong model
streams after the draft. The member alone is the draft model called directly (the openai SDK stream for
`ModelConfig` members, `ChatOpenAI.astream` for `ChatOpenAI` members). The adapters stream only
accepted text (`buffered`, their default, and `guarded`), so today an accepted answer's first token
comes after the whole draft and an escalated one's after the whole draft plus the strong model's first
token: these are the numbers the next step (streaming accepted text earlier) is measured against.
(The rejecting validator here is a plain function, read at the end of the draft, so guarded mode has
nothing to abort early on: a guarded escalation costs the whole draft too.)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 repeats; does not touch bench/README.md")
    ap.add_argument("--repeats", type=int, help="measured repeats per path (default 5)")
    ap.add_argument("--only", help="comma-separated path keys (" + ",".join(p[0] for p in PATHS) + ")")
    ap.add_argument("--no-write", action="store_true", help="do not update bench/README.md")
    args = ap.parse_args()
    repeats = args.repeats or (2 if args.quick else 5)
    only = set(args.only.split(",")) if args.only else None
    load0 = os.getloadavg()[0]
    server = ServerProc(TOKENS, 1e6 / RATE)
    try:
        print(f"server pid {server.proc.pid} at {server.url}; {TOKENS} tokens at {RATE:.0f}/s, "
              f"{repeats} repeats", file=sys.stderr)
        cases = asyncio.run(bench(server.url, repeats, only))
    finally:
        server.stop()
    out = "\n".join([
        f"Measured {datetime.date.today().isoformat()} on {machine()}; {TOKENS} tokens at {RATE:.0f} tokens/s, "
        f"{repeats} repeats (median / min); 1-minute load average {load0:.1f} before / "
        f"{os.getloadavg()[0]:.1f} after the run (other work on the machine; at this pace the client is "
        f"mostly idle, so load moves these numbers by a few ms at most).",
        f"Versions: {versions()}.", "", table(cases)])
    print(out)
    if not (args.quick or args.no_write or only or args.repeats):
        write_readme(SECTION + "\n\n" + METHOD + "\n" + out + "\n", SECTION)
        print(f"\nwrote the '{SECTION}' section of {os.path.relpath(os.path.join(ROOT, 'bench', 'README.md'))}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
