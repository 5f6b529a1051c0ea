"""Public events streamed by `CascadeAgent.stream_events`: one typed union, `Event`.

Each event is a frozen dataclass (`Routing`, `TextChunk`, `ToolCallStart`, `ToolCallDelta`,
`ToolCallComplete`, `DraftDecision`, `Switch`, `Complete`, `Error`): match on its class, read its fields.
The seed API's view stays readable on every event: `type` (a `StreamEventType`, or a
`ToolStreamEventType` in a stream with `tools=`), `content`, `delta`, `data` (its fields as a dict,
built on first read and owned by the event) and `metadata`. `StreamEvent` and `ToolStreamEvent` name
the union for code written against the seed API. The table in docs/concepts/events.md is `events_table()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Union

if TYPE_CHECKING:
    from ..result import CascadeResult


class StreamEventType(str, Enum):
    """The seed API's event kinds of a text stream (`event.type`)."""

    ROUTING = "routing"
    CHUNK = "chunk"
    DRAFT_DECISION = "draft_decision"
    SWITCH = "switch"
    COMPLETE = "complete"
    ERROR = "error"


class ToolStreamEventType(str, Enum):
    """The seed API's event kinds of a stream with `tools=` (`event.type`)."""

    ROUTING = "routing"
    TEXT_CHUNK = "text_chunk"
    TOOL_CALL_START = "tool_call_start"
    TOOL_CALL_DELTA = "tool_call_delta"
    TOOL_CALL_COMPLETE = "tool_call_complete"
    DRAFT_DECISION = "draft_decision"
    SWITCH = "switch"
    COMPLETE = "complete"
    ERROR = "error"


def _doc(text: str, default: Any = None, optional: bool = False) -> Any:
    """A field with its one line of doc (the events table); `optional` fields are left out of `data` when None."""
    meta = {"doc": text, "optional": optional}
    if optional:
        # keyword-only: it keeps its place in `data` without forcing defaults on the fields after it
        return field(default=default, kw_only=True, metadata=meta)
    return field(metadata=meta)


class _Cache:
    # Outside the dataclass fields: `data` is built on first read (the hot path never pays for it)
    # and is not part of the event's value (equality, repr, copy).
    __slots__ = ("_data",)
    _data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Event(_Cache):
    """What every event has: the seed API's view (`type`, `data`, `metadata`) and `to_dict()`."""

    #: True in a stream with `tools=`: `type` is then a `ToolStreamEventType`
    tool_stream: bool = field(default=False, kw_only=True, repr=False)

    #: (text stream's type, tool stream's type)
    _types: ClassVar[tuple[Any, Any]]
    #: what the events table says of it: when it comes, and what `content`/`delta` hold
    when: ClassVar[str] = ""
    text: ClassVar[str] = ""
    #: the fields that make up `data` (set below, per class)
    _data_fields: ClassVar[tuple[tuple[str, bool], ...]] = ()

    @property
    def type(self) -> Any:
        """`StreamEventType` (text stream) or `ToolStreamEventType` (stream with tools)."""
        return self._types[self.tool_stream]

    @property
    def data(self) -> dict[str, Any]:
        """The event's fields as the seed API's `data` dict (one per event: annotating it changes no other)."""
        try:
            return self._data
        except AttributeError:
            d = {}
            for name, optional in self._data_fields:
                v = getattr(self, name)
                if not (optional and v is None):
                    d[name] = v
            object.__setattr__(self, "_data", d)
            return d

    @property
    def metadata(self) -> dict[str, Any]:
        """Alias of `data` (the seed API's name)."""
        return self.data

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict: `type`, `content`/`delta` when the event has them, and `data`
        (exceptions as their message, a `CascadeResult` as its `to_dict()`)."""
        out: dict[str, Any] = {"type": self.type.value}
        content, delta = getattr(self, "content"), getattr(self, "delta")
        if content:
            out["content"] = content
        if delta:
            out["delta"] = delta
        for k, v in self.data.items():
            out[k] = _plain(v)
        return out


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, BaseException):
        return str(v)
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    to_dict = getattr(v, "to_dict", None)
    return _plain(to_dict()) if callable(to_dict) else str(v)


@dataclass(frozen=True, slots=True)
class Routing(_Event):
    """First, always: the strategy the call takes."""

    strategy: str = _doc("`cascade` or `direct`")
    complexity: str = _doc("trivial…expert")
    reason: str = _doc("why")
    models: list[str] = _doc("the chain's labels")
    streaming_mode: str = _doc("`optimistic`, `buffered` or `guarded`")
    policy: dict[str, Any] | None = _doc("`name`, `estimate`, `threshold`, when a fitted policy sent the request "
                                         "direct", optional=True)
    budget: dict[str, Any] | None = _doc("the budget's plan for the call (`key`, `limit_usd`, `spent_usd`, "
                                         "`action`, …), when a budget is set", optional=True)

    _types = (StreamEventType.ROUTING, ToolStreamEventType.ROUTING)
    when = "first, always"
    content: ClassVar[str] = ""
    delta: ClassVar[str] = ""
    tool_call: ClassVar[None] = None


@dataclass(frozen=True, slots=True)
class TextChunk(_Event):
    """A piece of text from one model."""

    content: str = _doc("")
    model: str = _doc("the member's label")
    phase: str = _doc("`draft`, `verifier` or `direct`")
    provider: str = _doc("the member's provider")

    _types = (StreamEventType.CHUNK, ToolStreamEventType.TEXT_CHUNK)
    when = "each text piece"
    text = "the text (also `delta`)"
    tool_call: ClassVar[None] = None

    @property
    def delta(self) -> str:
        """The text (the seed API's tool stream carried it in both `content` and `delta`)."""
        return self.content


@dataclass(frozen=True, slots=True)
class ToolCallStart(_Event):
    """A tool call's name is known."""

    index: int = _doc("the call's position in the answer")
    id: str = _doc("the call's id")
    name: str = _doc("the tool's name")
    model: str = _doc("")
    phase: str = _doc("")

    _types = (ToolStreamEventType.TOOL_CALL_START, ToolStreamEventType.TOOL_CALL_START)
    when = "a call's name is known"
    content: ClassVar[str] = ""
    delta: ClassVar[str] = ""
    tool_call: ClassVar[None] = None


@dataclass(frozen=True, slots=True)
class ToolCallDelta(_Event):
    """A fragment of a tool call's arguments."""

    delta: str = _doc("")
    index: int = _doc("")
    id: str = _doc("")
    name: str = _doc("")
    arguments: Any = _doc("parsed so far: a snapshot of the text up to this fragment, see [Argument snapshots]"
                          "(../tools.md#argument-snapshots-while-streaming); None once the text is not JSON")
    model: str = _doc("")
    phase: str = _doc("")

    _types = (ToolStreamEventType.TOOL_CALL_DELTA, ToolStreamEventType.TOOL_CALL_DELTA)
    when = "each arguments fragment"
    text = "`delta`: the raw fragment"
    content: ClassVar[str] = ""
    tool_call: ClassVar[None] = None


@dataclass(frozen=True, slots=True)
class ToolCallComplete(_Event):
    """A tool call is finished."""

    index: int = _doc("")
    tool_call: dict[str, Any] = _doc("`{id, name, arguments: dict}` (its own copy: changing `result.tool_calls` "
                                     "does not change it)")
    valid_json: bool = _doc("the arguments parsed")
    error: str | None = _doc("the parse error, if any")
    model: str = _doc("")

    _types = (ToolStreamEventType.TOOL_CALL_COMPLETE, ToolStreamEventType.TOOL_CALL_COMPLETE)
    when = "a call is finished"
    content: ClassVar[str] = ""
    delta: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class DraftDecision(_Event):
    """A draft was judged."""

    accepted: bool = _doc("what the cascade did with the draft")
    confidence: float = _doc("")
    score: float = _doc("")
    reason: str = _doc("")
    threshold: float = _doc("")
    checks: list[dict[str, Any]] = _doc("name, passed, score, detail, error; model-based checks add `cost` and "
                                        "`calls`, and `neutral` when they had nothing to say")
    validator_cost: float = _doc("")
    validator_calls: int = _doc("")
    policy: dict[str, Any] | None = _doc("`name`, `group`, `kind`, `estimate`, `features` (the features that "
                                         "weighed most), when a fitted policy decided", optional=True)
    model: str = _doc("")
    phase: str = _doc("")
    level: int = _doc("the model's 0-based position in this call's chain")
    index: int = _doc("the model's 0-based position in the configured chain")
    error: BaseException | None = _doc("the draft's error (a failed draft)")
    validator_accepted: bool | None = _doc("the validator's own verdict, when a budget overrode it",
                                           optional=True)
    budget_override: bool | None = _doc("True when the budget made the draft the answer", optional=True)

    _types = (StreamEventType.DRAFT_DECISION, ToolStreamEventType.DRAFT_DECISION)
    when = "a draft was judged"
    content: ClassVar[str] = ""
    delta: ClassVar[str] = ""
    tool_call: ClassVar[None] = None


@dataclass(frozen=True, slots=True)
class Switch(_Event):
    """A draft was rejected: the next model answers."""

    content: str = _doc("")
    from_model: str = _doc("")
    to_model: str = _doc("")
    reason: str = _doc("`quality_failed`, `draft_error`, `aborted` or `tool_risk`")
    detail: str = _doc("the decision's reason")
    error: BaseException | None = _doc("the draft's error")
    retract_chars: int = _doc("what to take back (0 in buffered/guarded mode)")
    retract_chunks: int = _doc("")
    retract_tool_calls: int = _doc("")

    _types = (StreamEventType.SWITCH, ToolStreamEventType.SWITCH)
    when = "a draft was rejected"
    text = "`Cascading to …`"
    delta: ClassVar[str] = ""
    tool_call: ClassVar[None] = None


@dataclass(frozen=True, slots=True)
class Complete(_Event):
    """Last, on success."""

    result: CascadeResult = _doc("a `CascadeResult` (also readable as a dict): `content`, `tool_calls`, "
                                 "`model_used`, `accepted_index`, `draft_accepted`, `total_cost`, `cost_saved`, "
                                 "`baseline_cost`, `latency_ms`, `ttft_ms`, `usage`, `models`, `attempts`, "
                                 "`decisions`, `validator_cost`, `validator_calls`, `request_id` (for "
                                 "`agent.feedback`), …")

    _types = (StreamEventType.COMPLETE, ToolStreamEventType.COMPLETE)
    when = "last, on success"
    content: ClassVar[str] = ""
    delta: ClassVar[str] = ""
    tool_call: ClassVar[None] = None


@dataclass(frozen=True, slots=True)
class Error(_Event):
    """Last, on failure: the final model failed, or a draft got a 400 every model would get."""

    content: str = _doc("")
    error: BaseException = _doc("the exception (`run()` raises it)")
    model: str = _doc("")
    phase: str = _doc("")
    provider: str = _doc("")
    partial_content: str = _doc("what was already streamed")

    _types = (StreamEventType.ERROR, ToolStreamEventType.ERROR)
    when = "the final model failed, or a draft got a 400 every model would get"
    text = "the message"
    delta: ClassVar[str] = ""
    tool_call: ClassVar[None] = None


#: Every event `stream_events` yields: match on the class.
Event = Union[Routing, TextChunk, ToolCallStart, ToolCallDelta, ToolCallComplete, DraftDecision, Switch, Complete,
              Error]
EVENTS: tuple[type[_Event], ...] = (Routing, TextChunk, ToolCallStart, ToolCallDelta, ToolCallComplete,
                                     DraftDecision, Switch, Complete, Error)
#: The seed API's names of the event classes (annotations and isinstance checks keep working).
StreamEvent = _Event
ToolStreamEvent = _Event

_NOT_DATA = ("tool_stream", "content", "delta")


def _fast_init(cls: type[_Event]) -> None:
    """Replace the frozen dataclass's `__init__` by one with the same signature that sets each slot through
    its descriptor: a frozen init goes through `object.__setattr__` per field, which tripled the cost of a
    chunk event (one per token; bench/overhead.py)."""
    fs = [f for f in fields(cls) if f.init]
    ns: dict[str, Any] = {}
    params, kw, body = ["self"], [], []
    for f in fs:
        ns[f"_set_{f.name}"] = getattr(cls, f.name).__set__  # the slot's member descriptor
        body.append(f"    _set_{f.name}(self, {f.name})")
        if f.kw_only:
            ns[f"_default_{f.name}"] = f.default
            kw.append(f"{f.name}=_default_{f.name}")
        else:
            params.append(f.name)
    src = f"def __init__({', '.join(params + (['*'] + kw if kw else []))}) -> None:\n" + "\n".join(body) + "\n"
    exec(src, ns)  # noqa: S102 - generated from the class's own field names, as dataclasses does
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    setattr(cls, "__init__", init)


for _cls in EVENTS:
    _cls._data_fields = tuple((f.name, bool(f.metadata.get("optional"))) for f in fields(_cls)
                              if f.name not in _NOT_DATA)
    _fast_init(_cls)


def events_table() -> str:
    """The events as a Markdown table (docs/concepts/events.md), from the classes and their fields' docs."""
    rows = ["| event | `type` | when | `content` / `delta` | `data` (the fields) |", "|---|---|---|---|---|"]
    for cls in EVENTS:
        text_t, tool_t = cls._types
        if text_t is tool_t:
            kinds = f"`{tool_t.name}` (with tools only)"
        elif text_t.name == tool_t.name:
            kinds = f"`{text_t.name}`"
        else:
            kinds = f"`{text_t.name}` (`{tool_t.name}` with tools)"
        parts = []
        for f in fields(cls):
            if f.name in _NOT_DATA:
                continue
            doc = f.metadata.get("doc", "")
            parts.append(f"`{f.name}`" + (f": {doc}" if doc else ""))
        rows.append(f"| `{cls.__name__}` | {kinds} | {cls.when} | {cls.text} | {_cell('; '.join(parts))} |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


__all__ = ["Complete", "DraftDecision", "EVENTS", "Error", "Event", "Routing", "StreamEvent", "StreamEventType",
           "Switch", "TextChunk", "ToolCallComplete", "ToolCallDelta", "ToolCallStart", "ToolStreamEvent",
           "ToolStreamEventType", "events_table"]
