"""Benchmark: progressive parsing of streamed tool-call arguments.

Arguments of ~1 KB, 10 KB, 100 KB and 1 MB (a realistic nested JSON object) are cut into 8-char
fragments; after every fragment the partial object is read. Compared: our `ProgressiveJSONParser`,
cascadeflow 1.2.0's `ProgressiveJSONParser`, `partial-json-parser` and `jiter` (both re-parse the
buffer on every fragment), and one `json.loads` of the whole text as the floor.

Second part: the engine's real path. A loopback replay server in its own process streams the same
arguments as an OpenAI tool call (one SSE event per fragment); `CascadeAgent.stream_events` runs
through the openai wire format and every event is kept in a list. Snapshots (`value`, today's code)
are compared in the same run with the previous behaviour, one live tree shared by every event
(`live`), and every kept partial is checked against the final value and the text seen.

Run: `.venv/bin/python bench/json_parse.py [--repeats 3] [--budget 20] [--readme bench/README.md]`.
Competitors that are not installed are reported as such. `--engine-only` skips the first part.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from cascadeflow_integrations.tools.json_stream import ProgressiveJSONParser

SIZES = [1_000, 10_000, 100_000, 1_000_000]
FRAGMENT = 8
WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "weather", "forecast", "paris", "tokyo", "invoice", "customer", "order", "shipping", "refund", "delayed", "package", "café", "naïve", "résumé", "東京", "données", "ünïcødé"]


def make_args(target: int, seed: int = 7) -> str:
    """A realistic tool-argument object of about `target` characters."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    doc: dict[str, Any] = {"query": "find matching orders", "limit": 50, "records": records}
    i = 0
    while len(json.dumps(doc, ensure_ascii=False)) < target:
        for _ in range(max(1, (target - len(json.dumps(doc, ensure_ascii=False))) // 400)):
            records.append(
                {
                    "id": f"ord_{i:06d}",
                    "customer": {"name": " ".join(rng.choices(WORDS, k=2)), "vip": rng.random() < 0.2},
                    "amount": round(rng.uniform(1, 5000), 2),
                    "quantity": rng.randint(1, 20),
                    "tags": rng.sample(WORDS, 3),
                    "note": " ".join(rng.choices(WORDS, k=rng.randint(3, 25))) + ' "quoted"\n',
                    "shipped": None if rng.random() < 0.3 else rng.random() < 0.5,
                    "score": rng.uniform(-1, 1) * 10 ** rng.randint(-3, 3),
                }
            )
            i += 1
    return json.dumps(doc, ensure_ascii=False)


def fragments(text: str) -> list[str]:
    return [text[i : i + FRAGMENT] for i in range(0, len(text), FRAGMENT)]


# Each runner streams the fragments, reading the partial value after each, and returns the final.


Observer = Callable[[Any], None]


def _ignore(_: Any) -> None:
    pass


def run_ours(frags: list[str], see: Observer = _ignore) -> Any:
    p = ProgressiveJSONParser()
    for f in frags:
        p.feed(f)
        see(p.value)
    return p.finish()


def run_ours_kept(frags: list[str], see: Observer = _ignore) -> Any:
    p = ProgressiveJSONParser()
    kept = []
    for f in frags:
        p.feed(f)
        v = p.value
        kept.append(v)
        see(v)
    return p.finish()


def run_ours_live(frags: list[str], see: Observer = _ignore) -> Any:
    p = ProgressiveJSONParser()
    for f in frags:
        p.feed(f)
        see(p.live)
    return p.finish()


def run_cascadeflow(frags: list[str], see: Observer = _ignore) -> Any:
    from cascadeflow.streaming.utils import ProgressiveJSONParser as Ref

    p = Ref()
    buf = ""
    r: Any = None
    for f in frags:
        buf += f
        r = p.parse(buf).data
        see(r)
    return r


def run_partial_json_parser(frags: list[str], see: Observer = _ignore) -> Any:
    from partial_json_parser import loads

    buf = ""
    r: Any = None
    for f in frags:
        buf += f
        try:
            r = loads(buf)
        except Exception:  # some prefixes (e.g. "-") are rejected; keep going like a real consumer
            pass
        see(r)
    return r


def run_jiter(frags: list[str], see: Observer = _ignore) -> Any:
    import jiter

    buf = ""
    r: Any = None
    for f in frags:
        buf += f
        try:
            r = jiter.from_json(buf.encode(), partial_mode="trailing-strings")
        except ValueError:
            pass
        see(r)
    return r


def run_json_loads_once(frags: list[str], see: Observer = _ignore) -> Any:
    return json.loads("".join(frags))


def consistent(partial: Any, final: Any) -> bool:
    """Is a partial view a 'prefix' of the final value (no wrong, flattened or changing data)?"""
    if partial is None:
        return True  # nothing shown yet
    if isinstance(final, dict):
        return isinstance(partial, dict) and all(k in final and consistent(v, final[k]) for k, v in partial.items())
    if isinstance(final, list):
        return (
            isinstance(partial, list)
            and len(partial) <= len(final)
            and all(consistent(v, f) for v, f in zip(partial, final))
        )
    if isinstance(final, str):
        return isinstance(partial, str) and final.startswith(partial)
    return type(partial) is type(final) and partial == final


def partials_ok(fn: Callable[..., Any], text: str) -> str:
    """Check every partial view while streaming `text`; report the first bad one."""
    final = json.loads(text)
    seen: list[int] = [0]
    bad: list[str] = []

    def see(v: Any) -> None:
        seen[0] += 1
        if not bad and not consistent(v, final):
            bad.append(f"no (first at char {seen[0] * FRAGMENT})")

    fn(fragments(text), see)
    return bad[0] if bad else "yes"


RUNNERS: list[tuple[str, Callable[..., Any], str]] = [
    ("cascadeflow_integrations (`value`: snapshots)", run_ours, ""),
    ("cascadeflow_integrations, every snapshot kept", run_ours_kept, ""),
    ("cascadeflow_integrations `live` tree (before snapshots)", run_ours_live, ""),
    ("cascadeflow 1.2.0", run_cascadeflow, "cascadeflow"),
    ("partial-json-parser", run_partial_json_parser, "partial_json_parser"),
    ("jiter (re-parse)", run_jiter, "jiter"),
    ("json.loads once (floor)", run_json_loads_once, ""),
]


def available(module: str) -> bool:
    if not module:
        return True
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def fmt_time(s: float) -> str:
    return f"{s * 1000:.2f} ms" if s < 1 else f"{s:.2f} s"



# ---------------------------------------------------------------------------- the engine's real path

TOOL = {"name": "find_orders", "description": "Find orders",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}
MODEL = "gpt-4o-mini"


def serve() -> None:
    """Child process: a replay server streaming each size's arguments; prints its URL, runs until stdin closes."""
    from cascadeflow_integrations.replay import Reply, ReplayServer
    from cascadeflow_integrations.replay.wire import openai_stream

    server = ReplayServer().start()
    for n in SIZES:
        events = openai_stream(MODEL, [], tool_calls=[("call_1", "find_orders", make_args(n))], fragment=FRAGMENT)
        server.add(MODEL, Reply(events=events), match=f"size {n} ", repeat=True)
    print(server.openai_url, flush=True)
    sys.stdin.read()
    server.stop()


def _agents(url: str) -> dict[str, Any]:
    from cascadeflow_integrations import CascadeAgent, ModelConfig

    class LiveParser(ProgressiveJSONParser):
        """The behaviour before snapshots: every event's `arguments` is the one live tree."""

        __slots__ = ()
        value = ProgressiveJSONParser.live  # type: ignore[assignment]

    class LiveAgent(CascadeAgent):
        @staticmethod
        def json_parser() -> Any:
            return LiveParser()

    cfg = ModelConfig(name=MODEL, provider="openai", base_url=url, api_key="sk-bench-not-a-real-key", max_retries=0)
    return {"live tree (before)": LiveAgent([cfg]), "snapshots (now)": CascadeAgent([cfg])}


def _prefix_of(partial: Any, final: Any, seen: dict[tuple[int, int], bool]) -> bool:
    """`partial` holds no data that `final` lacks (memoised by identity: snapshots share closed parts)."""
    key = (id(partial), id(final))
    got = seen.get(key)
    if got is not None:
        return got
    if partial is None:
        ok = True
    elif isinstance(final, dict):
        ok = isinstance(partial, dict) and all(k in final and _prefix_of(v, final[k], seen) for k, v in partial.items())
    elif isinstance(final, list):
        ok = (isinstance(partial, list) and len(partial) <= len(final)
              and all(_prefix_of(v, f, seen) for v, f in zip(partial, final)))
    elif isinstance(final, str):
        ok = isinstance(partial, str) and final.startswith(partial)
    else:
        ok = type(partial) is type(final) and partial == final
    seen[key] = ok
    return ok


def check_events(events: list[Any], text: str, samples: int = 20) -> str:
    """Every kept partial consistent with the final value, and (sampled) not ahead of the text it had seen."""
    from cascadeflow_integrations.streaming import ToolStreamEventType as T

    final = json.loads(text)
    deltas = [e for e in events if e.type is T.TOOL_CALL_DELTA]
    done = [e for e in events if e.type is T.TOOL_CALL_COMPLETE]
    if "".join(e.delta for e in deltas) != text or len(done) != 1 or done[0].data["tool_call"]["arguments"] != final:
        return "**wrong final**"
    memo: dict[tuple[int, int], bool] = {}
    bad = next((i for i, e in enumerate(deltas) if not _prefix_of(e.data["arguments"], final, memo)), None)
    if bad is not None:
        return f"**no** (event {bad} not a prefix of the final value)"
    # The exact partial at sampled events, from an independent parser fed the same fragments.
    ref = ProgressiveJSONParser()
    step = max(1, len(deltas) // samples)
    lag = 0.0
    for i, e in enumerate(deltas):
        ref.feed(e.delta)
        if i % step == 0 or i == len(deltas) - 1:
            exact = json.loads(json.dumps(ref.live))
            if not _prefix_of(e.data["arguments"], exact, {}):
                return f"**no** (event {i} shows text not yet streamed)"
            shown = len(json.dumps(e.data["arguments"]))
            lag = max(lag, 1 - shown / max(len(json.dumps(exact)), 1))
    return f"yes (max lag {lag:.1%} of the serialised partial)"


async def _engine_run(agent: Any, n: int) -> tuple[float, float, list[Any]]:
    t0, c0 = time.perf_counter(), time.process_time()
    events = [e async for e in agent.stream_events(f"size {n} orders", tools=[TOOL])]
    return time.process_time() - c0, time.perf_counter() - t0, events


async def engine_bench(url: str, repeats: int, texts: dict[int, str]) -> list[dict[str, Any]]:
    agents = _agents(url)
    rows: list[dict[str, Any]] = []
    for n in SIZES:
        for agent in agents.values():  # warm-up: connection, imports
            await _engine_run(agent, SIZES[0])
        cpu: dict[str, list[float]] = {k: [] for k in agents}
        wall: dict[str, list[float]] = {k: [] for k in agents}
        checks: dict[str, str] = {}
        for r in range(repeats):  # round-robin, so load changes hit both alike
            for name, agent in agents.items():
                c, w, events = await _engine_run(agent, n)
                cpu[name].append(c)
                wall[name].append(w)
                if r == 0:
                    checks[name] = check_events(events, texts[n])
                del events
        rows.append({"n": n, "cpu": {k: statistics.median(v) for k, v in cpu.items()},
                     "wall": {k: statistics.median(v) for k, v in wall.items()}, "checks": checks,
                     "events": len(fragments(texts[n]))})
    return rows


def engine_table(rows: list[dict[str, Any]], texts: dict[int, str]) -> str:
    before, now = "live tree (before)", "snapshots (now)"
    header = ["arguments", "events kept", "CPU before (live tree)", "CPU now (snapshots)", "now / before (CPU)",
              "wall before / now", "partials consistent, before", "partials consistent, now"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        size = f"{len(texts[r['n']]) / 1000:.0f} KB" if r["n"] < 1_000_000 else f"{len(texts[r['n']]) / 1e6:.1f} MB"
        lines.append("| " + " | ".join([
            size, f"{r['events']:,}", fmt_time(r["cpu"][before]), fmt_time(r["cpu"][now]),
            f"{r['cpu'][now] / r['cpu'][before]:.2f}x",
            f"{fmt_time(r['wall'][before])} / {fmt_time(r['wall'][now])}",
            r["checks"][before], r["checks"][now]]) + " |")
    big = rows[-1]
    ratio = big["cpu"][now] / big["cpu"][before]
    lines.append("")
    lines.append(f"Goal: the {SIZES[-1] // 1_000_000} MB case within 1.5x of before (CPU, median): {ratio:.2f}x, "
                 + ("**met**" if ratio <= 1.5 else "**not met**") + ".")
    return "\n".join(lines)


def run_engine(repeats: int, texts: dict[int, str]) -> str:
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        rows = asyncio.run(engine_bench(url, repeats, texts))
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)
    return engine_table(rows, texts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget", type=float, default=20.0, help="skip a size predicted to exceed this (s)")
    ap.add_argument("--readme", default=None, help="rewrite this README's results section")
    ap.add_argument("--engine-only", action="store_true", help="only the engine's real path")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the server child process
    a = ap.parse_args()
    if a.serve:
        serve()
        return

    texts = {n: make_args(n) for n in SIZES}
    rows: list[list[str]] = []
    for name, fn, module in [] if a.engine_only else RUNNERS:
        if not available(module):
            rows.append([name] + ["not installed"] * len(SIZES) + ["", "", ""])
            continue
        cells: list[str] = []
        times: list[float] = []
        ok = True
        prev: float | None = None
        skipping = False
        for n in SIZES:
            text = texts[n]
            frags = fragments(text)
            # Predict from the previous size and the exponent so far (at least linear).
            if prev is not None:
                k = math.log10(times[-1] / times[-2]) if len(times) >= 2 else 1.0
                predicted = prev * 10 ** max(k, 1.0)
                if skipping or predicted > a.budget:
                    cells.append(f"skipped (est. {fmt_time(predicted)})")
                    skipping = True
                    prev = predicted  # chain the estimate to the next size
                    continue
            samples = []
            result: Any = None
            reps = a.repeats if (prev or 0) * 10 < a.budget / a.repeats else 1
            for _ in range(reps):
                t0 = time.perf_counter()
                result = fn(frags)
                samples.append(time.perf_counter() - t0)
            t = statistics.median(samples)
            ok = ok and result == json.loads(text)
            times.append(t)
            prev = t
            cells.append(fmt_time(t))
        exps = [math.log10(times[i + 1] / times[i]) for i in range(len(times) - 1)]
        partial = partials_ok(fn, texts[SIZES[0]]) if fn is not run_json_loads_once else "n/a"
        rows.append([name] + cells + [", ".join(f"{e:.2f}" for e in exps), "yes" if ok else "**no**", partial])

    sizes_hdr = [f"{len(texts[n]) / 1000:.0f} KB" if n < 1_000_000 else f"{len(texts[n]) / 1e6:.1f} MB" for n in SIZES]
    header = ["parser"] + sizes_hdr + ["growth exponent per 10x", "final == json.loads", "partials consistent (1 KB)"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
    machine = (
        f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} cores; fragment {FRAGMENT} chars, partial read after each; "
        f"median of {a.repeats} runs; sizes predicted to exceed {a.budget:.0f} s skipped; "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    table = "\n".join(lines)
    if not a.engine_only:
        print(table)
        print()
        print(machine)
        if a.readme:
            write_readme(a.readme, table, machine, "json_parse results")
    engine = run_engine(a.repeats, texts)
    engine_machine = (
        f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} cores; one SSE event per {FRAGMENT}-char fragment; client CPU "
        f"(`time.process_time()`) and wall time per stream, median of {a.repeats} round-robin runs; "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    print()
    print(engine)
    print()
    print(engine_machine)
    if a.readme:
        write_readme(a.readme, engine, engine_machine, "json_parse engine results")


def write_readme(path: str, table: str, machine: str, block: str) -> None:
    """Replace a results block between its markers in README's JSON section."""
    start, end = f"<!-- {block} start -->", f"<!-- {block} end -->"
    text = open(path, encoding="utf-8").read()
    a, b = text.index(start) + len(start), text.index(end)
    text = text[:a] + "\n" + table + "\n\n" + machine + "\n" + text[b:]
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
