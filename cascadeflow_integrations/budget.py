"""Cost budgets per user or tenant: reserve a call's worst-case cost before it, settle the real cost after.

A `Budget` holds a limit in USD per key (a tenant, a user: `per=`) and per window (a UTC day or
month, or the whole lifetime). Before a call the engine reserves the call's worst case (every model
the call may use, input tokens bounded by the prompt's UTF-8 bytes and priced as cache writes when
those cost more than fresh input, output by `max_tokens`), so
concurrent calls can never spend past the limit together; after it, the reservation is replaced by
the real cost. The store keeps the amounts: in memory by default (one process), or a `RedisStore`
(shared by a fleet, updated atomically on the server).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from ._checks import check_real, check_whole
from .errors import BudgetError, BudgetExceededError, BudgetUnavailableError, CascadeError, ConfigError  # noqa: F401 - re-exported
from .cascade.hooks import RoutePlan, RunHook
# the store side moved to stores/budget.py; these names stay here (the same objects)
from .stores.budget import NANO, BudgetStore, MemoryBudgetStore, ReserveResult, to_nano  # noqa: F401 - re-exported

logger = logging.getLogger("cascadeflow_integrations")

Window = Literal["day", "month"]
OnExceed = Literal["drafts_only", "refuse", "allow"]
OnStoreError = Literal["open", "closed"]

#: Output tokens assumed when neither the call's `max_tokens` nor the model's `max_output_tokens` is known.
DEFAULT_MAX_TOKENS = 4096
#: Tokens a provider adds around each message (role, separators): generous, so the bound holds.
_TOKENS_PER_MESSAGE = 8
#: Largest limit: amounts are 64-bit integers of nano-USD on Redis (2**63 nano-USD is about 9.2e9 USD).
MAX_LIMIT_USD = 1e9
#: Largest reservation_ttl (about 30 years: in effect, never released).
MAX_TTL_S = 1e9
#: Largest default_max_tokens (no model answers with more).
MAX_TOKENS = 100_000_000


#: Buckets remembered as already reported over the limit (one warning per key and window).
_MAX_OVER_REMEMBERED = 10_000


def _window_name(bucket: str, key: str) -> str:
    return f"window {bucket[len(key) + 1:]}" if len(bucket) > len(key) else "its lifetime (no window)"


def _price(model: Any, input_tokens: int, output_tokens: int, unpriced: float | None = None) -> float:
    """Worst-case USD for these tokens: every prompt token at the member's dearest prompt price (a cache
    write may cost more than fresh input), output at its output price; an unpriced member at `unpriced`."""
    from .models.prices import Price
    from .types import Usage

    unit = getattr(model, "unit_price", None)
    if isinstance(unit, Price):
        return (input_tokens * unit.max_input + output_tokens * unit.output) / 1000.0
    price = getattr(model, "price", None)
    if callable(price):
        cost = price(Usage(input_tokens, output_tokens))
        if cost is not None:
            return float(cost)
    elif isinstance(price, Price):  # a ModelConfig
        return (input_tokens * price.max_input + output_tokens * price.output) / 1000.0
    return (input_tokens + output_tokens) * (unpriced or 0.0) / 1000.0


def _is_priced(model: Any) -> bool:
    has = getattr(model, "has_price", None)
    if isinstance(has, bool):
        return has
    price = getattr(model, "price", None)
    if callable(price):
        from .types import Usage

        return price(Usage(1, 1)) is not None
    return price is not None


@dataclass(slots=True)
class BudgetHold:
    """One call's reservation, and what the budget did to the call (reported on events and results)."""

    budget: Budget
    key: str
    bucket: str
    reservation_id: str
    reserved_usd: float
    spent_usd: float
    #: "none", "drafts_only" (escalation blocked), "allowed_over_limit", or "store_unavailable" (failed open)
    action: str
    expire_s: int | None
    held: bool
    settled: bool = False
    #: set by the engine when the budget made a draft final that the validator had rejected
    changed_decision: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "limit_usd": self.budget.limit_usd, "spent_usd": self.spent_usd,
                "reserved_usd": self.reserved_usd, "window": self.budget.window, "action": self.action,
                "changed_decision": self.changed_decision}

    async def settle(self, actual_usd: float) -> None:
        """Replace the reservation by the real cost (once; bounded by the budget's timeout)."""
        if self.settled:
            return
        self.settled = True
        await self.budget._settle(self, actual_usd)


async def _ready(store: Any) -> None:
    """The store's client library imported, off the loop, before a timeout starts: start-up must not eat it."""
    ready = getattr(store, "ready", None)
    if ready is not None:
        await ready()


class Budget:
    """A spend limit per key and window, enforced before each call.

    - `limit_usd`: the limit per key and window.
    - `per`: how a call's key is found: a function of the call's metadata (a mapping) returning the
      key, or the name of a metadata field; `None` means one budget for every call. A call's
      `budget_key="tenant-42"` (a string) is the key itself; `budget_key={...}` is the metadata.
    - `window`: `"day"` or `"month"` (UTC calendar periods), or `None` for no reset.
    - `on_exceed`: `"drafts_only"` (answer with the draft, never escalate; refuse if even the draft
      does not fit), `"refuse"` (`BudgetExceededError`), or `"allow"` (run, and report it).
    - `store`: a `BudgetStore` (e.g. `RedisStore`); default the agent's store, else in memory.
    - `on_store_error`: when the store cannot be reached within `timeout` seconds, `"open"` runs the
      call unbudgeted (logged), `"closed"` fails it with `BudgetUnavailableError`.
    - `reservation_ttl`: seconds after which a reservation of a process that died is released.
    - `default_max_tokens`: output tokens reserved when neither `max_tokens` nor the model's
      `max_output_tokens` is known.
    - `unpriced_cost`: USD per 1K tokens (input and output) at which members without a price are
      reserved and settled. Without it, a chain with an unpriced member is refused (`ValueError`):
      its spend would count as $0 and the budget would never bind.
    """

    def __init__(self, limit_usd: float, *, per: str | Callable[[Mapping[str, Any]], str] | None = None,
                 window: Window | None = None, on_exceed: OnExceed = "drafts_only", store: Any = None,
                 on_store_error: OnStoreError = "open", timeout: float = 1.0, reservation_ttl: float = 600.0,
                 default_max_tokens: int = DEFAULT_MAX_TOKENS, unpriced_cost: float | None = None) -> None:
        limit_usd = check_real("Budget limit_usd", limit_usd, ge=0, le=MAX_LIMIT_USD, unit=" of USD",
                               fix=" (for no limit, leave budget= unset)")
        timeout = check_real("Budget timeout", timeout, gt=0, unit=" of seconds", fix=" (e.g. timeout=1)")
        reservation_ttl = check_real("Budget reservation_ttl", reservation_ttl, gt=0, le=MAX_TTL_S, unit=" of seconds",
                                     fix=" (above your longest call, e.g. reservation_ttl=600)")
        default_max_tokens = check_whole("Budget default_max_tokens", default_max_tokens, ge=1, le=MAX_TOKENS,
                                         unit=" of tokens", fix=f" (e.g. default_max_tokens={DEFAULT_MAX_TOKENS})")
        if window not in (None, "day", "month"):
            raise ConfigError(f"Budget window {window!r} is not one of 'day', 'month' or None")
        if on_exceed not in ("drafts_only", "refuse", "allow"):
            raise ConfigError(f"Budget on_exceed {on_exceed!r} is not one of 'drafts_only', 'refuse', 'allow'")
        if on_store_error not in ("open", "closed"):
            raise ConfigError(f"Budget on_store_error {on_store_error!r} is not one of 'open', 'closed'")
        if not (per is None or isinstance(per, str) or callable(per)):
            raise ConfigError("Budget per= must be a metadata field name, a function metadata -> key, or None")
        if store is not None and not isinstance(store, BudgetStore):
            raise ConfigError(f"Budget store {type(store).__name__} does not keep budgets: use RedisStore(url) "
                             "or leave store unset for the in-memory store")
        if unpriced_cost is not None:
            unpriced_cost = check_real("Budget unpriced_cost", unpriced_cost, ge=0, le=MAX_LIMIT_USD,
                                       unit=" of USD per 1K tokens", fix=" (e.g. unpriced_cost=0.01)")
        self.unpriced_cost = unpriced_cost
        self.limit_usd = float(limit_usd)
        self.per = per
        self.window = window
        self.on_exceed = on_exceed
        self.on_store_error = on_store_error
        self.timeout = timeout
        self.reservation_ttl = reservation_ttl
        self.default_max_tokens = default_max_tokens
        self._store: BudgetStore | None = store
        self._warned: dict[str, tuple[float, int]] = {}  # kind of line -> (last logged, lines left out since)
        self._over: dict[str, None] = {}  # buckets already reported over their limit (insertion ordered)
        self._over_lock = threading.Lock()  # sync calls run on other loops' threads

    def __repr__(self) -> str:
        return (f"Budget(limit_usd={self.limit_usd}, per={self.per!r}, window={self.window!r}, "
                f"on_exceed={self.on_exceed!r})")

    @property
    def store(self) -> BudgetStore:
        if self._store is None:
            self._store = MemoryBudgetStore()
        return self._store

    def bind(self, store: Any) -> None:
        """Use `store` (the agent's) when no store was given."""
        if self._store is None and isinstance(store, BudgetStore):
            self._store = store

    # ---- keys and windows ----------------------------------------------------------------------

    def key_for(self, budget_key: str | Mapping[str, Any] | None = None) -> str:
        """The key of a call: its `budget_key` string, or `per` applied to its metadata."""
        if isinstance(budget_key, str):
            if not budget_key:
                raise ConfigError("budget_key is empty: pass the tenant or user id, e.g. budget_key='tenant-42'")
            return budget_key
        if budget_key is not None and not isinstance(budget_key, Mapping):
            raise ConfigError(f"budget_key must be a string or a mapping of metadata, got {type(budget_key).__name__}")
        meta = budget_key or {}
        if self.per is None:
            key = meta.get("budget_key", "default")
        elif isinstance(self.per, str):
            if self.per not in meta:
                raise ConfigError(f"Budget(per={self.per!r}) needs the call's metadata field {self.per!r}: pass "
                                 f"budget_key={{{self.per!r}: ...}} (LangChain: config metadata), or budget_key='...'")
            key = meta[self.per]
        else:
            key = self.per(meta)
        if not isinstance(key, str) or not key:
            raise ConfigError(f"the budget key must be a non-empty string, got {key!r}")
        return key

    def bucket(self, key: str, now: datetime | None = None) -> tuple[str, int | None]:
        """The store's name for (key, current window), and seconds until it may be forgotten."""
        if self.window is None:
            return key, None
        now = now or datetime.now(timezone.utc)
        if self.window == "day":
            period = now.strftime("%Y-%m-%d")
            end = datetime(now.year, now.month, now.day, tzinfo=timezone.utc).timestamp() + 86_400
        else:
            period = now.strftime("%Y-%m")
            nxt = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=timezone.utc)
            end = nxt.timestamp()
        # kept a day past the window's end, so late settlements still land in their own window
        return f"{key}@{period}", int(end - now.timestamp()) + 86_400

    # ---- pricing ---------------------------------------------------------------------------------

    def check_chain(self, members: Sequence[Any]) -> None:
        """Refuse a chain with an unpriced member unless `unpriced_cost` says what it costs."""
        if self.unpriced_cost is not None:
            return
        for m in members:
            if not _is_priced(m):
                label = getattr(m, "label", None) or getattr(m, "name", "?")
                raise ConfigError(
                    f"Budget cannot bind on a chain with member {label!r}: it has no price, so its spend would count "
                    f"as $0. Give it a price (ModelConfig(input_cost=..., output_cost=...) or Member(model, "
                    f"input_cost=..., output_cost=...)), or say what unpriced members cost: "
                    f"Budget(..., unpriced_cost=USD per 1K tokens)")

    def call_cost(self, attempts: Sequence[Any], validator_cost: float = 0.0) -> float:
        """What a finished call spent, for settling: each attempt's cost, an unpriced one at `unpriced_cost`."""
        total = validator_cost or 0.0
        for a in attempts:
            if a.cost is not None:
                total += a.cost
            elif self.unpriced_cost is not None:
                total += a.usage.total_tokens * self.unpriced_cost / 1000.0
        return total

    # ---- worst case ------------------------------------------------------------------------------

    def worst_case_usd(self, models: Sequence[Any], messages: Sequence[Any], tools: Any = None,
                       max_tokens: int | None = None) -> float:
        """Upper bound of a call's cost if every model in `models` is called.

        Input tokens are bounded by the prompt's UTF-8 bytes (byte-level tokenizers never produce more
        tokens than bytes) plus a few per message; output tokens by `max_tokens`, else the model's
        `max_output_tokens`, else `default_max_tokens`.
        """
        size = _TOKENS_PER_MESSAGE * len(messages)
        for m in messages:
            content = getattr(m, "content", "")
            size += len(content.encode("utf-8")) if isinstance(content, str) else len(
                json.dumps(content, default=str).encode("utf-8"))
            for call in getattr(m, "tool_calls", None) or ():
                size += len(json.dumps(getattr(call, "arguments", call), default=str).encode("utf-8")) + 16
        if tools:
            size += len(json.dumps(tools, default=str).encode("utf-8"))
        total = 0.0
        for cfg in models:
            cap = getattr(cfg, "max_output_tokens", None)
            out = min(max_tokens, cap) if max_tokens and cap else (max_tokens or cap or self.default_max_tokens)
            total += _price(cfg, size, out, self.unpriced_cost)
        return total

    # ---- reserve and settle --------------------------------------------------------------------

    async def reserve(self, key: str, amount_usd: float, *, force: bool = False) -> tuple[BudgetHold, ReserveResult | None]:
        """Try to reserve `amount_usd` under `key`. Returns the hold and the store's answer (None if unreachable)."""
        bucket, expire_s = self.bucket(key)
        rid = uuid.uuid4().hex
        hold = BudgetHold(self, key, bucket, rid, amount_usd, 0.0, "none", expire_s, held=False)
        amount = to_nano(amount_usd)  # outside the try: a bad amount is not the store's failure
        try:
            await _ready(self.store)
            res = await asyncio.wait_for(self.store.budget_reserve(
                bucket, rid, amount, to_nano(self.limit_usd), self.reservation_ttl, expire_s, force),
                self.timeout)
        except Exception as e:  # the store is down or slow: fail as configured, never hang
            return self._unavailable(hold, e), None
        hold.spent_usd = res.spent / NANO
        hold.held = res.granted
        return hold, res

    def _log(self, kind: str, level: int, msg: str, *args: Any) -> None:
        """One line per outage, not one per call: each kind at most every 10 s, with the count left out."""
        now = time.monotonic()
        last, left_out = self._warned.get(kind, (-1e9, 0))
        if now - last < 10.0:
            self._warned[kind] = (last, left_out + 1)
            return
        if left_out:
            msg += f" ({left_out} more since the last such line)"
        self._warned[kind] = (now, 0)
        logger.log(level, msg, *args)

    def _first_over(self, bucket: str) -> bool:
        """True once per bucket (key and window) going over its limit; bounded, oldest forgotten first."""
        with self._over_lock:
            if bucket in self._over:
                return False
            self._over[bucket] = None
            if len(self._over) > _MAX_OVER_REMEMBERED:
                del self._over[next(iter(self._over))]
            return True

    def _unavailable(self, hold: BudgetHold, e: BaseException) -> BudgetHold:
        what = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        if self.on_store_error == "closed":
            self._log("closed", logging.ERROR, "budget store unreachable (%s): refusing calls for budget %r (fail closed)",
                      what, hold.key)
            raise BudgetUnavailableError(
                f"the budget store could not be reached ({what}); budget {hold.key!r} fails closed") from e
        self._log("open", logging.WARNING, "budget store unreachable (%s): running calls unbudgeted for %r (fail open)",
                  what, hold.key)
        hold.action = "store_unavailable"
        return hold

    async def _settle(self, hold: BudgetHold, actual_usd: float) -> None:
        # Settled by id even when the reservation seemed to fail: its reply may have been lost after
        # it landed, and settling is idempotent, so this both releases it and counts the spend once.
        try:
            await _ready(self.store)
            await asyncio.wait_for(self.store.budget_settle(hold.bucket, hold.reservation_id, to_nano(actual_usd),
                                                            hold.expire_s), self.timeout)
        except Exception as e:
            requeue = getattr(self.store, "defer_settle", None)
            if requeue is not None:
                requeue(hold.bucket, hold.reservation_id, to_nano(actual_usd), hold.expire_s)
                self._log("settle", logging.WARNING, "budget store unreachable while settling %r (%s: %s): queued, sent "
                          "before the next budget operation", hold.key, type(e).__name__, e)
            else:
                logger.error("budget settlement for %r lost (%s: %s)", hold.key, type(e).__name__, e)

    async def spent(self, budget_key: str | Mapping[str, Any] | None = None) -> float:
        """Settled spend of a key in the current window, in USD."""
        bucket, _ = self.bucket(self.key_for(budget_key))
        await _ready(self.store)
        spent, _ = await asyncio.wait_for(self.store.budget_usage(bucket), self.timeout)
        return spent / NANO

    async def plan(self, budget_key: str | Mapping[str, Any] | None, chain: Sequence[Any], draft_model: Any,
                   messages: Sequence[Any], tools: Any, max_tokens: int | None) -> tuple[BudgetHold, bool]:
        """Reserve for a call about to run `chain`. Returns the hold and whether escalation is blocked.

        Raises `BudgetExceededError` when the call is refused, `BudgetUnavailableError` when the store
        is down and the budget fails closed.
        """
        key = self.key_for(budget_key)
        need = self.worst_case_usd(chain, messages, tools, max_tokens)
        hold, res = await self.reserve(key, need)
        if res is None or res.granted:
            return hold, False
        if self.on_exceed == "allow":
            hold, res2 = await self.reserve(key, need, force=True)
            if res2 is not None:
                hold.action = "allowed_over_limit"
                if self._first_over(hold.bucket):
                    logger.warning(
                        "budget %r over its limit in %s: $%.6f spent + $%.6f reserved by calls in flight + up to "
                        "$%.6f for this call > limit $%.6f; calls allowed (on_exceed='allow'), logged once per key "
                        "and window", key, _window_name(hold.bucket, key), res.spent / NANO, res.reserved / NANO,
                        need, self.limit_usd)
            return hold, False
        if self.on_exceed == "drafts_only" and (len(chain) > 1 or chain[0] is not draft_model):
            need_draft = self.worst_case_usd([draft_model], messages, tools, max_tokens)
            hold, res2 = await self.reserve(key, need_draft)
            if res2 is None or res2.granted:
                if res2 is not None:
                    hold.action = "drafts_only"
                    logger.info("budget %r: escalation would exceed the limit; answering with the draft", key)
                return hold, res2 is not None
            res = res2
            need = need_draft
        logger.info("budget %r exceeded: call refused", key)
        raise BudgetExceededError(key, self.limit_usd, res.spent / NANO, res.reserved / NANO, need)


class BudgetHook(RunHook):
    """A call's budget as a run hook: reserve when routed (refuse, or allow the draft only), make a capped
    draft the answer, settle the actual cost however the call ends."""

    def __init__(self, budget: Budget, key: Any) -> None:
        self.budget = budget
        self.key = key
        self.hold: BudgetHold | None = None
        self.capped = False

    async def on_route(self, run: Any, routing: Any, routed: list[Any], plan: RoutePlan) -> None:
        opts, res = run.opts, run.result
        try:
            self.hold, self.capped = await self.budget.plan(
                self.key, plan.chain, run.available[0], run.messages, opts.tools, opts.max_tokens)
        except (BudgetExceededError, BudgetUnavailableError) as e:
            plan.refused, plan.refused_phase = e, "budget"
            plan.extra["budget"] = res.budget = {
                "key": getattr(e, "key", None), "limit_usd": self.budget.limit_usd,
                "spent_usd": getattr(e, "spent_usd", None), "window": self.budget.window,
                "action": "refused", "changed_decision": True}
        else:
            if self.capped:
                plan.chain, plan.final_draft = run.available[:1], True
            plan.extra["budget"] = res.budget = self.hold.to_dict()

    async def on_decision(self, run: Any, request: Any, decision: dict[str, Any]) -> None:
        if self.capped and not decision["accepted"] and self.hold is not None:
            # The validator would escalate, but the budget allows the draft only: it is the answer.
            # `accepted` says what the cascade did (consumers release the held draft on it); the
            # validator's verdict stays readable.
            decision.update(accepted=True, validator_accepted=False, budget_override=True,
                            reason=f"budget {self.hold.key!r}: escalation would exceed the limit "
                                   f"(validator: {decision['reason']})")
            self.hold.changed_decision = True
            run.result.budget = self.hold.to_dict()

    async def on_close(self, run: Any, complete: bool, error: BaseException | None) -> None:
        if self.hold is not None:
            hold, self.hold = self.hold, None
            res = run.result
            await hold.settle(hold.budget.call_cost(res.attempts, res.validator_cost))
