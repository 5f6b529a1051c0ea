"""Cost as billed with prompt caching: an agent-shaped replay, cascade vs the strong model alone.

    .venv/bin/python bench/cache_cost.py --readme bench/README.md

Two agents, each with its own ~8,000-token system prompt and five tools, hold 4-turn conversations
of short questions, interleaved. The support agent's drafts are escalated on 10% of questions, the
coding agent's on 80%. The provider is the loopback replay server with a simulated prompt cache
(`replay.cache.PromptCache`): OpenAI-style automatic prefix caching (gpt-4o-mini -> gpt-4o) and
Anthropic breakpoints (claude-haiku-4-5 -> claude-sonnet-4-5, `cache_control=True`), so cache
hits appear as the providers report them, from the second call of a prefix on. Each run starts
with a cold provider cache. Measured per model pair:

* the replayed bill (usage reported by the server, priced here from the providers' published
  per-1M prices, independently of the library) against the sum of the results' `total_cost`;
* the strong model alone, the cascade without cache-aware routing, and with it
  (`CacheAwareRouting()`, the default): total, per agent, how often the rule sent a call direct.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import random
import re
import sys
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cascadeflow_integrations import CascadeAgent, ModelConfig  # noqa: E402
from cascadeflow_integrations.cache_cost import CacheAwareRouting  # noqa: E402
from cascadeflow_integrations.replay import ReplayServer  # noqa: E402
from cascadeflow_integrations.replay.cache import PromptCache  # noqa: E402

KEY = "sk-bench-not-a-real-key"
START, END = "<!-- cache_cost results start -->", "<!-- cache_cost results end -->"
#: USD per 1M tokens as the providers publish them: input, cache read, cache write, output
BILL = {
    "gpt-4o-mini": (0.15, 0.075, 0.15, 0.60),
    "gpt-4o": (2.50, 1.25, 2.50, 10.00),
    "claude-haiku-4-5": (1.00, 0.10, 1.25, 5.00),
    "claude-sonnet-4-5": (3.00, 0.30, 3.75, 15.00),
}
PAIRS = {"OpenAI (gpt-4o-mini -> gpt-4o)": ("openai", "gpt-4o-mini", "gpt-4o"),
         "Anthropic (claude-haiku-4-5 -> claude-sonnet-4-5)": ("anthropic", "claude-haiku-4-5", "claude-sonnet-4-5")}
AGENTS = {"support": 0.10, "coding": 0.80}  # share of questions whose draft is escalated
TURNS, DRAFT_OUT, STRONG_OUT = 4, 120, 150


def system_prompt(agent: str) -> str:
    rules = [f"Rule {i}: when the user asks about topic {i} of the {agent} handbook, answer from section {i}, "
             f"quote the relevant clause, never invent order numbers, and keep the reply under five sentences."
             for i in range(1, 190)]
    return f"You are the Acme {agent} agent.\n" + "\n".join(rules)


def tools(agent: str) -> list[dict[str, Any]]:
    return [{"name": f"{agent}_{n}", "description": f"{n.replace('_', ' ').capitalize()} for the {agent} agent.",
             "parameters": {"type": "object", "properties": {"id": {"type": "string"}, "note": {"type": "string"}},
                            "required": ["id"]}}
            for n in ("lookup_order", "open_ticket", "search_docs", "run_tests", "escalate_to_human")]


def conversations(n: int, seed: int = 7) -> list[tuple[str, list[str]]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        agent = list(AGENTS)[i % len(AGENTS)]
        qs = [f"Question {t + 1} of case {i}: what about item {rng.randint(1, 189)}?"
              + (" [hard]" if rng.random() < AGENTS[agent] else "") for t in range(TURNS)]
        out.append((agent, qs))
    return out


def answer(body: dict[str, Any], draft: str) -> tuple[str, int]:
    n = DRAFT_OUT if body.get("model") == draft else STRONG_OUT
    return " ".join(["word"] * n), n


def not_hard(request: Any, draft: Any) -> bool:
    return "[hard]" not in request.messages[-1].text  # the replay's ground truth: drafts fail on [hard]


async def run(style: str, draft: str, strong: str, mode: str, convs: list[tuple[str, list[str]]]) -> dict[str, Any]:
    server = ReplayServer().start()
    cache = PromptCache(style)
    billed: list[float] = []
    before: list[float] = []  # the same usage as this library priced it before: every prompt token at input

    def bill(body: dict[str, Any], u: Any, out: int) -> None:
        pin, pread, pwrite, pout = BILL[str(body["model"])]
        fresh = u.prompt_tokens - u.cache_read - u.cache_write
        billed.append((fresh * pin + u.cache_read * pread + u.cache_write * pwrite + out * pout) / 1e6)
        before.append((u.prompt_tokens * pin + out * pout) / 1e6)

    responder = cache.responder(lambda b: answer(b, draft), on_usage=bill)
    for m in (draft, strong):
        server.respond(m, responder)
    url = server.openai_url if style == "openai" else server.url
    extra = {"cache_control": True} if style == "anthropic" else {}
    cfgs = [ModelConfig(name=m, provider=style, base_url=url, api_key=KEY, max_retries=0, **extra)
            for m in (draft, strong)]
    routing = CacheAwareRouting() if mode == "aware" else False
    agent = CascadeAgent(cfgs[1:] if mode == "strong" else cfgs, validator=not_hard, cache_routing=routing)
    per_agent: dict[str, float] = {a: 0.0 for a in AGENTS}
    direct = {a: 0 for a in AGENTS}
    calls = {a: 0 for a in AGENTS}
    history: list[list[dict[str, Any]]] = [[{"role": "system", "content": system_prompt(a)}] for a, _ in convs]
    reported = 0.0
    for turn in range(TURNS):  # conversations interleave: turn t of every conversation, then turn t+1
        for c, (name, qs) in enumerate(convs):
            history[c].append({"role": "user", "content": qs[turn]})
            r = await agent.run(list(history[c]), tools=tools(name), max_tokens=400)
            history[c].append({"role": "assistant", "content": r.content})
            reported += r.total_cost or 0.0
            per_agent[name] += r.total_cost or 0.0
            calls[name] += 1
            direct[name] += mode == "aware" and r.strategy == "direct"
    await agent.aclose()
    server.stop()
    return {"billed": sum(billed), "before": sum(before), "reported": reported, "per_agent": per_agent, "direct": direct, "calls": calls,
            "requests": len(billed)}


def table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    rows = ["| model pair | run | requests | replayed bill | reported `total_cost` | difference | priced as before "
            "(cache ignored) | vs strong alone | support agent | coding agent | sent direct by the cache rule "
            "(support / coding) |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    names = {"strong": "strong model alone", "plain": "cascade, no cache routing", "aware": "cascade + cache routing"}
    for pair, runs in results.items():
        base = runs["strong"]["billed"]
        for mode, r in runs.items():
            d = r["direct"]
            sent = (f"{d['support']}/{r['calls']['support']} / {d['coding']}/{r['calls']['coding']}"
                    if mode == "aware" else "")
            rows.append(f"| {pair} | {names[mode]} | {r['requests']} | ${r['billed']:.4f} | ${r['reported']:.4f} | "
                        f"${abs(r['billed'] - r['reported']):.2e} | ${r['before']:.4f} | {100 * (r['billed'] / base - 1):+.1f}% | "
                        f"${r['per_agent']['support']:.4f} | ${r['per_agent']['coding']:.4f} | {sent} |")
    return "\n".join(rows)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readme", help="write the results into this README between the markers")
    ap.add_argument("--conversations", type=int, default=24)
    args = ap.parse_args()
    convs = conversations(args.conversations)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for pair, (style, draft, strong) in PAIRS.items():
        results[pair] = {mode: await run(style, draft, strong, mode, convs) for mode in ("strong", "plain", "aware")}
    for runs in results.values():
        for r in runs.values():
            assert round(r["billed"], 2) == round(r["reported"], 2), r  # to the cent
    hard = sum(q.endswith("[hard]") for _, qs in convs for q in qs)
    text = (table(results) + f"\n\n{args.conversations} conversations x {TURNS} turns ({hard} of "
            f"{args.conversations * TURNS} questions escalated), ~8,000-token system prompt + 5 tools per agent; "
            f"draft answers {DRAFT_OUT} tokens, strong {STRONG_OUT}. CPython {platform.python_version()}, "
            f"{datetime.date.today().isoformat()}.")
    print(text)
    if args.readme:
        with open(args.readme, encoding="utf-8") as f:
            doc = f.read()
        block = f"{START}\n{text}\n{END}"
        doc = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, doc, flags=re.S) \
            if START in doc else doc.rstrip() + "\n\n" + block + "\n"
        with open(args.readme, "w", encoding="utf-8") as f:
            f.write(doc)


if __name__ == "__main__":
    asyncio.run(main())
