"""`ToolRiskCheck`: a call to a high-risk tool is never taken from a draft model."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from ..errors import ConfigError
from ._check import Check
from .base import CheckResult, Draft, PartialDraft, ValidationRequest
from .validators import tools_by_name

#: Levels whose drafted calls must come from the next model (the levels are `tools.schema.RISK_LEVELS`).
GATED = ("high", "critical")


class ToolRiskCheck(Check):
    """Fails a draft that calls a tool marked high-risk, so the next model makes that call.

    A tool is high-risk when its definition says so (`ToolConfig(risk="high")`, a `"risk"` key in a
    tool dict, `metadata={"risk": "high"}` on a LangChain tool) or its name matches one of `patterns`
    (shell-style, e.g. `"delete_*"`). The engine applies it to every draft, whatever the validator
    (`CascadeAgent(high_risk_tools=[...])` gives the patterns); the last model is never gated.
    """

    name = "tool_risk"

    def __init__(self, patterns: Sequence[str] = ()) -> None:
        if isinstance(patterns, str):
            patterns = [patterns]
        for p in patterns:
            if not isinstance(p, str) or not p:
                raise ConfigError(f"high-risk tool patterns must be non-empty strings (e.g. 'delete_*'), got {p!r}")
        self.patterns = list(patterns)

    def risk_of(self, request: ValidationRequest, name: str) -> str | None:
        """Why a call to `name` is gated ("risk=high", "matches 'delete_*'"), or None."""
        tool = tools_by_name(request.tools).get(name) or {}
        risk = tool.get("risk")
        if isinstance(risk, str) and risk.lower() in GATED:
            return f"risk={risk.lower()}"
        for p in self.patterns:
            if fnmatch.fnmatchcase(name, p):
                return f"matches high-risk pattern {p!r}"
        return None

    def gated(self, request: ValidationRequest) -> bool:
        """Whether any offered tool could be gated (so the engine can skip the check otherwise)."""
        return bool(request.tools) and any(self.risk_of(request, n) for n in tools_by_name(request.tools))

    def run(self, request: ValidationRequest, draft: Draft) -> CheckResult:
        risky = [f"{c.name!r} ({why})" for c in draft.tool_calls if (why := self.risk_of(request, c.name))]
        if risky:
            return CheckResult(self.name, False, 0.0,
                               f"drafted call to high-risk tool {', '.join(risky)}: the next model must make it")
        return CheckResult(self.name, True, 1.0)

    def check_partial(self, request: ValidationRequest, partial: PartialDraft) -> str | None:
        for name in partial.tool_names.values():
            if why := self.risk_of(request, name):
                return f"drafted call to high-risk tool {name!r} ({why})"
        return None
