"""Terminal views of cascade events: a live rich view for terminals, plain lines otherwise."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class ScenarioState:
    """What the view shows for one scenario, updated event by event."""

    title: str
    query: str
    routing: str = ""
    draft_model: str = ""
    draft: list[str] = field(default_factory=list)
    decision: str = ""
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    switch: str = ""
    final_model: str = ""
    final: list[str] = field(default_factory=list)
    tools: dict[int, list[str]] = field(default_factory=dict)
    tool_names: dict[int, str] = field(default_factory=dict)
    stats: str = ""
    note: str = ""


def shown_checks(decision: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """A draft decision's checks as (name, ok, detail), as they decided.

    A soft check passes on its own but may score under the threshold: when no check failed outright and
    the draft was rejected (by the validator; the budget may still have kept it), the checks scoring
    under the threshold are what rejected it, so they are shown as failed, with their score.
    """
    checks = decision.get("checks", [])
    rejected = not decision.get("validator_accepted", decision.get("accepted", True))
    threshold = decision.get("threshold")
    by_score = rejected and threshold is not None and all(c["passed"] for c in checks)
    out = []
    for c in checks:
        ok, detail = c["passed"], c.get("detail", "")
        if by_score and not c.get("neutral") and c.get("score", 1.0) < threshold:
            ok = False
            detail = f"score {c['score']:.2f} below threshold {threshold:.2f}" + (f" ({detail})" if detail else "")
        out.append((c["name"], ok, detail))
    return out


class PlainView:
    """Line-oriented output with no control codes (pipes, CI logs, files)."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self._inline = False

    def _line(self, text: str) -> None:
        if self._inline:
            self.out.write("\n")
            self._inline = False
        self.out.write(text + "\n")
        self.out.flush()

    def begin(self, st: ScenarioState) -> None:
        self._line("")
        self._line(f"=== {st.title} ===")
        self._line(f"Q: {st.query}")

    def routing(self, st: ScenarioState) -> None:
        self._line(f"route: {st.routing}")

    def text(self, st: ScenarioState, piece: str, phase: str, model: str) -> None:
        if not self._inline:
            self.out.write(f"[{phase} {model}] ")
            self._inline = True
        self.out.write(piece)
        self.out.flush()

    def tool(self, st: ScenarioState, index: int) -> None:
        pass  # plain output shows the finished call only

    def tool_done(self, st: ScenarioState, call: dict[str, Any]) -> None:
        self._line(f"tool call: {call['name']}({json.dumps(call['arguments'])})")

    def decision(self, st: ScenarioState) -> None:
        self._line(f"decision: {st.decision}")
        for name, ok, detail in st.checks:
            self._line(f"  {'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}")

    def switch(self, st: ScenarioState) -> None:
        self._line(f"switch: {st.switch}")

    def done(self, st: ScenarioState) -> None:
        self._line(f"stats: {st.stats}")
        if st.note:
            self._line(st.note)

    def close(self) -> None:
        if self._inline:
            self.out.write("\n")
            self._inline = False


class RichView(PlainView):
    """A live panel per scenario: routing, draft streaming, decision and checks, switch, tool calls, stats."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        super().__init__(out)
        from rich.console import Console

        self.console = Console(file=out)
        self._live: Any = None
        self._st: ScenarioState | None = None

    def _render(self) -> Any:
        from rich.console import Group
        from rich.panel import Panel
        from rich.text import Text

        st = self._st
        assert st is not None
        parts: list[Any] = [Text(f"Q: {st.query}", style="bold")]
        if st.routing:
            parts.append(Text(f"↳ route: {st.routing}", style="cyan"))
        if st.draft or st.draft_model:
            parts.append(Text(f"draft · {st.draft_model}", style="magenta"))
            parts.append(Text("".join(st.draft), style="dim" if st.switch else ""))
        for i, frags in st.tools.items():
            parts.append(Text(f"🔧 {st.tool_names.get(i, '?')}({''.join(frags)}", style="yellow"))
        if st.decision:
            ok = st.decision.startswith("accepted")
            parts.append(Text(("✓ " if ok else "✗ ") + st.decision, style="green" if ok else "red"))
            for name, passed, detail in st.checks:
                parts.append(Text(f"   {'✓' if passed else '✗'} {name}" + (f" — {detail}" if detail and not passed
                                                                             else ""),
                                  style="green" if passed else "red"))
        if st.switch:
            parts.append(Text(f"⤴ {st.switch}", style="bold yellow"))
        if st.final or st.final_model:
            parts.append(Text(f"answer · {st.final_model}", style="blue"))
            parts.append(Text("".join(st.final)))
        if st.stats:
            parts.append(Text(st.stats, style="bold cyan"))
        if st.note:
            parts.append(Text(st.note, style="italic"))
        return Panel(Group(*parts), title=st.title, border_style="cyan")

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())

    def begin(self, st: ScenarioState) -> None:
        from rich.live import Live

        self._st = st
        self._live = Live(self._render(), console=self.console, refresh_per_second=20, transient=False)
        self._live.start()

    def routing(self, st: ScenarioState) -> None:
        self._refresh()

    def text(self, st: ScenarioState, piece: str, phase: str, model: str) -> None:
        self._refresh()

    def tool(self, st: ScenarioState, index: int) -> None:
        self._refresh()

    def tool_done(self, st: ScenarioState, call: dict[str, Any]) -> None:
        self._refresh()

    def decision(self, st: ScenarioState) -> None:
        self._refresh()

    def switch(self, st: ScenarioState) -> None:
        self._refresh()

    def done(self, st: ScenarioState) -> None:
        self._refresh()
        if self._live is not None:
            self._live.stop()
            self._live = None

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()


def make_view(out: TextIO = sys.stdout, plain: bool | None = None) -> PlainView:
    """A live view on a terminal (when rich is installed), plain lines elsewhere."""
    if plain is None:
        plain = not out.isatty()
    if not plain:
        try:
            return RichView(out)
        except ImportError:
            pass
    return PlainView(out)
