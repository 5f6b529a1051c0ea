"""Cache-aware routing: does a draft plus a likely escalation cost more than the strong model alone?

A cascade that escalates sends the whole prompt twice. With prompt caching, what each send costs
depends on each model's cache: a long system prompt read from the strong model's warm cache can
cost less than the same prompt written fresh to a cold draft model. The rule (`compare`):

    cascade = cost(draft) + p * cost(strong)        (p: probability the draft is escalated)
    direct  = cost(strong)
    cost(m) = prompt * (fresh share * input + cached share * cached_input + write share * cache_write)
              + expected output * output

and a request goes direct when `cascade > direct`. `CacheShareTracker` supplies the shares: per
prompt prefix (system prompt and tools: `prefix_fingerprint`) and member, the cached and written
share of the prompt on recent calls, their output tokens, and how often the draft was escalated.
The fitted policy can call `compare` with its own escalation probability.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from ._checks import estimate_prompt_tokens
from .models.prices import Price

__all__ = ["CacheAwareRouting", "CacheShareTracker", "CostComparison", "ModelCost", "call_cost", "compare",
           "prefer_direct", "prefix_fingerprint"]

#: Providers cache prompts of at least this many tokens (OpenAI 1024; Anthropic 1024-4096 by model).
MIN_CACHEABLE_TOKENS = 1024


@dataclass(frozen=True, slots=True)
class ModelCost:
    """What one call to a model is expected to cost: its price, the shares of the prompt read from and
    written to its cache (0..1), and its expected output tokens."""

    price: Price
    cached_share: float = 0.0
    write_share: float = 0.0
    output_tokens: float = 0.0


def call_cost(prompt_tokens: float, m: ModelCost) -> float:
    """USD of one call with a prompt of `prompt_tokens` tokens."""
    p = m.price
    read = min(max(m.cached_share, 0.0), 1.0)
    write = min(max(m.write_share, 0.0), 1.0 - read)
    pread = p.input if p.cached_input is None else p.cached_input
    pwrite = p.input if p.cache_write is None else p.cache_write
    per_token = (1.0 - read - write) * p.input + read * pread + write * pwrite
    return (prompt_tokens * per_token + m.output_tokens * p.output) / 1000.0


@dataclass(frozen=True, slots=True)
class CostComparison:
    """Expected USD of cascading (draft, then each escalation with its probability) and of going direct."""

    cascade_usd: float
    direct_usd: float
    p_escalate: float
    prompt_tokens: float
    #: the rule would go direct, but this request cascades to keep the estimates measured
    explored: bool = False

    @property
    def go_direct(self) -> bool:
        return self.cascade_usd > self.direct_usd and not self.explored

    def explain(self) -> str:
        return (f"prompt ~{self.prompt_tokens:.0f} tokens, p(escalate)={self.p_escalate:.2f}: cascade "
                f"${self.cascade_usd:.6f} vs direct ${self.direct_usd:.6f}")


def compare(prompt_tokens: float, chain: Sequence[ModelCost], p_escalate: float | Sequence[float]) -> CostComparison:
    """Expected cost of the cascade over `chain` (cheapest first) against its last model alone.

    `p_escalate` is the probability that a model's answer is escalated to the next one: one number
    for every level, or one per level but the last. Each escalation re-sends the prompt.
    """
    if not chain:
        raise ConfigError("compare needs the chain's models, cheapest first")
    ps = [float(p_escalate)] * (len(chain) - 1) if isinstance(p_escalate, (int, float)) else list(p_escalate)
    if len(ps) < len(chain) - 1 or any(not 0.0 <= p <= 1.0 for p in ps):
        raise ConfigError(f"p_escalate must be probabilities in [0, 1], one per level but the last, got {p_escalate!r}")
    cascade, reach = 0.0, 1.0
    for i, m in enumerate(chain):
        cascade += reach * call_cost(prompt_tokens, m)
        if i < len(chain) - 1:
            reach *= ps[i]
    return CostComparison(cascade, call_cost(prompt_tokens, chain[-1]), ps[0] if ps else 0.0, prompt_tokens)


def prefer_direct(prompt_tokens: float, chain: Sequence[ModelCost], p_escalate: float | Sequence[float]) -> bool:
    """True when a draft plus its likely escalations costs more than the strong model alone."""
    return compare(prompt_tokens, chain, p_escalate).go_direct


def prefix_fingerprint(messages: Sequence[Any], tools: Any = None) -> str:
    """A stable id of the cacheable prefix every call of an agent shares: its system messages and tools."""
    h = hashlib.blake2b(digest_size=12)
    for m in messages:
        if getattr(m, "role", None) == "system":
            h.update(str(getattr(m, "text", "")).encode("utf-8", "surrogatepass"))
            h.update(b"\x00")
    if tools:
        h.update(json.dumps(tools, sort_keys=True, default=str).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


@dataclass(slots=True)
class _Seen:
    ts: float
    cached_share: float
    write_share: float
    output_tokens: int


class _Prefix:
    __slots__ = ("models", "escalated", "direct_streak")

    def __init__(self, window: int) -> None:
        self.models: dict[str, deque[_Seen]] = {}
        self.escalated: deque[bool] = deque(maxlen=window)
        self.direct_streak = 0


class CacheShareTracker:
    """Recent cache shares per (prompt prefix, member), bounded: `max_prefixes` prefixes (least recently
    seen dropped), `window` calls each. A member's cache counts as cold once its last call on a
    prefix is older than `cache_ttl_s` (providers keep caches about 5 minutes). Thread-safe."""

    def __init__(self, *, max_prefixes: int = 2048, window: int = 16, cache_ttl_s: float = 300.0) -> None:
        if max_prefixes < 1 or window < 1 or cache_ttl_s <= 0:
            raise ConfigError("CacheShareTracker needs max_prefixes >= 1, window >= 1 and cache_ttl_s > 0")
        self.max_prefixes = max_prefixes
        self.window = window
        self.cache_ttl_s = cache_ttl_s
        self._prefixes: OrderedDict[str, _Prefix] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._prefixes)

    def _entry(self, prefix: str) -> _Prefix:
        entry = self._prefixes.get(prefix)
        if entry is None:
            entry = self._prefixes[prefix] = _Prefix(self.window)
            while len(self._prefixes) > self.max_prefixes:
                self._prefixes.popitem(last=False)
        else:
            self._prefixes.move_to_end(prefix)
        return entry

    def record(self, prefix: str, attempts: Iterable[dict[str, Any]], escalated: bool | None,
               ts: float | None = None) -> None:
        """One call: its attempts (model, input_tokens, cached_tokens, cache_write_tokens, output_tokens),
        and whether its draft was escalated (None: no draft, e.g. routed direct)."""
        now = time.monotonic() if ts is None else ts
        with self._lock:
            entry = self._entry(prefix)
            for a in attempts:
                inp = int(a.get("input_tokens") or 0)
                if inp <= 0 or a.get("error"):
                    continue
                seen = entry.models.setdefault(str(a.get("model")), deque(maxlen=self.window))
                seen.append(_Seen(now, min(int(a.get("cached_tokens") or 0) / inp, 1.0),
                                  min(int(a.get("cache_write_tokens") or 0) / inp, 1.0),
                                  int(a.get("output_tokens") or 0)))
            if escalated is not None:
                entry.escalated.append(bool(escalated))

    def observe(self, prefix: str, result: Any) -> None:
        """Record a finished `CascadeResult`."""
        attempts = [{"model": a.model, "input_tokens": a.usage.input_tokens, "cached_tokens": a.usage.cached_tokens,
                     "cache_write_tokens": a.usage.cache_write_tokens, "output_tokens": a.usage.output_tokens,
                     "error": a.error or a.aborted} for a in result.attempts]
        escalated = None if result.strategy != "cascade" or not result.attempts else not result.draft_accepted
        self.record(prefix, attempts, escalated)

    def observe_rows(self, rows: Iterable[Any]) -> int:
        """Seed from decision-log rows (`DecisionRow`s carrying `prefix_hash`); returns how many were used.

        Rows are from the past: their caches count as cold, only escalations and output sizes are used.
        """
        n = 0
        stale = time.monotonic() - 2 * self.cache_ttl_s
        for row in rows:
            prefix = getattr(row, "prefix_hash", "")
            if not prefix:
                continue
            escalated = None
            if getattr(row, "strategy", "cascade") == "cascade" and row.decision is not None:
                escalated = not bool(row.decision.get("accepted"))
            self.record(prefix, row.attempts, escalated, ts=stale)
            n += 1
        return n

    def p_escalate(self, prefix: str, min_calls: int = 2) -> float | None:
        """The recent escalation rate of drafts on this prefix (None: fewer than `min_calls` drafts seen)."""
        with self._lock:
            entry = self._prefixes.get(prefix)
            if entry is None or len(entry.escalated) < min_calls:
                return None
            # a Beta(1, 1) prior: a few calls never make escalation certain or impossible
            return (sum(entry.escalated) + 1) / (len(entry.escalated) + 2)

    def explore(self, prefix: str, every: int) -> bool:
        """Count one request of `prefix` the rule would send direct; True when this one should cascade."""
        with self._lock:
            entry = self._entry(prefix)
            entry.direct_streak += 1
            if every and entry.direct_streak >= every:
                entry.direct_streak = 0
                return True
            return False

    def model_cost(self, prefix: str, label: str, price: Price, now: float | None = None) -> ModelCost:
        """`label`'s expected call on this prefix: its recent shares (cold when stale or unseen) and output."""
        now = time.monotonic() if now is None else now
        with self._lock:
            entry = self._prefixes.get(prefix)
            seen = list(entry.models.get(label, ())) if entry is not None else []
            others = [s for d in entry.models.values() for s in d] if entry is not None else []
        out = seen or others
        output = sum(s.output_tokens for s in out) / len(out) if out else 0.0
        if not seen or now - seen[-1].ts > self.cache_ttl_s:
            return ModelCost(price, 0.0, 0.0, output)  # cold: every prompt token fresh
        recent = seen[-min(len(seen), 4):]
        return ModelCost(price, sum(s.cached_share for s in recent) / len(recent),
                         sum(s.write_share for s in recent) / len(recent), output)


class CacheAwareRouting:
    """The router's cache rule: after the router chose to cascade, go direct when the tracker's recent
    shares say a draft plus its likely escalation costs more than the strong model alone.

    It decides only for prompts of at least `min_prompt_tokens` (estimated; providers cache nothing
    shorter), prefixes with at least `min_calls` recent drafts, and chains whose members are all priced.
    After `explore_every - 1` requests of a prefix sent direct in a row, the next one cascades, so the
    escalation rate and the draft's cache stay measured (0: never).
    """

    def __init__(self, *, min_prompt_tokens: int = MIN_CACHEABLE_TOKENS, min_calls: int = 2,
                 explore_every: int = 8, tracker: CacheShareTracker | None = None) -> None:
        if min_prompt_tokens < 0 or min_calls < 1 or explore_every < 0:
            raise ConfigError("CacheAwareRouting needs min_prompt_tokens >= 0, min_calls >= 1, explore_every >= 0")
        self.min_prompt_tokens = min_prompt_tokens
        self.min_calls = min_calls
        self.explore_every = explore_every
        self.tracker = tracker or CacheShareTracker()
        #: requests this rule sent direct, and requests it looked at
        self.sent_direct = 0
        self.decided = 0

    def costs(self, prefix: str, chain: Sequence[Any]) -> list[ModelCost] | None:
        """The chain's expected calls on this prefix (None when a member has no price)."""
        out = []
        for m in chain:
            price = getattr(m, "unit_price", None)
            if not isinstance(price, Price):
                return None
            out.append(self.tracker.model_cost(prefix, m.label, price))
        return out

    def decide(self, messages: Sequence[Any], tools: Any, chain: Sequence[Any],
               p_escalate: float | None = None) -> CostComparison | None:
        """The comparison for this request, or None when the rule does not apply."""
        if len(chain) < 2:
            return None
        prompt = estimate_prompt_tokens(messages, tools)
        if prompt < self.min_prompt_tokens:
            return None
        prefix = prefix_fingerprint(messages, tools)
        p = p_escalate if p_escalate is not None else self.tracker.p_escalate(prefix, self.min_calls)
        if p is None:
            return None
        costs = self.costs(prefix, chain)
        if costs is None:
            return None
        self.decided += 1
        cmp = compare(prompt, costs, p)
        if cmp.go_direct and not self.tracker.explore(prefix, self.explore_every):
            self.sent_direct += 1
            return cmp
        return CostComparison(cmp.cascade_usd, cmp.direct_usd, cmp.p_escalate, cmp.prompt_tokens, explored=cmp.go_direct)

    async def seed(self, store: Any, *, max_rows: int = 2000, max_age_s: float = 86_400.0) -> int:
        """Learn escalation rates and output sizes from the decision log's recent rows (once, in the background)."""
        rows = await store.rows(since=time.time() - max_age_s, limit=max_rows)
        return self.tracker.observe_rows(rows)

    def observe(self, result: Any, messages: Sequence[Any], tools: Any) -> None:
        """Record a finished call (cheap: a few dict and deque operations, on the event loop)."""
        if estimate_prompt_tokens(messages, tools) >= self.min_prompt_tokens:
            self.tracker.observe(prefix_fingerprint(messages, tools), result)
