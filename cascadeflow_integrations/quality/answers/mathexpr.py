"""Math expressions ('\\frac{\\sqrt{3}}{2}', '2\\pi', 'x^2+1'): HuggingFace `math-verify` when installed
(the `[math]` extra), else a plain reading that folds notation and evaluates what is numeric.

`math-verify` is imported lazily and its signal-based timeouts are turned off (they need the main
thread and take over SIGALRM); instead inputs are bounded to `MAX_CHARS` and expressions that could
keep sympy busy without bound (big or nested powers, factorials, sums) are not sent to it. Importing it (sympy) takes
about a second: `load_math_verify_async()` does it off the event loop, and until it is loaded a
comparison inside a running loop uses the plain reading.
"""

from __future__ import annotations

import ast
import asyncio
import math
import operator
import re
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

MAX_CHARS = 200
_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}

_MATHY_RE = re.compile(r"\\(?:frac|dfrac|tfrac|sqrt|pi|cdot|times|left|right|infty)|\^|\bsqrt\b|[\u221a\u03c0]|"
                       r"(?<![a-z])[a-z](?![a-z])\s*[-+*/^=]|[-+*/^]\s*(?<![a-z])[a-z](?![a-z])|\d[a-z](?![a-z])|\)\s*\(|"
                       r"\d\s*[-+*/]\s*\(?\d", re.I)
_FOLD = [
    (re.compile(r"\\left|\\right|\\displaystyle|\\!|\\,|\\;|\\ |\s+"), ""),
    (re.compile(r"\\[dt]frac"), r"\\frac"),
    (re.compile(r"\\cdot|\\times|\u00d7"), "*"),
    (re.compile(r"\u221a"), r"\\sqrt"),
    (re.compile(r"\u03c0"), r"\\pi"),
    (re.compile(r"\u2212"), "-"),
    (re.compile(r"^[a-z]=(?=.)", re.I), ""),
    (re.compile(r"\\frac(\d)(\d)"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\sqrt(\d+)"), r"\\sqrt{\1}"),
]
_BRACE_FRAC_RE = re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}")
_SQRT_RE = re.compile(r"\\sqrt\{([^{}]*)\}")
_OPS: dict[type, Callable[..., float]] = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.Pow: operator.pow, ast.USub: operator.neg, ast.UAdd: operator.pos}


_WORD_RE = re.compile(r"(?<![\\a-z])[a-z]{2,}", re.I)
_FUNCS = frozenset({"sqrt", "pi", "sin", "cos", "tan", "log", "ln", "exp"})


def looks_like_math(span: str) -> bool:
    """An expression, not a sentence that holds one ('So the date is 04/01/2021' is no expression)."""
    if len(span) > MAX_CHARS or span.rstrip().endswith(("=", "+", "-", "*", "/")) or _MATHY_RE.search(span) is None:
        return False  # 'So, 3000 - 2000 =' is an unfinished step
    return sum(1 for w in _WORD_RE.findall(span) if w.lower() not in _FUNCS) <= 1


def fold(span: str) -> str:
    """Notation folded: spaces, `\\left`, `\\dfrac`, `\\cdot`, unicode root and pi, a leading 'x ='."""
    s = span
    for rx, rep in _FOLD:
        s = rx.sub(rep, s)
    return s


def _pythonic(s: str) -> str:
    for _ in range(4):  # nested \frac and \sqrt, innermost first
        s2 = _SQRT_RE.sub(r"sqrt(\1)", _BRACE_FRAC_RE.sub(r"((\1)/(\2))", s))
        if s2 == s:
            break
        s = s2
    s = s.replace("\\pi", "pi").replace("^", "**").replace("{", "(").replace("}", ")")
    s = re.sub(r"(\d|\))(?=[a-z(])", r"\1*", s)  # 2pi, 2(3) -> 2*pi, 2*(3)
    return s


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise ValueError("exponent too large")
        return float(_OPS[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return float(_OPS[type(node.op)](_eval(node.operand)))
    if isinstance(node, ast.Name) and node.id in ("pi", "e"):
        return math.pi if node.id == "pi" else math.e
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sqrt" and len(node.args) == 1:
        return math.sqrt(_eval(node.args[0]))
    raise ValueError("not numeric")


def numeric(folded: str) -> float | None:
    """The value of a folded expression when it has no variables (parsed as data, never run as code)."""
    if len(folded) > MAX_CHARS:
        return None
    try:
        v = _eval(ast.parse(_pythonic(folded), mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, TypeError, RecursionError):
        return None
    return v if math.isfinite(v) else None


def _import() -> ModuleType | None:
    with _LOCK:
        if "mod" not in _STATE:
            try:
                import math_verify  # type: ignore[import-untyped,unused-ignore]

                _STATE["mod"] = math_verify
            except ImportError:
                _STATE["mod"] = None
        return _STATE["mod"]  # type: ignore[no-any-return]


def math_verify() -> ModuleType | None:
    """The `math_verify` module, or None when the `[math]` extra is missing (or, inside a running event
    loop, not imported yet: the import then starts in a thread)."""
    if "mod" in _STATE:
        return _STATE["mod"]  # type: ignore[no-any-return]
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _import()
    if "thread" not in _STATE:
        _STATE["thread"] = threading.Thread(target=_import, name="math-verify-import", daemon=True)
        _STATE["thread"].start()
    return None


async def load_math_verify_async() -> bool:
    """Import `math-verify` off the event loop; True when it is available."""
    if "mod" not in _STATE:
        await asyncio.to_thread(_import)
    return _STATE["mod"] is not None


# What could make sympy work without bound (its timeouts are off): big or nested powers, factorials, long numbers.
_COSTLY_RE = re.compile(r"\^\s*\{?\s*[-+]?\d{3,}|\^\s*\{[^{}]*\^|\^\s*\d+\s*\^|!|\\(?:prod|sum|int|lim)\b|\d{16,}")


def verify(a: str, b: str) -> bool | None:
    """Whether two expressions are equal by `math-verify`; None when it is missing, cannot parse one, or the
    expressions could take sympy unbounded time."""
    mv = math_verify()
    if mv is None or len(a) > MAX_CHARS or len(b) > MAX_CHARS or _COSTLY_RE.search(a) or _COSTLY_RE.search(b):
        return None
    try:
        pa = mv.parse(f"${a}$", parsing_timeout=None)
        pb = mv.parse(f"${b}$", parsing_timeout=None)
        if not pa or not pb:
            return None
        return bool(mv.verify(pa, pb, timeout_seconds=None))
    except Exception:  # noqa: BLE001 - a parser failure is "cannot tell", never an error of the check
        return None


def same_math(a: str, b: str, na: float | None, nb: float | None) -> bool | None:
    """Equal expressions: folded text, then value, then `math-verify`; None when none can tell."""
    if a == b:
        return True
    if na is not None and nb is not None:
        return abs(na - nb) <= max(1e-9, 1e-6 * max(abs(na), abs(nb)))
    return verify(a, b)


__all__ = ["MAX_CHARS", "fold", "load_math_verify_async", "looks_like_math", "math_verify", "numeric", "same_math",
           "verify"]
