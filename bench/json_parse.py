"""Benchmark: progressive parsing of streamed tool-call arguments.

Arguments of ~1 KB, 10 KB, 100 KB and 1 MB (a realistic nested JSON object) are cut into 8-char
fragments; after every fragment the partial object is read. Compared: our `ProgressiveJSONParser`,
cascadeflow 1.2.0's `ProgressiveJSONParser`, `partial-json-parser` and `jiter` (both re-parse the
buffer on every fragment), and one `json.loads` of the whole text as the floor.

Run: `.venv/bin/python bench/json_parse.py [--repeats 3] [--budget 20] [--readme bench/README.md]`.
Competitors that are not installed are reported as such.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
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
    ("cascadeflow_integrations", run_ours, ""),
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget", type=float, default=20.0, help="skip a size predicted to exceed this (s)")
    ap.add_argument("--readme", default=None, help="rewrite this README's results section")
    a = ap.parse_args()

    texts = {n: make_args(n) for n in SIZES}
    rows: list[list[str]] = []
    for name, fn, module in RUNNERS:
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
    print(table)
    print()
    print(machine)
    if a.readme:
        write_readme(a.readme, table, machine)


def write_readme(path: str, table: str, machine: str) -> None:
    """Replace the results block between the markers in README's JSON section."""
    start, end = "<!-- json_parse results start -->", "<!-- json_parse results end -->"
    text = open(path, encoding="utf-8").read()
    a, b = text.index(start) + len(start), text.index(end)
    text = text[:a] + "\n" + table + "\n\n" + machine + "\n" + text[b:]
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
