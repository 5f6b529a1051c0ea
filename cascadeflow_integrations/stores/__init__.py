"""The stores: the decision log and policy (`DecisionStore`: `MemoryStore`, `SQLiteStore`, `RedisStore`)
and the budgets' amounts (`BudgetStore`: `MemoryBudgetStore`, `RedisStore`).

    from cascadeflow_integrations.stores import SQLiteStore
    agent = CascadeAgent(models, decision_log=SQLiteStore("cascade.db"))   # or decision_log="cascade.db"
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._url import is_redis_url
from .base import (
    LABEL_SOURCES,
    LABEL_TARGETS,
    DecisionRow,
    DecisionStore,
    Label,
    PolicyRecord,
    StoreStats,
    prompt_fingerprint,
)
from .budget import BudgetStore, MemoryBudgetStore, ReserveResult
from .follow import PolicyFollower
from .memory import MemoryStore
from .sqlite import SQLiteStore


def __getattr__(name: str) -> Any:
    if name == "RedisStore":  # imported on first use: it needs the [redis] extra
        from .redis import RedisStore

        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(spec: Any) -> DecisionStore:
    """A store from `decision_log=`: a store instance, or a path to a SQLite file (":memory:" for memory)."""
    if isinstance(spec, DecisionStore):
        return spec
    if is_redis_url(spec):
        from .redis import RedisStore

        return RedisStore(spec)
    if isinstance(spec, (str, Path)):
        if str(spec) == ":memory:":
            return MemoryStore()
        return SQLiteStore(spec)
    raise ConfigError(
        f"decision_log={spec!r} is neither a path nor a store: pass a file path such as 'cascade.db', "
        "':memory:', or a DecisionStore (SQLiteStore(...), MemoryStore())"
    )


__all__ = [
    "LABEL_SOURCES",
    "LABEL_TARGETS",
    "BudgetStore",
    "DecisionRow",
    "DecisionStore",
    "Label",
    "MemoryBudgetStore",
    "MemoryStore",
    "PolicyFollower",
    "PolicyRecord",
    "RedisStore",
    "ReserveResult",
    "SQLiteStore",
    "StoreStats",
    "open_store",
    "prompt_fingerprint",
]
