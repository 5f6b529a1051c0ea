"""The decision-log store interface: decision rows, labels, retention, and a published policy.

A store is written from the request path, so `append`/`add_label` must never block or raise: they
hand the row to the store's own background writer and return False (counting a drop) when it is
full. Reads, retention and policy publishing are async; they run off the event loop.

Rows and labels are plain JSON-friendly data (`to_dict`/`from_dict`), so every backend (SQLite
here, a server-backed store for a fleet) stores the same thing.
"""

from __future__ import annotations

import abc
import hashlib
import time
from dataclasses import dataclass, field, fields
from typing import Any
from ..errors import ConfigError

#: Where a label comes from. "escalation": the draft compared with the answer that replaced it;
#: "shadow": the draft compared with a background call to the next model; "judge": a judge model's
#: verdict; "feedback": the user (`agent.feedback`).
LABEL_SOURCES = ("escalation", "shadow", "judge", "feedback")
#: What a label scores: the draft, or the answer the user received (the draft when it was accepted).
LABEL_TARGETS = ("draft", "final")

DEFAULT_MAX_AGE_S = 30 * 86400.0
DEFAULT_MAX_ROWS = 1_000_000


def prompt_fingerprint(text: str) -> str:
    """A stable, non-reversible id of a prompt (the text itself is logged only with `log_prompts=True`)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def _from_dict(cls: Any, d: Any) -> Any:
    if not isinstance(d, dict):
        raise ValueError(f"a stored {cls.__name__} must be a JSON object, got {type(d).__name__}")
    names = {f.name for f in fields(cls)}
    missing = [f.name for f in fields(cls) if f.name in cls._required and f.name not in d]
    if missing:
        raise ValueError(f"a stored {cls.__name__} lacks {missing}")
    return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(slots=True)
class DecisionRow:
    """One cascade call, as logged. Everything but `request_id` is optional, so old rows stay readable."""

    _required = ("request_id",)

    request_id: str
    ts: float = field(default_factory=time.time)
    prompt_hash: str = ""
    #: the last user turn, only when the agent was built with `log_prompts=True`
    prompt: str | None = None
    complexity: str = ""
    answer_kind: str = ""
    strategy: str = "cascade"  # "cascade" or "direct"
    #: per model called: model, phase, input_tokens, output_tokens, cached_tokens, cache_write_tokens,
    #: reasoning_tokens, cost (None: no price), latency_ms, finish_reason, accepted
    attempts: list[dict[str, Any]] = field(default_factory=list)
    #: per check of the draft's decision: name, passed, score
    checks: list[dict[str, Any]] = field(default_factory=list)
    #: the draft's decision: accepted, score, threshold, reason, and `policy` when a fitted policy decided
    decision: dict[str, Any] | None = None
    draft_answer: str | None = None  # normalised extracted answer of the draft, when one can be extracted
    final_answer: str | None = None  # the same for the answer returned
    #: the numeric features the policy reads (see `learning.features`), so a refit needs no raw text
    features: dict[str, float] = field(default_factory=dict)
    #: None when a model called has no price (never logged as $0)
    total_cost: float | None = 0.0
    #: estimated cost of the strongest model alone (the engine's baseline), the price of a label; None: unknown
    baseline_cost: float | None = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    #: fingerprint of the cacheable prompt prefix (system prompt and tools; `cache_cost.prefix_fingerprint`)
    prefix_hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: Any) -> DecisionRow:
        return _from_dict(cls, d)  # type: ignore[no-any-return]

    @property
    def draft_accepted(self) -> bool | None:
        return None if self.decision is None else bool(self.decision.get("accepted"))


@dataclass(slots=True)
class Label:
    """How good an answer of a logged request was, in [0, 1] (1 = as good as the strong answer)."""

    _required = ("request_id", "score")

    request_id: str
    score: float
    source: str = "feedback"
    target: str = "draft"
    ts: float = field(default_factory=time.time)
    #: what the label cost to obtain (a shadow call), kept out of the request's total_cost
    cost: float = 0.0
    detail: str = ""
    #: how many requests it stands for: 1/shadow_rate for a shadow label (only that share of accepted
    #: drafts is labelled), 1 otherwise; the fit weighs labels by it
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.source not in LABEL_SOURCES:
            raise ValueError(f"label source {self.source!r} is not one of {', '.join(LABEL_SOURCES)}")
        if self.target not in LABEL_TARGETS:
            raise ValueError(f"label target {self.target!r} is not one of {', '.join(LABEL_TARGETS)}")
        if isinstance(self.score, bool) or not isinstance(self.score, (int, float)) or not 0.0 <= self.score <= 1.0:
            raise ValueError(f"label score must be a number in [0, 1], got {self.score!r}")
        self.score = float(self.score)
        if isinstance(self.weight, bool) or not isinstance(self.weight, (int, float)) or not self.weight > 0:
            raise ValueError(f"label weight must be a number > 0, got {self.weight!r}")
        self.weight = float(self.weight)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: Any) -> Label:
        return _from_dict(cls, d)  # type: ignore[no-any-return]


@dataclass(slots=True)
class PolicyRecord:
    """A published policy document (`Policy.to_dict()`) and its version (increasing per store)."""

    version: int
    doc: dict[str, Any]
    ts: float = 0.0


@dataclass(slots=True)
class StoreStats:
    written: int = 0
    #: rows and labels not written: the queue was full, or the backend kept failing
    dropped: int = 0
    queued: int = 0
    pruned: int = 0
    #: times a policy deciding on this store's labels lost its certified guarantee on live traffic
    guarantee_alarms: int = 0


class DecisionStore(abc.ABC):
    """Where decision rows, labels and the current policy live. Backends: `MemoryStore`, `SQLiteStore`.

    `append` and `add_label` are called on the request path: they must return at once, never raise,
    and drop (return False, count it in `stats.dropped`) rather than wait. Everything else is async.
    """

    #: retention: rows older than this many seconds are deleted (None: keep)
    max_age_s: float | None
    #: retention: at most this many rows are kept, oldest deleted first (None: no limit)
    max_rows: int | None
    #: raised by the agent's live guarantee check (counted here so `decision_log.stats` shows it)
    guarantee_alarms: int = 0

    @abc.abstractmethod
    def append(self, row: DecisionRow) -> bool:
        """Queue one decision row; False when dropped."""

    @abc.abstractmethod
    def add_label(self, label: Label) -> bool:
        """Queue one label; False when dropped."""

    @property
    @abc.abstractmethod
    def stats(self) -> StoreStats:
        """Counts of rows written, dropped, queued and pruned."""

    @abc.abstractmethod
    async def rows(self, *, since: float | None = None, limit: int | None = None) -> list[DecisionRow]:
        """Logged rows, oldest first (`since`: ts >= since; `limit`: the newest `limit`)."""

    @abc.abstractmethod
    async def labels(self, *, since: float | None = None) -> list[Label]:
        """Labels, oldest first."""

    @abc.abstractmethod
    async def prune(self) -> int:
        """Apply retention now (age, then row count); the number of rows deleted."""

    @abc.abstractmethod
    async def put_policy(self, doc: dict[str, Any]) -> int:
        """Publish a policy document; its new version."""

    @abc.abstractmethod
    async def get_policy(self) -> PolicyRecord | None:
        """The latest published policy, or None."""

    async def flush(self) -> None:
        """Wait until everything queued so far is written."""

    async def aclose(self) -> None:
        """Write what is queued, stop background work, release resources."""

    async def row(self, request_id: str) -> DecisionRow | None:
        """One row by request id (a scan by default; backends index it)."""
        return next((r for r in await self.rows() if r.request_id == request_id), None)


def check_retention(max_age_s: float | None, max_rows: int | None) -> None:
    if max_age_s is not None and not max_age_s > 0:
        raise ConfigError(f"max_age_s must be > 0 seconds or None (keep forever), got {max_age_s!r}")
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1):
        raise ConfigError(f"max_rows must be a positive integer or None (no limit), got {max_rows!r}")
