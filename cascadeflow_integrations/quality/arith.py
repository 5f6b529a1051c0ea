"""Safe arithmetic: find `expr = value` statements in text and check they hold.

No `eval`: a tiny recursive-descent parser over numbers, + - * / ^ and parentheses, in exact
fractions. Prose is normalised first: a line is cut into clauses at sentence ends ("= 39. 50 - 39 =
11" is two statements), word-only parentheticals are dropped ("12 (chicken meal) + 5 * 3 (milk)") and a
unit word directly after a number and before an operator is dropped ("5 hours/week * 4 weeks = 20").
Anything still ambiguous is skipped rather than guessed, so a skipped statement never counts as an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

# A number as written in prose: optional $, thousands commas, decimals, optional %.
_NUM = r"\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\s?%?"
_TOKEN_RE = re.compile(
    r"\s*(?:(?P<num>\$?\s?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?)(?P<pct>\s?%)?|(?P<op>[-+*/^()×÷xX−–·]))"
)
_OPS = {"×": "*", "x": "*", "X": "*", "·": "*", "÷": "/", "−": "-", "–": "-"}
# The longest run of expression characters ending at the end of a string (before "=").
_LHS_TAIL_RE = re.compile(r"(?:[\d$.,%()×÷xX·−–+\-*/^ ]|\\\*)+$")
_RHS_HEAD_RE = re.compile(r"^\s*(?:[\d$.,%()×÷xX·−–+\-*/^ ]|\\\*)+")
_ANNOTATION_RE = re.compile(r"<<([^<>=]+)=([^<>]+)>>")
_EQ_SPLIT_RE = re.compile(r"(?<![<>!=])=(?![=>])")
_HAS_OP_RE = re.compile(r"\d\s?%?\s*(?:[-+*/^×÷·−–]|[xX](?=\s*[\d($]))\s*[\d($]")
# "20% of 50" is a product; rewritten so the parser needs no words.
_PERCENT_OF_RE = re.compile(r"(\d\s?%)\s+of\s+(?=\$?\d)")
# Clause ends: a sentence stop or semicolon followed by space, or ", " before a word. A decimal point
# or a thousands comma is never followed by a space, so numbers are not cut.
_CLAUSE_RE = re.compile(r"[.;!?](?=\s)|,\s+(?=[A-Za-z])")
# "(chicken meal)", "(Collins')": a parenthetical with letters and no digits annotates, it is not arithmetic.
_WORD_PAREN_RE = re.compile(r"\s*\((?=[^()]*[A-Za-z])[^()\d=]*\)")
# One or two unit words after a number, directly before an operator or "=": "5 hours/week * 4 weeks =".
# Operator and multiplier words ("x", "times", "dozen", "half", ...) are never units.
_NOT_UNIT = (
    r"(?!(?:[xX×]|times|of|and|or|per|is|are|was|to|from|by|plus|minus|dozens?|hundreds?|thousands?|millions?"
    r"|billions?|half|halves|thirds?|quarters?|score)\b)"
)
_UNIT_RE = re.compile(
    rf"(?<=[\d%])\s+{_NOT_UNIT}([A-Za-z][A-Za-z'’]*(?:\s+{_NOT_UNIT}[A-Za-z][A-Za-z'’]*)?(?:/[A-Za-z]+)?)"
    r"(?=\s*(?:[-+*/×÷·−–=]|[xX]\s*[\d$(]))"
)
# The unit written after a result: "= 12 inches" (a conversion "12 inches = 1 foot" shows up as two units).
_RESULT_UNIT_RE = re.compile(r"=\s*\$?\d[\d,]*(?:\.\d+)?\s+([A-Za-z]+(?:/[A-Za-z]+)?)")
# Units that convert into one another: "1 year / 3 months = 4" and "12 inches = 1 foot" are right, yet
# read as plain numbers they are not. A statement mixing one of these with another unit is skipped.
_CONVERTIBLE = frozenset(
    "second minute hour day week month year decade century inch foot yard mile meter metre centimeter cm mm km "
    "kilometer ounce oz pound lb gram kg kilogram ton cup pint quart gallon liter litre ml tablespoon teaspoon "
    "cent penny nickel dime dollar".split()
)
_IRREGULAR = {"feet": "foot", "pence": "penny", "lbs": "lb", "cents": "cent", "pennies": "penny"}
# "5-10 minutes": a hyphenated pair written without spaces, lower first, reads as a range, not a subtraction.
_RANGE_RE = re.compile(r"^\$?(\d+)-\$?(\d+)$")
_MAX_TOKENS = 64  # expressions longer than this are not prose arithmetic; skip them


class ParseError(ValueError):
    """The text is not a plain arithmetic expression."""


def _tokens(expr: str) -> list[tuple[str, Fraction | str]]:
    out: list[tuple[str, Fraction | str]] = []
    pos = 0
    expr = expr.replace("\\*", "*").rstrip()
    while pos < len(expr):
        m = _TOKEN_RE.match(expr, pos)
        if not m or m.end() == pos:
            raise ParseError(expr[pos:])
        pos = m.end()
        if m.group("num") is not None:
            v = Fraction(m.group("num").replace("$", "").replace(",", "").strip())
            if m.group("pct"):
                v /= 100
            out.append(("num", v))
        else:
            op = m.group("op")
            out.append(("op", _OPS.get(op, op)))
        if len(out) > _MAX_TOKENS:
            raise ParseError("too long")
    return out


class _Parser:
    def __init__(self, toks: list[tuple[str, Fraction | str]]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self) -> tuple[str, Fraction | str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take_op(self, ops: str) -> str | None:
        t = self.peek()
        if t and t[0] == "op" and isinstance(t[1], str) and t[1] in ops:
            self.i += 1
            return t[1]
        return None

    def expr(self) -> Fraction:
        v = self.term()
        while (op := self.take_op("+-")) is not None:
            r = self.term()
            v = v + r if op == "+" else v - r
        return v

    def term(self) -> Fraction:
        v = self.power()
        while (op := self.take_op("*/")) is not None:
            r = self.power()
            if op == "*":
                v *= r
            else:
                if r == 0:
                    raise ParseError("division by zero")
                v /= r
        return v

    def power(self) -> Fraction:
        base = self.unary()
        if self.take_op("^") is not None:
            exp = self.power()
            # Bounded integer powers only: a huge exponent would be a CPU hazard.
            if exp.denominator != 1 or abs(exp) > 64 or abs(base) > 10**12:
                raise ParseError("unsupported power")
            if base == 0 and exp < 0:
                raise ParseError("division by zero")
            return base ** int(exp)
        return base

    def unary(self) -> Fraction:
        if self.take_op("-") is not None:
            return -self.unary()
        if self.take_op("+") is not None:
            return self.unary()
        return self.atom()

    def atom(self) -> Fraction:
        t = self.peek()
        if t is None:
            raise ParseError("unexpected end")
        if t[0] == "num":
            self.i += 1
            assert isinstance(t[1], Fraction)
            return t[1]
        if self.take_op("(") is not None:
            v = self.expr()
            if self.take_op(")") is None:
                raise ParseError("unbalanced parenthesis")
            return v
        raise ParseError(f"unexpected {t[1]!r}")


def evaluate_expression(expr: str) -> Fraction:
    """The exact value of a plain arithmetic expression (`$1,200 × 3 - 15%`); ParseError otherwise."""
    toks = _tokens(expr)
    if not toks:
        raise ParseError("empty")
    p = _Parser(toks)
    v = p.expr()
    if p.i != len(toks):
        raise ParseError("trailing tokens")
    return v


@dataclass(slots=True)
class Statement:
    """One checked `lhs = rhs` step."""

    lhs: str
    rhs: str
    lhs_value: Fraction
    rhs_value: Fraction
    holds: bool
    rounded: bool  # holds only up to rounding an inexact result


def _decimals(s: str) -> int:
    m = re.search(r"\.(\d+)", s)
    return len(m.group(1)) if m else 0


def _compare(lhs_v: Fraction, rhs_v: Fraction, rhs_text: str) -> tuple[bool, bool]:
    """(holds, rounded). Allows the rounding the writer showed (2.67 for 8/3)."""
    if lhs_v == rhs_v:
        return True, False
    diff = abs(lhs_v - rhs_v)
    if diff <= abs(lhs_v) * Fraction(1, 10**6):
        return True, False
    tol = Fraction(1, 2 * 10 ** _decimals(rhs_text))
    if diff <= tol * Fraction(1001, 1000):
        return True, True
    # "0.15 * 100 = 15%" and "15/100 = 15%": percent written either way.
    if "%" in rhs_text and (lhs_v == rhs_v * 100 or lhs_v * 100 == rhs_v):
        return True, False
    return False, False


def _clean_side(s: str) -> str:
    # Strip stray sentence punctuation and a trailing comma/period that belongs to prose.
    return s.strip().rstrip(",.;:").strip()


def _lhs_expr(segment: str) -> str | None:
    m = _LHS_TAIL_RE.search(segment)
    if not m:
        return None
    tail = m.group(0)
    # The tail may start inside a word ("box 3 + 4") or after an operator: drop that lead-in.
    lead = len(tail) - len(tail.lstrip(" xX×÷*/^+·-–−,.)"))
    start = m.start() + lead
    expr = _clean_side(segment[start:])
    before = segment[:start]
    # An expression glued to a word ("total/2", "week * 4", "-x + 3") is partial: skip, never guess.
    if not expr or (before and (before[-1].isalnum() or before[-1] in ":/" or before.rstrip()[-1:] in set("*/^+-×÷·−–"))):
        return None
    # "3:30 + 2" is a time and "2024-01-15" a date: the tail is a fragment of a larger token.
    # (no int() of a 5,000-digit run: Python refuses it, and no time or date is that long)
    if (m2 := _RANGE_RE.match(expr)) and max(len(m2.group(1)), len(m2.group(2))) <= 18 \
            and int(m2.group(1)) < int(m2.group(2)):
        return None
    return expr


def _rhs_expr(segment: str) -> str | None:
    m = _RHS_HEAD_RE.match(segment)
    if not m:
        return None
    expr = _clean_side(m.group(0))
    after = segment[m.end() :]
    # "= 3x" or "= 5 apples/day": the value runs into a word; take the leading part only if separated.
    if after[:1].isalnum() and m.group(0)[-1:].isalnum():
        return None
    # "= 5:30" (a time) or "= 3/4ths": the value continues past what was read; do not guess.
    if after[:1] == ":" and after[1:2].isdigit():
        return None
    return expr or None


def _strip_parens(expr: str) -> str:
    # Unbalanced leading "(" / trailing ")" come from prose parentheses around the statement.
    while expr.startswith("(") and expr.count("(") > expr.count(")"):
        expr = expr[1:].strip()
    while expr.endswith(")") and expr.count(")") > expr.count("("):
        expr = expr[:-1].strip()
    return expr


def _leading_value(expr: str) -> Fraction | None:
    toks = _tokens(expr)
    return toks[0][1] if toks and toks[0][0] == "num" else None  # type: ignore[return-value]


def check_line(line: str) -> list[Statement]:
    """The checkable `a op b = c` steps in one line (chains `a = b = c` give one per `=`)."""
    out: list[Statement] = []
    parts = _EQ_SPLIT_RE.split(line)
    if len(parts) < 2:
        return out
    prev_value: Fraction | None = None
    prev_text = ""
    for i in range(len(parts) - 1):
        left_seg, right_seg = parts[i], parts[i + 1]
        rhs = _rhs_expr(right_seg)
        lhs = _lhs_expr(left_seg)
        if lhs is None and prev_value is None:
            continue
        try:
            rhs = _strip_parens(rhs) if rhs else None
            if not rhs:
                prev_value = None
                continue
            rhs_v = evaluate_expression(rhs)
            if lhs is not None and _HAS_OP_RE.search(lhs.replace("\\*", "*")):
                lhs = _strip_parens(lhs)
                lhs_v = evaluate_expression(lhs)
            elif prev_value is not None and i > 0 and lhs is not None and lhs.strip() == prev_text:
                lhs_v = prev_value  # chain: a = b = c compares c with b
            else:
                prev_value, prev_text = rhs_v, rhs
                continue
        except (ParseError, ValueError, ZeroDivisionError, OverflowError):
            prev_value = None
            continue
        holds, rounded = _compare(lhs_v, rhs_v, rhs)
        if not holds and _HAS_OP_RE.search(rhs):
            # "6 x 6 = 36 / 12 = 3": a running computation that continues from the value just found.
            holds = _leading_value(rhs) == lhs_v
        out.append(Statement(lhs, rhs, lhs_v, rhs_v, holds, rounded))
        prev_value, prev_text = rhs_v, rhs
    return out


def check_text(text: str) -> list[Statement]:
    """Every checkable arithmetic step in a text, including `<<expr=value>>` calculator notes."""
    out: list[Statement] = []
    for m in _ANNOTATION_RE.finditer(text):
        try:
            lv, rv = evaluate_expression(m.group(1)), evaluate_expression(m.group(2))
        except (ParseError, ValueError, ZeroDivisionError, OverflowError):
            continue
        holds, rounded = _compare(lv, rv, m.group(2))
        out.append(Statement(m.group(1), m.group(2), lv, rv, holds, rounded))
    body = _PERCENT_OF_RE.sub(r"\1 * ", _ANNOTATION_RE.sub(" ", text))
    for line in body.splitlines():
        if "=" not in line:
            continue
        for clause in _CLAUSE_RE.split(_WORD_PAREN_RE.sub("", line)):
            if "=" in clause:
                out.extend(check_line(_strip_units(clause)))
    return out


def _unit_key(word: str) -> str:
    """A unit's singular, lower-case form ("Inches" -> "inch"), good enough to compare units."""
    w = word.lower().strip("'’")
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("ches", "shes", "xes", "sses")):
        return w[:-2]
    return w[:-1] if w.endswith("s") and not w.endswith("ss") else w


def _strip_units(clause: str) -> str:
    """The clause with unit words after numbers removed, unless its units convert into one another."""
    units = [m.group(1) for m in _UNIT_RE.finditer(clause)]
    if not units:
        return clause

    def key(u: str) -> str:
        return "/".join(_unit_key(w) for w in u.split()[-1].split("/"))

    keys = {key(u) for u in units}
    # A rate and its denominator on the same side cancel: "5 hours/week * 4 weeks" is in hours. Until
    # nothing cancels, in sorted order: a chain ("rides * tickets/ride * dollars/ticket") cancels whole,
    # whatever order the set iterates in (it follows the process's hash seed)
    changed = True
    while changed:
        changed = False
        for k in sorted(k for k in keys if "/" in k):
            num, _, den = k.partition("/")
            if den in keys:
                keys -= {k, den}
                keys.add(num)
                changed = True
                break
    keys |= {key(u) for u in _RESULT_UNIT_RE.findall(clause)}
    parts = {p for k in keys for p in k.split("/")}
    if len(keys) > 1 and parts & _CONVERTIBLE:
        return clause  # leave the words in: the statement is then skipped, never guessed
    return _UNIT_RE.sub("", clause)
