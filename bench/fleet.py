"""A fleet on one machine: several processes run concurrent cascades sharing one budget and one log on Redis.

    .venv/bin/python bench/fleet.py                    # full run, updates bench/README.md
    .venv/bin/python bench/fleet.py --quick            # smoke run, prints only

Each worker process runs cascades through the real openai SDK against the loopback LLM server
(`bench/_server.py`, its own process), `C` at a time, with `Budget(on_exceed="refuse")` on a
`RedisStore` shared by every worker, and appends one decision row per call to the store's log.
A third of the drafts are rejected (by request index), so both models are paid for. Measured:

* budget overshoot: settled spend above the limit at the end (and calls refused);
* calls per second, all workers together: budget + log on Redis, against the in-memory budget
  (one per process, so not shared), and against no budget and no log;
* decision-log rows lost: rows appended against rows in the Redis stream at the end, with Redis up,
  and with Redis killed for `--outage` seconds in the middle of a run (budget fails open then; a
  small writer queue so drops happen): lost rows must equal the counted drops;
* OpenTelemetry cost per call, one process, sequential calls: without the package, with the API and
  no tracer provider (the no-op), with the SDK and a `BatchSpanProcessor` (exporting to a sink that
  discards, so the exporter's own cost is not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

README = os.path.join(ROOT, "bench", "README.md")
SECTION = "## Fleet: budgets, decision log and traces on Redis"
CHEAP, STRONG = "gpt-4o-mini", "gpt-4o"
QUERY = "Summarise the history of Paris in one paragraph."
MAX_TOKENS = 64


# ---- the worker -------------------------------------------------------------------------------


async def worker(args: argparse.Namespace) -> dict[str, Any]:
    from cascadeflow_integrations import CascadeAgent, ModelConfig
    from cascadeflow_integrations.budget import Budget, BudgetExceededError

    models = [ModelConfig(name=CHEAP, base_url=args.server + "/v1", api_key="sk-bench-not-a-real-key", max_retries=0,
                          input_cost=0.00015, output_cost=0.0006),
              ModelConfig(name=STRONG, base_url=args.server + "/v1", api_key="sk-bench-not-a-real-key", max_retries=0,
                          input_cost=0.0025, output_cost=0.01)]
    store = None
    if args.store == "redis":
        from cascadeflow_integrations.stores import RedisStore

        store = RedisStore(args.redis, timeout=0.5, max_queue=args.max_queue)
    budget = None if args.store == "none" else Budget(args.limit, on_exceed="refuse", timeout=1.0, store=store)
    counter = iter(range(1 << 30))

    def validator(request: Any, draft: Any) -> bool:
        return next(counter) % 3 != 0

    # With the log, the store is the agent's: it logs every call there itself (one row per call).
    agent = CascadeAgent(models, budget=budget, store=store if args.log else None, validator=validator)
    costs: list[float] = []
    refused = appended = 0

    async def one(i: int, warm: bool = False) -> None:
        nonlocal refused, appended
        key = None if budget is None else ("warm-up" if warm else "fleet")
        try:
            r = await agent.run(QUERY, max_tokens=MAX_TOKENS, budget_key=key)
        except BudgetExceededError:
            refused += 1
            return
        if store is not None and args.log:
            appended += 1  # the agent logged it (the warm-up call too: its row is in the stream)
        if not warm:
            costs.append(r.total_cost)

    sem = asyncio.Semaphore(args.concurrency)

    async def limited(i: int) -> None:
        async with sem:
            await one(i)

    await one(-1, warm=True)  # connections, imports: not counted, on its own budget key
    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(limited(i) for i in range(args.calls)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    await agent.aclose()  # drains the agent's log into the store
    dropped = 0
    if store is not None:
        await store.aclose()  # drains the store's queue into Redis (retrying up to close_timeout)
        if args.log:
            dropped = agent._learner.log.stats.dropped  # the logger's own drops and the store's

    return {"wall": wall, "cpu": cpu, "costs": costs, "refused": refused, "appended": appended, "dropped": dropped}


async def otel_worker(args: argparse.Namespace) -> dict[str, Any]:
    if args.otel == "absent":
        sys.modules["opentelemetry"] = None  # type: ignore[assignment]
    elif args.otel == "batch":
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        class Discard(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Discard()))
        trace.set_tracer_provider(provider)
    else:
        import opentelemetry.trace  # noqa: F401  (the API, no provider: the no-op)
    from cascadeflow_integrations import CascadeAgent, ModelConfig

    models = [ModelConfig(name=n, base_url=args.server + "/v1", api_key="sk-bench-not-a-real-key", max_retries=0,
                          cost=0.001) for n in (CHEAP, STRONG)]
    agent = CascadeAgent(models, validator=lambda r, d: True)
    for _ in range(20):
        await agent.run(QUERY, max_tokens=MAX_TOKENS)
    cpu, wall = [], []
    for _ in range(args.calls):
        c0, w0 = time.process_time(), time.perf_counter()
        await agent.run(QUERY, max_tokens=MAX_TOKENS)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    await agent.aclose()
    # what the tracing hook itself costs per call, measured alone (the per-call numbers above are noisy)
    import timeit

    from cascadeflow_integrations.otel import start_call

    def hook() -> None:
        tr = start_call(False)
        if tr is not None:
            tr.start([], _Opts)
            tr.end()

    n = 20_000
    hook_us = min(timeit.repeat(hook, number=n, repeat=5)) / n * 1e6
    return {"cpu_us": statistics.median(cpu) * 1e6, "wall_us": statistics.median(wall) * 1e6, "hook_us": hook_us}


class _Opts:
    """The options a call span reads, for timing the hook alone."""

    class mode:
        value = "buffered"

    max_tokens = MAX_TOKENS
    temperature = 0.7


# ---- the parent -------------------------------------------------------------------------------


class Server:
    def __init__(self, words: int) -> None:
        self.proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "bench", "_server.py"), "--words", str(words)],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"bench server failed to start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def run_workers(n: int, extra: list[str], server: str, during: Any = None) -> list[dict[str, Any]]:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--server", server, *extra]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    if during is not None:
        during()
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (_, err) in zip(procs, outs):
        if p.returncode != 0:
            raise RuntimeError(f"worker failed: {err[-3000:]}")
    return [json.loads(o.strip().splitlines()[-1]) for o, _ in outs]


def redis_count(url: str, key: str) -> int:
    import redis

    with redis.Redis.from_url(url) as r:
        return int(r.xlen(key))


def redis_ids(url: str, key: str) -> tuple[int, int]:
    """(distinct request ids, entries) in a log stream: a write retried after a lost reply repeats a row."""
    import redis

    ids: set[bytes] = set()
    entries = 0
    with redis.Redis.from_url(url) as r:
        for _, fields in r.xrange(key):
            ids.add(fields[b"id"])
            entries += 1
    return len(ids), entries


def redis_spent(url: str) -> tuple[float, float]:
    import redis

    with redis.Redis.from_url(url) as r:
        spent, reserved = r.hmget("cascadeflow:budget:{fleet}", ["spent", "reserved"])
        return int(spent or 0) / 1e9, int(reserved or 0) / 1e9


def flush(url: str) -> None:
    import redis

    with redis.Redis.from_url(url) as r:
        r.flushall()


def fleet(args: argparse.Namespace, server: str, redis_srv: Any) -> dict[str, Any]:
    from cascadeflow_integrations.budget import Budget
    from cascadeflow_integrations.config import ModelConfig
    from cascadeflow_integrations.messages import to_messages

    models = [ModelConfig(name=CHEAP, input_cost=0.00015, output_cost=0.0006),
              ModelConfig(name=STRONG, input_cost=0.0025, output_cost=0.01)]
    per_call = Budget(1).worst_case_usd(models, to_messages(QUERY, None), None, MAX_TOKENS)
    total = args.procs * args.calls
    out: dict[str, Any] = {"procs": args.procs, "calls": args.calls, "concurrency": args.concurrency,
                           "per_call_reserve": per_call}
    common = ["--calls", str(args.calls), "--concurrency", str(args.concurrency), "--redis", redis_srv.url]

    # 1. shared budget + log on Redis; the limit is 10% of the calls' worst cases (real costs are about
    #    15% of the worst case here, so most calls, not all, fit)
    flush(redis_srv.url)
    limit = per_call * total * 0.1
    t0 = time.perf_counter()
    res = run_workers(args.procs, [*common, "--store", "redis", "--log", "--limit", str(limit)], server)
    wall = time.perf_counter() - t0
    spent, reserved = redis_spent(redis_srv.url)
    costs = [c for r in res for c in r["costs"]]
    out["redis"] = {"limit": limit, "spent": spent, "reserved_left": reserved, "sum_costs": sum(costs),
                    "overshoot": max(0.0, spent - limit), "answered": len(costs),
                    "refused": sum(r["refused"] for r in res), "calls_per_s": len(costs) / max(r["wall"] for r in res),
                    "appended": sum(r["appended"] for r in res), "dropped": sum(r["dropped"] for r in res),
                    "in_stream": redis_count(redis_srv.url, "cascadeflow:log"), "wall_total": wall}

    # 2. the same with an unlimited budget (every call answered): Redis vs in-memory vs none, interleaved
    #    repeats (the machine is shared), median calls/s
    rates: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for name, extra in (("redis_unlimited", ["--store", "redis", "--log", "--limit", "1e9"]),
                            ("memory", ["--store", "memory", "--limit", "1e9"]),
                            ("none", ["--store", "none"])):
            flush(redis_srv.url)
            res = run_workers(args.procs, [*common, *extra], server)
            n = sum(len(r["costs"]) for r in res)
            rates.setdefault(name, []).append(n / max(r["wall"] for r in res))
            cpus.setdefault(name, []).append(sum(r["cpu"] for r in res) / n * 1e6)
            out[name] = {"answered": n, "appended": sum(r["appended"] for r in res),
                         "dropped": sum(r["dropped"] for r in res)}
            if name == "redis_unlimited":
                out[name]["in_stream"] = redis_count(redis_srv.url, "cascadeflow:log")
    for name, rs in rates.items():
        out[name]["calls_per_s"] = statistics.median(rs)
        out[name]["cpu_us"] = statistics.median(cpus[name])
    out["rates_runs"] = rates["none"]

    # 3. Redis killed mid-run: the budget fails open, the log queues (a small queue, so it overflows)
    flush(redis_srv.url)

    def outage() -> None:
        # kill Redis once a fifth of the rows are in (workers start at different times on a busy machine)
        deadline = time.monotonic() + 120
        while redis_count(redis_srv.url, "cascadeflow:log") < total // 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        redis_srv.stop()
        time.sleep(args.outage)
        redis_srv.start()

    res = run_workers(args.procs, [*common, "--store", "redis", "--log", "--limit", "1e9", "--max-queue", "50"],
                      server, during=outage)
    appended = sum(r["appended"] for r in res)
    dropped_after_accept = sum(r["dropped"] for r in res)
    answered = sum(len(r["costs"]) for r in res)
    distinct, entries = redis_ids(redis_srv.url, "cascadeflow:log")
    out["outage"] = {"seconds": args.outage, "answered": answered, "queued": appended,
                     "dropped_counted": dropped_after_accept, "in_stream": distinct, "repeated": entries - distinct,
                     "missing": appended - distinct,
                     "lost_uncounted": max(0, appended - distinct - dropped_after_accept)}
    return out


def otel(args: argparse.Namespace, server: str) -> dict[str, Any]:
    res: dict[str, Any] = {}
    for mode in ("absent", "noop", "batch"):
        runs = []
        for _ in range(args.repeats):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--otel-worker", mode, "--server", server,
                                  "--calls", str(args.otel_calls)], capture_output=True, text=True, timeout=900)
            if out.returncode != 0:
                raise RuntimeError(out.stderr[-3000:])
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        res[mode] = {"cpu_us": statistics.median(r["cpu_us"] for r in runs),
                     "wall_us": statistics.median(r["wall_us"] for r in runs),
                     "hook_us": min(r["hook_us"] for r in runs)}
    return res


def table(f: dict[str, Any], o: dict[str, Any], env: str) -> str:
    r, ru, m, n, out = f["redis"], f["redis_unlimited"], f["memory"], f["none"], f["outage"]
    lines = [
        f"{f['procs']} processes x {f['calls']} calls, {f['concurrency']} concurrent per process; "
        f"worst case reserved per call ${f['per_call_reserve']:.6f}.",
        "",
        "| measure | result |",
        "|---|---|",
        f"| budget: limit / settled spend / overshoot | ${r['limit']:.6f} / ${r['spent']:.6f} / "
        f"**${r['overshoot']:.6f}** ({r['answered']} answered, {r['refused']} refused; "
        f"spend = sum of results' costs: {'yes' if abs(r['spent'] - r['sum_costs']) < 1e-9 else 'no'}; "
        f"left reserved: ${r['reserved_left']:.6f}) |",
        f"| calls/s (worker CPU per call), budget + log on Redis (shared) | {ru['calls_per_s']:.0f} "
        f"(**{ru['calls_per_s'] / n['calls_per_s']:.2f}x** no budget; {ru['cpu_us']:.0f} µs, "
        f"{ru['cpu_us'] / n['cpu_us']:.2f}x) |",
        f"| calls/s (worker CPU per call), in-memory budget (per process) | {m['calls_per_s']:.0f} "
        f"({m['calls_per_s'] / n['calls_per_s']:.2f}x no budget; {m['cpu_us']:.0f} µs, "
        f"{m['cpu_us'] / n['cpu_us']:.2f}x) |",
        f"| calls/s (worker CPU per call), no budget, no log | {n['calls_per_s']:.0f} ({n['cpu_us']:.0f} µs) |",
        f"| log rows lost, Redis up | {ru['appended'] - ru['in_stream']} of {ru['appended']} "
        f"(and {r['appended'] - r['in_stream']} of {r['appended']} in the budget run) |",
        f"| Redis killed for {out['seconds']:.0f} s mid-run (writer queue of 50) | {out['answered']} answered "
        f"(budget failed open), {out['queued']} rows logged (warm-up calls included); {out['in_stream']} distinct rows in the stream ({out['repeated']} repeated by "
        f"retried writes, removed on read); {out['missing']} missing, {out['dropped_counted']} drops counted: "
        f"**{out['lost_uncounted']} lost uncounted** |",
        "",
        f"Calls/s: median of {len(f['rates_runs'])} interleaved runs. OpenTelemetry, one process, sequential "
        "cascade calls (median per call, median of the runs' medians):",
        "",
        "| tracing | CPU per call | wall per call | CPU vs no OpenTelemetry | call span alone (start + end, no model spans) |",
        "|---|---|---|---|---|",
    ]
    base = o["absent"]["cpu_us"]
    for mode, label in (("absent", "package not installed"), ("noop", "API, no tracer provider (no-op)"),
                        ("batch", "SDK, BatchSpanProcessor")):
        lines.append(f"| {label} | {o[mode]['cpu_us']:.0f} µs | {o[mode]['wall_us']:.0f} µs | "
                     f"{o[mode]['cpu_us'] / base:.2f}x | {o[mode]['hook_us']:.2f} µs |")
    lines += ["", env]
    return "\n".join(lines)


def update_readme(body: str) -> None:
    start, end = "<!-- fleet results start -->", "<!-- fleet results end -->"
    text = open(README, encoding="utf-8").read()
    block = f"{start}\n{body}\n{end}"
    if text.count(start) > 1:  # replacing each would keep the copies: have them merged by hand first
        raise SystemExit(f"{README} holds {text.count(start)} fleet result blocks: keep one, then rerun")
    if start in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, count=1, flags=re.S)
    else:
        text = text.rstrip() + f"\n\n{SECTION}\n\n{block}\n"
    open(README, "w", encoding="utf-8").write(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--calls", type=int, default=400)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--outage", type=float, default=2.0)
    ap.add_argument("--otel-calls", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=3)
    # worker-only options
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--otel-worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--server", default="")
    ap.add_argument("--redis", default="")
    ap.add_argument("--store", default="redis")
    ap.add_argument("--log", action="store_true")
    ap.add_argument("--limit", type=float, default=1.0)
    ap.add_argument("--max-queue", type=int, default=10_000)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(asyncio.run(worker(args))))
        return
    if args.otel_worker:
        args.otel = args.otel_worker
        print(json.dumps(asyncio.run(otel_worker(args))))
        return
    if args.quick:
        args.procs, args.calls, args.otel_calls, args.repeats = 2, 60, 60, 1

    from redis_helpers import RedisServer

    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("bench/fleet.py needs redis-server: apt-get update && apt-get install -y redis-server")
    server = Server(words=20)
    redis_srv = RedisServer(binary).start()
    try:
        f = fleet(args, server.url, redis_srv)
        o = otel(args, server.url)
    finally:
        redis_srv.close()
        server.stop()
    from importlib import metadata

    env = (f"CPython {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores shared with the "
           f"server and redis-server {subprocess.run([binary, '--version'], capture_output=True, text=True).stdout.split()[2][2:]}"
           f" (appendonly, appendfsync always); redis-py {metadata.version('redis')}, opentelemetry-sdk "
           f"{metadata.version('opentelemetry-sdk')}; load average {os.getloadavg()[0]:.1f} at the end; "
           f"{datetime.date.today().isoformat()}")
    body = table(f, o, env)
    print(body)
    print(json.dumps({"fleet": f, "otel": o}, indent=1), file=sys.stderr)
    if not args.quick:
        update_readme(body)


if __name__ == "__main__":
    main()
