"""Checks of call options, shared by `CascadeAgent` and the adapters' fields.

Each returns the normalised value or raises `ConfigError` (a ValueError) naming the problem and the fix, so bad input
fails before any network call (and, for adapter fields, at construction).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from .errors import ConfigError
from .types import COMPLEXITIES, Message


def _show(v: Any) -> str:
    r = repr(v)
    return (r if len(r) <= 60 else r[:57] + "...") + ("" if v is None else f" ({type(v).__name__})")


def _number(v: Any) -> bool:
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int too large for a float
        return False


def _num(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def _bounds(ge: float | None, gt: float | None, le: float | None) -> str:
    low = f">= {_num(ge)}" if ge is not None else f"> {_num(gt)}" if gt is not None else ""
    high = f"<= {_num(le)}" if le is not None else ""
    return " " + " and ".join(b for b in (low, high) if b) if low or high else ""


def check_real(name: str, v: Any, *, ge: float | None = None, gt: float | None = None, le: float | None = None,
               unit: str = "", fix: str = "") -> float:
    """A finite number (not a bool, NaN or infinity) within the bounds, as a float.

    Else a `ValueError` naming `name`, the bounds and `fix` (e.g. " (e.g. timeout=30)").
    """
    if _number(v) and (ge is None or v >= ge) and (gt is None or v > gt) and (le is None or v <= le):
        return float(v)
    raise ConfigError(f"{name} must be a finite number{unit}{_bounds(ge, gt, le)}{fix}, got {_show(v)}")


def check_whole(name: str, v: Any, *, ge: int = 1, le: int | None = None, unit: str = "", fix: str = "") -> int:
    """An int (not a bool or a float such as 2.5 or 2.0) within the bounds; else a `ValueError` naming `name`."""
    if isinstance(v, int) and not isinstance(v, bool) and v >= ge and (le is None or v <= le):
        return v
    raise ConfigError(f"{name} must be a whole number{unit}{_bounds(ge, None, le)}{fix}, got {_show(v)}")


def check_max_tokens(v: Any, name: str = "max_tokens") -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise ConfigError(f"{name} must be a positive integer (a number of tokens, e.g. 512), got {_show(v)}")
    return v


def check_temperature(v: Any) -> float | None:
    if v is None:
        return None
    if not _number(v) or not 0 <= v <= 2:
        raise ConfigError(f"temperature must be a number between 0 and 2 (e.g. 0.7), got {_show(v)}")
    return float(v)


def check_stop(v: Any) -> list[str] | None:
    """None, a string or a list of non-empty strings, as a list (None when empty)."""
    if v is None:
        return None
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, (list, tuple)) or not all(isinstance(s, str) and s for s in items):
        raise ConfigError(f"stop must be a non-empty string or a list of them (e.g. stop=['\\n\\n']), got {_show(v)}")
    return list(items) or None


def check_seconds(name: str, v: Any) -> float | None:
    if v is None:
        return None
    if not _number(v) or v <= 0:
        raise ConfigError(f"{name} must be a number of seconds > 0 (e.g. {name}=30), got {_show(v)}")
    return float(v)


def check_threshold(v: Any) -> float | dict[str, float] | None:
    """None, one threshold in [0, 1], or a dict of them per complexity level."""
    if v is None:
        return None
    if isinstance(v, dict):
        for k, t in v.items():
            if not _number(t) or not 0 <= t <= 1:
                raise ConfigError(f"quality_threshold[{k!r}] must be a number between 0 and 1, got {_show(t)}")
        return v
    if not _number(v) or not 0 <= v <= 1:
        raise ConfigError("quality_threshold must be a number between 0 and 1 (or a dict of them per complexity "
                         f"level), got {_show(v)}")
    return float(v)


def check_complexity(v: Any) -> str | None:
    if v is not None and (not isinstance(v, str) or v not in COMPLEXITIES):
        raise ConfigError(f"complexity_hint {_show(v)} is not one of {', '.join(COMPLEXITIES)}")
    return v


def check_flag(name: str, v: Any) -> bool | None:
    if v is not None and not isinstance(v, bool):
        raise ConfigError(f"{name} must be True, False or None, got {_show(v)}")
    return v


def estimate_prompt_tokens(messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None) -> int:
    """A provider-free estimate of the prompt's size: characters / 4 (text, tool calls and schemas)."""
    chars = 0
    for m in messages:
        chars += len(m.text)
        for c in m.tool_calls:
            chars += len(c.name) + len(c.raw_arguments or "")
    if tools:
        chars += len(json.dumps(list(tools), default=str))
    return math.ceil(chars / 4)


def _retries(v: Any) -> int | None:
    if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
        raise ConfigError(f"max_retries must be an integer >= 0 (0 disables retries), got {_show(v)}")
    return v


def _required_flag(name: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{name} must be True or False, got {_show(v)}")
    return v


def _share(name: str, v: Any) -> float:
    if not _number(v) or not 0 <= v <= 1:
        raise ConfigError(f"{name} must be a share in [0, 1] (e.g. {name}=0.05), got {_show(v)}")
    return float(v)


#: the adapters' own fields (the cascade options' rules live in `cascade.spec.OPTIONS`)
_FIELD_CHECKS: dict[str, Any] = {
    "max_retries": lambda n, v: _retries(v),
    "streaming": _required_flag,
}


def check_field(name: str, v: Any) -> Any:
    """One of the adapters' own fields (`max_retries`, `streaming`), checked without coercion."""
    return _FIELD_CHECKS[name](name, v)
