"""`make demo`: the cascade streaming and deciding, offline by default.

Offline, the real SDKs and the real engine talk over loopback HTTP to a replay server that sends
recorded provider responses at a live-like pace. `--live` runs the same scenarios against OpenAI.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TextIO

from pydantic import SecretStr

from .. import CascadeAgent, ModelConfig
from ..replay import ReplayServer
from ..result import CascadeResult
from . import recordings as rec
from .view import PlainView, ScenarioState, make_view, shown_checks


@dataclass
class Row:
    scenario: str
    model_used: str
    cost: float
    baseline: float
    latency_ms: float
    ttft_ms: float | None
    outcome: str
    ok: bool


def models(base_url: str | None, api_key: str | None) -> list[ModelConfig]:
    """The demo's two-model chain, at list prices."""
    return [ModelConfig(name=name, provider="openai", input_cost=p[0], output_cost=p[1], base_url=base_url,
                        api_key=SecretStr(api_key) if api_key else None, max_retries=0 if base_url else 2)
            for name, p in rec.PRICES.items()]


async def show(events: AsyncIterator[Any], st: ScenarioState, view: PlainView,
               spent: float = 0.0) -> CascadeResult | None:
    """Feed engine events into the view; return the result (None on error).

    The stats line runs live: elapsed time and time to first token as tokens arrive, then cost.
    """
    result: CascadeResult | None = None
    t0 = time.perf_counter()
    ttft: float | None = None
    async for ev in events:
        kind = ev.type.value
        d = ev.data
        now = (time.perf_counter() - t0) * 1000
        if ttft is None and kind in ("chunk", "text_chunk", "tool_call_start"):
            ttft = now
        st.stats = (f"elapsed {now:.0f} ms · TTFT {'…' if ttft is None else f'{ttft:.0f} ms'}"
                    f" · demo cost so far ${spent:.6f}")
        if kind == "routing":
            st.routing = f"{d['strategy']} · complexity {d['complexity']} · {d['reason']}"
            view.routing(st)
        elif kind in ("chunk", "text_chunk"):
            if d["phase"] == "draft":
                st.draft_model = d["model"]
                st.draft.append(ev.content)
            else:
                st.final_model = d["model"]
                st.final.append(ev.content)
            view.text(st, ev.content, d["phase"], d["model"])
        elif kind == "tool_call_start":
            st.tool_names[d["index"]] = d["name"]
            st.tools[d["index"]] = []
            st.draft_model = d.get("model", st.draft_model)
            view.tool(st, d["index"])
        elif kind == "tool_call_delta":
            st.tools[d["index"]].append(ev.delta)
            view.tool(st, d["index"])
        elif kind == "tool_call_complete":
            st.tools[d["index"]].append(")")
            view.tool_done(st, d["tool_call"])
        elif kind == "draft_decision":
            verdict = "accepted" if d["accepted"] else "rejected"
            st.decision = (f"{verdict} · confidence {d['confidence']:.2f} · threshold {d['threshold']:.2f}"
                           f" · {d['reason']}")
            st.checks = shown_checks(d)
            view.decision(st)
        elif kind == "switch":
            st.switch = f"{d['from_model']} → {d['to_model']} ({d['detail']})"
            if d["retract_chars"]:
                st.switch += f" · retract {d['retract_chars']} chars shown"
            view.switch(st)
        elif kind == "complete":
            result = d["result"]
            # the demo's models are priced, so the costs are never None here
            saved = (result.cost_saved or 0.0) / result.baseline_cost * 100 if result.baseline_cost else 0.0
            st.stats = (f"cost ${result.total_cost:.6f} · all-{rec.STRONG} ${result.baseline_cost:.6f} "
                        f"(saved ~{saved:.0f}%) · latency {result.latency_ms:.0f} ms · "
                        f"TTFT {result.ttft_ms or 0:.0f} ms")
            if result.tokens_saved_by_abort:
                st.stats += f" · abort saved ~{result.tokens_saved_by_abort} draft tokens"
        elif kind == "error":
            st.stats = f"error from {d['model']}: {d['error']}"
    view.done(st)
    return result


def _row(name: str, result: CascadeResult | None, expect_escalation: bool | None) -> Row:
    if result is None:
        return Row(name, "-", 0.0, 0.0, 0.0, None, "error", False)
    escalated = not result.draft_accepted
    outcome = "escalated" if escalated else "draft accepted"
    ok = expect_escalation is None or expect_escalation == escalated
    return Row(name, result.model_used, result.total_cost or 0.0, result.baseline_cost or 0.0, result.latency_ms,
               result.ttft_ms,
               outcome, ok)


Scenario = Callable[[CascadeAgent, PlainView], Awaitable[Row]]
_spent = [0.0]  # running demo cost, shown in each scenario's live stats line


def _core(title: str, label: str, query: str, expect_escalation: bool, **kw: Any) -> Scenario:
    async def run(agent: CascadeAgent, view: PlainView) -> Row:
        st = ScenarioState(title, query)
        view.begin(st)
        result = await show(agent.stream_events(query, max_tokens=400, temperature=0, **kw), st, view, _spent[0])
        _spent[0] += (result.total_cost or 0.0) if result else 0.0
        return _row(label, result, expect_escalation)

    return run


SCENARIOS: list[Scenario] = [
    _core("1 · simple question: the cheap draft answers", "simple", rec.JANET_Q, False,
          streaming_mode="optimistic"),
    _core("2 · hard question: the draft's arithmetic fails, escalate", "bad arithmetic", rec.MARIE_Q, True,
          streaming_mode="optimistic"),
    _core("3 · tool call: arguments stream as they form", "tool call", rec.WEATHER_Q, False,
          tools=[rec.WEATHER_TOOL]),
    _core("4 · guarded mode: a refusing draft is aborted early", "guarded abort", rec.REFUSAL_Q, True,
          streaming_mode="guarded", live_drafts=True),
]


def _agreement() -> Any:
    from ..quality import AgreementCheck, Staged

    return Staged(checks=[AgreementCheck(k=3)])


#: After the framework scenarios, so their numbering stays.
MODEL_CHECK_SCENARIOS: list[Scenario] = [
    _core("7 · short answer, samples disagree: escalate", "samples disagree", rec.BALL_Q, True,
          validator=_agreement()),
    _core("8 · short answer, samples agree: accept", "samples agree", rec.PENCIL_Q, False,
          validator=_agreement()),
]


def summary(rows: list[Row], out: TextIO, plain: bool) -> None:
    """The closing table: every query's model, cost, cost if sent to the strongest model, latency."""
    headers = ["scenario", "model", "outcome", "cost", f"all on {rec.STRONG}", "latency", "TTFT"]
    cells = [[r.scenario, r.model_used, r.outcome,
              f"${r.cost:.6f}", f"${r.baseline:.6f}", f"{r.latency_ms:.0f} ms",
              f"{r.ttft_ms:.0f} ms" if r.ttft_ms is not None else "-"] for r in rows]
    total, base = sum(r.cost for r in rows), sum(r.baseline for r in rows)
    cells.append(["total", "", "", f"${total:.6f}", f"${base:.6f}", "", ""])
    if not plain:
        try:
            from rich.console import Console
            from rich.table import Table

            t = Table(title="What the cascade did", show_lines=False)
            for h in headers:
                t.add_column(h)
            for c in cells:
                t.add_row(*c)
            Console(file=out).print(t)
            out.write(f"Saved ~{(1 - total / base) * 100 if base else 0:.0f}% versus sending everything to "
                      f"{rec.STRONG} (estimate: see docs/concepts/cost.md).\n")
            return
        except ImportError:
            pass
    out.write("\n" + " | ".join(headers) + "\n")
    for c in cells:
        out.write(" | ".join(c) + "\n")
    out.write(f"Saved ~{(1 - total / base) * 100 if base else 0:.0f}% versus sending everything to {rec.STRONG} "
              "(estimate: see docs/concepts/cost.md).\n")


async def main_async(live: bool, out: TextIO, plain: bool | None, extra: list[Scenario],
                     learning: bool = False, pace: float = 1.0) -> int:
    _spent[0] = 0.0
    view = make_view(out, plain)
    is_plain = type(view) is PlainView
    server: ReplayServer | None = None
    if live:
        key = os.environ.get("OPENAI_API_KEY")
        if not key:
            out.write("--live needs OPENAI_API_KEY set (the demo's models are gpt-4o-mini → gpt-4o).\n")
            return 2
        chain = models(None, None)
        out.write("LIVE: calling OpenAI (gpt-4o-mini → gpt-4o); this costs a few cents at most.\n")
    else:
        server = ReplayServer().start()
        rec.load(server, frameworks=bool(extra), pace=pace)
        chain = models(server.openai_url, "replay-no-key-needed")
        out.write("OFFLINE REPLAY: no API keys needed. The real OpenAI SDK and the real cascade engine talk to a\n"
                  f"loopback server ({server.url}) that replays recorded provider responses "
                  f"{'at a live-like pace' if pace else 'without pacing (--fast)'}.\n"
                  "Run with --live (and OPENAI_API_KEY) to call the providers.\n")
    import openai  # noqa: F401 - imported up front so the first scenario's timings exclude import time

    rows: list[Row] = []
    t0 = time.perf_counter()
    try:
        async with CascadeAgent(chain) as agent:
            for scenario in [*SCENARIOS, *extra, *MODEL_CHECK_SCENARIOS]:
                try:
                    rows.append(await scenario(agent, view))
                except Exception as e:  # a scenario failing must not hide the others' results
                    view.close()
                    out.write(f"scenario failed: {type(e).__name__}: {e}\n")
                    rows.append(Row(getattr(scenario, "__name__", "scenario"), "-", 0, 0, 0, None, "error", False))
    finally:
        view.close()
        if server is not None:
            server.stop()
    summary(rows, out, is_plain)
    learned = True
    if learning:
        from .learning import run_learning

        learned = await asyncio.to_thread(run_learning, out)
    out.write(f"Demo finished in {time.perf_counter() - t0:.1f} s.\n")
    failed = [r.scenario for r in rows if not r.ok] + ([] if learned else ["learning"])
    if server is not None and server.pending():
        out.write(f"Unplayed recordings for {server.pending()}: the run did not go as recorded.\n")
        failed.append("recordings")
    if failed:
        out.write(f"FAILED: {', '.join(failed)}\n")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cascadeflow-integrations demo", description=__doc__)
    ap.add_argument("--live", action="store_true", help="call the providers (needs OPENAI_API_KEY)")
    ap.add_argument("--plain", action="store_true", help="plain lines, no live view")
    ap.add_argument("--core-only", action="store_true", help="skip the LangChain and LlamaIndex scenarios")
    ap.add_argument("--no-learning", action="store_true", help="skip the offline learning-from-traffic scenario")
    ap.add_argument("--fast", action="store_true", help="replay without the live-like pacing (same outcomes)")
    args = ap.parse_args(argv)
    extra: list[Scenario] = []
    if not args.core_only:
        from .frameworks import framework_scenarios

        extra = framework_scenarios()
    return asyncio.run(main_async(args.live, sys.stdout, True if args.plain else None, extra,
                                  learning=not args.no_learning, pace=0.0 if args.fast else 1.0))
