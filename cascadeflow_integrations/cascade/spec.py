"""`CascadeSpec`: every cascade option, declared once (type, default, rule, one line of doc).

`CascadeAgent(models, **options)`, `ChatCascade(...)` and `CascadeLLM(...)` all take these options, check them
with the same rule, start from the same default, and refuse a keyword none of them knows (naming the close
match). Options marked per call may also be given to one call; they are merged onto the agent's spec once,
into that run's plan. docs/options.md lists the table (`options_table()` renders it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import ConfigError, UnknownOptionError, closest
from .._checks import (
    _required_flag,
    _share,
    _show,
    check_complexity,
    check_max_tokens,
    check_seconds,
    check_stop,
    check_temperature,
    check_threshold,
)

__all__ = ["CascadeOptions", "CascadeSpec", "Option", "OPTIONS", "decider", "options_table", "refuse_build_options", "refuse_unknown"]


@dataclass(frozen=True, slots=True)
class Option:
    """One cascade option (read from `CascadeOptions`' field of that name)."""

    name: str
    #: the type as users write it (the annotation of `CascadeOptions`' field)
    type: Any
    default: Any
    #: (name, value) -> the normalised value, or a `ValueError` naming the problem and the fix
    rule: Callable[[str, Any], Any]
    doc: str
    #: may also be given to one call (merged onto the agent's value for that run)
    per_call: bool = False
    #: the adapters' default when a framework cannot honour the engine's (only `streaming_mode`)
    adapter_default: Any = None
    #: part of a dump (`model_dump`, `to_dict`): plain data only, never objects holding clients or keys
    serializable: bool = True

    def default_for(self, face: str) -> Any:
        """The default on `face` ("agent" or "adapter")."""
        return self.adapter_default if face == "adapter" and self.adapter_default is not None else self.default


# ---- rules (the checks shared with `_checks`, plus the few only options have) ---------------------


def _mode(name: str, v: Any) -> str:
    from .engine import StreamingMode

    value = getattr(v, "value", v)
    if value not in {m.value for m in StreamingMode}:
        raise ConfigError(f"{name} {_show(v)} is not one of {', '.join(m.value for m in StreamingMode)}")
    return str(value)


def _patterns(name: str, v: Any) -> tuple[str, ...]:
    items = (v,) if isinstance(v, str) else v
    if not isinstance(items, (list, tuple)) or not all(isinstance(p, str) and p for p in items):
        raise ConfigError(f"{name} must be a list of non-empty tool-name patterns (e.g. {name}=['delete_*']), "
                         f"got {_show(v)}")
    return tuple(items)


def _router(name: str, v: Any) -> Any:
    if v is not None and not callable(getattr(v, "route", None)):
        raise ConfigError(f"{name} must be a Router (an object with route(messages, tools)), got {_show(v)}")
    return v


def _decision_log(name: str, v: Any) -> Any:
    if v is not None and not isinstance(v, (str, Path)) and not hasattr(v, "append"):
        raise ConfigError(f"{name} must be a SQLite path such as 'cascade.db' or a stores.DecisionStore, got {_show(v)}")
    return v


def _policy(name: str, v: Any) -> Any:
    if v is None or isinstance(v, (str, Path)):
        return v
    from ..learning.policy import Policy

    if not isinstance(v, Policy):
        raise ConfigError(f"{name}={v!r} is neither a Policy nor a path: pass Policy.load(...) or 'policy.json'")
    return v


def _budget(name: str, v: Any) -> Any:
    if v is None:
        return v
    from ..budget import Budget

    if not isinstance(v, Budget):
        raise ConfigError(f"{name} must be a Budget(limit_usd=...), got {type(v).__name__}")
    return v


def _store(name: str, v: Any) -> Any:
    return v  # any store the budget or the decision log accepts; they check it when they bind


def _cache_routing(name: str, v: Any) -> Any:
    if isinstance(v, bool) or v is None:
        return v
    from ..cache_cost import CacheAwareRouting

    if not isinstance(v, CacheAwareRouting):
        raise ConfigError(f"{name} must be True, False or a CacheAwareRouting(...), got {type(v).__name__}")
    return v


def check_validator(v: Any) -> Any:
    """A validator, a function, or a list of them (None: the default)."""
    from ..quality.base import as_validator

    for x in v if isinstance(v, (list, tuple)) else [] if v is None else [v]:
        as_validator(x)
    return v


def _opt(rule: Callable[[Any], Any]) -> Callable[[str, Any], Any]:
    return lambda name, v: rule(v)


def _flag(name: str, v: Any) -> bool:
    return _required_flag(name, v)


#: (rule, per_call, adapter_default, serializable) of each `option(...)` in declaration order
_DECLARED: list[tuple[Any, bool, Any, bool, Any, str]] = []


def option(default: Any, rule: Callable[[str, Any], Any], doc: str, *, per_call: bool = False,
           adapter_default: Any = None, serializable: bool = True) -> Any:
    """A `CascadeOptions` field: its default and doc, with its rule and flags kept for `OPTIONS`."""
    _DECLARED.append((rule, per_call, adapter_default, serializable, default, doc))
    return Field(default=default, description=doc, exclude=not serializable)


class CascadeOptions(BaseModel):
    """Every cascade option, declared once: its type (the annotation), default, rule and doc.

    `ChatCascade` and `CascadeLLM` inherit these as their fields; `CascadeAgent(models, **options)` checks the
    same names with the same rules (`CascadeSpec`). The table in docs/options.md is `options_table()`.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    # -- how a call runs (each may also be set per call) --
    # The temperature default is None on every face: the provider's own default unless you set one. A cascade
    # mixes providers and model families (reasoning models refuse a temperature at all), so any number picked
    # here would be wrong for some member; the seed API's 0.7 and LlamaIndex's 0.1 disagreed for that reason.
    temperature: float | None = option(
        None, _opt(check_temperature), "Sampling temperature in [0, 2] sent to every model; None: each "
        "provider's default.", per_call=True)
    max_tokens: int | None = option(
        None, _opt(check_max_tokens), "Output token limit per model (clamped to a member's max_output_tokens).",
        per_call=True)
    stop: list[str] | None = option(None, _opt(check_stop), "Stop sequences sent to every model.", per_call=True)
    streaming_mode: str = option(
        "optimistic", _mode, "optimistic, buffered or guarded; the adapters allow buffered and guarded only "
        "(their default: buffered).", per_call=True, adapter_default="buffered")
    validator: Any = option(
        None, _opt(check_validator), "A Validator, a function (request, draft) -> bool | Decision, or a list; "
        "with a policy it computes the checks the policy decides on.", per_call=True, serializable=False)
    quality_threshold: float | dict[str, float] | None = option(
        None, _opt(check_threshold), "Score a draft needs, in [0, 1], or one per complexity level; None: the "
        "built-in thresholds.", per_call=True)
    complexity_hint: str | None = option(
        None, _opt(check_complexity), "Skip classification: trivial, simple, moderate, hard or expert.",
        per_call=True)
    force_direct: bool = option(False, _flag, "Skip the draft and ask the strongest model.", per_call=True)
    timeout: float | None = option(None, check_seconds, "Seconds for the whole cascade call (all models).",
                                   per_call=True)
    draft_timeout: float | None = option(
        None, check_seconds, "Seconds a draft may take before it is abandoned and the call escalates.",
        per_call=True)
    speculative_escalation: bool = option(
        False, _flag, "Start the next model while a model-based check decides; cancelled if the check accepts.",
        per_call=True)
    budget: Any = option(None, _budget, "A Budget; each call's key is budget_key=.", per_call=True,
                         serializable=False)
    # -- what the cascade is built with --
    router: Any = option(None, _router, "Classifies complexity and picks cascade or direct; None: Router().",
                         serializable=False)
    high_risk_tools: tuple[str, ...] = option(
        (), _patterns, "Tool-name patterns whose drafted calls always escalate (also risk='high' on a tool).")
    decision_log: Any = option(
        None, _decision_log, "Where each call's decision row goes: a SQLite path such as 'cascade.db', or a "
        "DecisionStore.", serializable=False)
    shadow_rate: float = option(
        0.0, _share, "Share of accepted drafts also sent to the next model in the background, to label them.")
    policy: Any = option(
        None, _policy, "A fitted learning.Policy or the path of its JSON file: when set, it decides drafts.",
        serializable=False)
    log_prompts: bool = option(False, _flag, "Log the prompt text itself (off: only a fingerprint).")
    store: Any = option(None, _store, "A shared store (RedisStore): budgets, its decision log and policy.",
                        serializable=False)
    trace_content: bool = option(False, _flag, "Record prompt and answer text on OpenTelemetry spans.")
    cache_routing: Any = option(
        True, _cache_routing, "Go direct when a draft plus its likely escalation costs more than the strong "
        "model alone (True, False or a CacheAwareRouting).", serializable=False)

    # "before": the option's own rule (no coercion of "0.5" or True), at construction on every face
    @field_validator("*", mode="before")
    @classmethod
    def _rule(cls, v: Any, info: Any) -> Any:
        o = BY_NAME.get(info.field_name)
        return o.rule(info.field_name, v) if o is not None else v


OPTIONS: tuple[Option, ...] = tuple(
    Option(name, f.annotation, default, rule, doc, per_call, adapter_default, serializable)
    for (name, f), (rule, per_call, adapter_default, serializable, default, doc)
    in zip(CascadeOptions.model_fields.items(), _DECLARED, strict=True))
BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}
PER_CALL: frozenset[str] = frozenset(o.name for o in OPTIONS if o.per_call)
BUILD_ONLY: frozenset[str] = frozenset(o.name for o in OPTIONS if not o.per_call)


def refuse_unknown(given: Iterable[str], known: Iterable[str], where: str) -> None:
    """An `UnknownOptionError` (a ConfigError, ValueError and TypeError) naming every keyword of `given` not in
    `known` (with a close match), before any network call."""
    known = set(known)
    unknown = sorted(k for k in given if k not in known)
    if not unknown:
        return
    parts = []
    for k in unknown:
        close = closest(k, known)
        parts.append(f"{k!r} (did you mean {close!r}?)" if close else repr(k))
    raise UnknownOptionError(f"{where} got unknown option{'s' if len(unknown) > 1 else ''} {', '.join(parts)}: "
                             "the cascade options are listed in docs/options.md")


#: provider request parameters a per-call keyword may be (never taken for a misspelt cascade option)
PROVIDER_PARAMS: frozenset[str] = frozenset({
    "audio", "extra_body", "extra_headers", "extra_query", "frequency_penalty", "logit_bias", "logprobs",
    "max_completion_tokens", "metadata", "modalities", "n", "parallel_tool_calls", "prediction",
    "presence_penalty", "reasoning", "reasoning_effort", "response_format", "seed", "service_tier", "stop_sequences",
    "store", "stream_options", "system", "thinking", "top_k", "top_logprobs", "top_p", "user", "verbosity",
})


def refuse_build_options(call_kwargs: Iterable[str], per_call: Iterable[str] = ()) -> None:
    """Refuse per-call keywords that cannot be meant for the provider, before any network call.

    Extra keywords go to the provider request as they are (`top_p`, `seed`, …). Two kinds are refused
    instead: an option set only when the cascade is built (it would be sent to the provider, or dropped),
    and a near-miss of a per-call option (`draft_timout=`), which would otherwise reach the provider as an
    unknown parameter while the option the caller meant stays unset. `per_call` is the call's own keywords.
    """
    call_kwargs = list(call_kwargs)
    wrong = sorted(k for k in call_kwargs if k in BUILD_ONLY)
    if wrong:
        raise ConfigError(f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} set when the cascade is built, "
                          f"not per call: CascadeAgent(models, {wrong[0]}=...) (or on ChatCascade / CascadeLLM)")
    names = set(per_call) | PER_CALL
    # 0.85: close enough to be a typo of one option, far from every real provider parameter
    typos = {k: c for k in call_kwargs if k not in PROVIDER_PARAMS and k not in names
             and (c := closest(k, names, 0.85)) is not None}
    if typos:
        shown = ", ".join(f"{k!r} (did you mean {c!r}?)" for k, c in sorted(typos.items()))
        raise UnknownOptionError(f"unknown per-call keyword{'s' if len(typos) > 1 else ''} {shown}: it is neither a "
                                 "cascade option nor a provider parameter; to send it to the provider as it is, "
                                 "pass extra_body={...}")


class CascadeSpec:
    """A validated set of cascade options: the defaults, with the given ones checked by their rule."""

    __slots__ = ("_values", "_given")

    def __init__(self, options: Mapping[str, Any] | None = None, *, face: str = "agent",
                 where: str = "CascadeAgent") -> None:
        options = dict(options or {})
        refuse_unknown(options, BY_NAME, where)
        self._values = {o.name: o.default_for(face) for o in OPTIONS}
        self._given: frozenset[str] = frozenset(options)
        for name, value in options.items():
            self._values[name] = BY_NAME[name].rule(name, value)

    @classmethod
    def checked(cls, values: Mapping[str, Any], *, face: str = "adapter") -> CascadeSpec:
        """A spec from values their rules already passed (an adapter's fields): not checked again."""
        spec = cls.__new__(cls)
        spec._values = {o.name: values[o.name] if o.name in values else o.default_for(face) for o in OPTIONS}
        spec._given = frozenset(n for n in values if values[n] != BY_NAME[n].default_for(face))
        return spec

    @staticmethod
    def check(name: str, value: Any) -> Any:
        """`value` checked by the rule of option `name`."""
        return BY_NAME[name].rule(name, value)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def values(self) -> dict[str, Any]:
        """Every option's value."""
        return dict(self._values)

    def given(self) -> frozenset[str]:
        """The options set explicitly (the rest are defaults)."""
        return self._given

    def changed(self, names: Iterable[str] | None = None, face: str = "agent") -> dict[str, Any]:
        """The options (of `names`, default all) whose value differs from `face`'s default."""
        pick = BY_NAME if names is None else names
        return {n: self._values[n] for n in pick if self._values[n] != BY_NAME[n].default_for(face)}

    def merge(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """The run's plan: per-call overrides (None: not set) checked once and laid over these values."""
        plan = dict(self._values)
        for name, value in overrides.items():
            if value is None:
                continue
            if name not in PER_CALL:
                raise ConfigError(f"{name} is set when the cascade is built, not per call: "
                                 f"CascadeAgent(models, {name}=...)")
            plan[name] = BY_NAME[name].rule(name, value)
        return plan

    def __repr__(self) -> str:
        shown = {n: self._values[n] for n in sorted(self._given) if BY_NAME[n].serializable}
        return f"CascadeSpec({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


def decider(validator: Any, policy_validator: Any) -> Any:
    """What decides a draft: a policy, when set, decides; a validator then feeds it its checks.

    `validator` is a `Validator` (or None) and `policy_validator` the agent's `PolicyValidator` (or None).
    The one place this rule lives: the agent's construction and every per-call validator go through it,
    so no face can let a per-call validator bypass the policy.
    """
    if policy_validator is None:
        return validator
    if validator is None:
        return policy_validator
    return policy_validator.with_checks(validator)


def _type_name(t: Any) -> str:
    if t is Any:
        return "Any"
    return t.__name__ if isinstance(t, type) else str(t).replace("typing.", "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def options_table() -> str:
    """The options as a Markdown table (docs/options.md)."""
    rows = ["| option | type | default | per call | what it does |", "|---|---|---|---|---|"]
    for o in OPTIONS:
        default = repr(o.default) + (f" (adapters: {o.adapter_default!r})" if o.adapter_default is not None else "")
        rows.append(f"| `{o.name}` | `{_cell(_type_name(o.type))}` | `{default}` | {'yes' if o.per_call else ''} "
                    f"| {_cell(o.doc)} |")
    return "\n".join(rows)
