"""Numbers as a person reads them: '$1,250.50', '-3/4', '24 2/3', '1.5 x 10^3', 'twelve', '5 km', '50%'.

`read_number(span)` gives a `Quantity` (value in the unit's base, and the unit's dimension) when the
span *is* a number, possibly with a unit and a few words ("18 eggs", "about $25 per day"); `last_number`
picks the number a worked line ends on. Only known units are kept: "18 eggs" is the count 18, and
"5 km" and "5 miles" are both lengths that differ.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# One number as written: sign, digits with thousands separators, decimals, a scientific exponent.
_NUM = (r"(?P<sign>[-+\u2212])?\s?(?P<cur>[$\u20ac\u00a3\u00a5\u20b9])?\s?"
        r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)?(?P<dec>\.\d+)?"
        r"(?:\s?(?:[eE](?P<e1>[-+]?\d+)|(?:\s?[x\u00d7*]\s?10\s?(?:\^|\*\*)\s?\{?(?P<e2>[-+\u2212]?\d+)\}?)))?")
_NUM_RE = re.compile(_NUM)
# A number anywhere (for the last-resort and last-line readings): digits must be present.
_ANY_NUM_RE = re.compile(
    r"(?<![\w.:/])(?:[-\u2212](?=[$\d.]))?[$\u20ac\u00a3\u00a5\u20b9]?\s?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?"
    r"(?:[eE][-+]?\d+)?(?:\s?/\s?\d+(?![\d.]\d))?(?![\w])|(?<![\w.])[-\u2212]?\.\d+")
_CALC_RE = re.compile(r"<<[^<>]*(?:>>|$)")  # GSM8K calculator annotations: '$<<9*2=18>>18'
_FRAC_RE = re.compile(r"^(?P<sign>[-+\u2212])?\s?(?:(?P<whole>\d+)\s+)?(?P<n>\d+)\s?/\s?(?P<d>\d+)$")
_TEX_FRAC_RE = re.compile(r"^(?P<sign>[-+\u2212])?\s?(?P<whole>\d+)?\s?\\[dt]?frac\{?(?P<n>\d+)\}?\{?(?P<d>\d+)\}?$")
_PERCENT_RE = re.compile(r"^\s?(?:%|percent\b|per\s?cent\b|\\%)", re.I)

#: unit word -> (dimension, factor to the base unit). Currencies are their own dimensions.
UNITS: dict[str, tuple[str, float]] = {}
#: any unit word -> its canonical name (the first of its group)
UNIT_NAMES: dict[str, str] = {}
for _names, _dim, _f in (
    ("$ usd dollar dollars us$", "usd", 1.0), ("cent cents", "usd", 0.01),
    ("\u20ac eur euro euros", "eur", 1.0), ("\u00a3 gbp pound pounds", "gbp", 1.0),
    ("\u00a5 jpy yen", "jpy", 1.0), ("\u20b9 inr rupee rupees", "inr", 1.0),
    ("km kilometer kilometers kilometre kilometres", "length", 1000.0), ("m meter meters metre metres", "length", 1.0),
    ("cm centimeter centimeters centimetre centimetres", "length", 0.01),
    ("mm millimeter millimeters millimetre millimetres", "length", 0.001),
    ("mi mile miles", "length", 1609.344), ("ft foot feet", "length", 0.3048), ("inch inches", "length", 0.0254),
    ("yd yard yards", "length", 0.9144),
    ("kg kilogram kilograms kilo kilos", "mass", 1000.0), ("g gram grams", "mass", 1.0), ("mg milligram milligrams", "mass", 0.001),
    ("lb lbs pound-mass", "mass", 453.59237), ("oz ounce ounces", "mass", 28.349523125),
    ("l liter liters litre litres", "volume", 1.0), ("ml milliliter milliliters millilitre millilitres", "volume", 0.001),
    ("gallon gallons gal", "volume", 3.785411784),
    ("s sec secs second seconds", "duration", 1.0), ("min mins minute minutes", "duration", 60.0),
    ("h hr hrs hour hours", "duration", 3600.0), ("day days", "duration", 86400.0), ("week weeks", "duration", 604800.0),
    ("year years", "year", 1.0), ("month months", "month", 1.0),
    ("mph", "speed", 0.44704), ("km/h kmh kph", "speed", 1 / 3.6), ("m/s", "speed", 1.0),
    ("\u00b0c celsius", "celsius", 1.0), ("\u00b0f fahrenheit", "fahrenheit", 1.0),
):
    for _n in _names.split():
        UNITS[_n] = (_dim, _f)
        UNIT_NAMES[_n] = _names.split()[0]
#: measures (not currencies): their unit is shown with the value
MEASURES = frozenset(n for n, (d, _) in UNITS.items() if d not in ("usd", "eur", "gbp", "jpy", "inr"))
_UNIT_WORD_RE = re.compile(r"^\s?(km/h|m/s|us\$|\u00b0[cf]|[a-z\u20ac\u00a3\u00a5$]+)(?![\w/])", re.I)
_CODE_BEFORE_RE = re.compile(r"^(usd|eur|gbp|jpy|inr|us\$)\s?(?=[-\d.])", re.I)

_ONES = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
_EXTRA = {"a": 1, "an": 1, "dozen": 12, "half": 0.5, "zero": 0}
_WORD_NUM_RE = re.compile(
    r"\b(?:(?:" + "|".join([*_ONES, *_TENS, *_SCALES, "dozen", "half"]) + r")(?:[\s-]+(?:and[\s-]+)?|\b))+", re.I)


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number as written and its unit's canonical name (`unit` "" for a bare number, "%" for a percentage)."""

    value: float
    unit: str = ""


def _words_value(words: str) -> float | None:
    total, current, seen = 0.0, 0.0, False
    for w in re.split(r"[\s-]+", words.lower().strip()):
        if not w or w == "and":
            continue
        if w in _ONES:
            current += _ONES[w]
        elif w in _TENS:
            current += _TENS[w]
        elif w == "half":
            current = (current or 1) * 0.5
        elif w == "dozen":
            current = (current or 1) * 12
        elif w == "hundred":
            current = (current or 1) * 100
        elif w in _SCALES:
            total += (current or 1) * _SCALES[w]
            current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


def _unit_after(rest: str) -> tuple[str, str]:
    """(dimension, rest) for a known unit at the start of `rest`; ("", rest) for none."""
    if pm := _PERCENT_RE.match(rest):
        return "%", rest[pm.end():]
    m = _UNIT_WORD_RE.match(rest)
    if m and m.group(1).lower() in UNITS:
        return m.group(1).lower(), rest[m.end():]
    return "", rest


_PLAIN_INT_RE = re.compile(r"\d+")


def parse_number(s: str) -> tuple[float, str, str] | None:
    """(value, currency symbol or unit word found, rest) for a number at the start of `s`; None if none
    (or too large for a float: 309+ digits)."""
    try:
        p = _parse_number(s.strip())
    except (OverflowError, ValueError):
        return None
    return p if p is None or math.isfinite(p[0]) else None


def _parse_number(s: str) -> tuple[float, str, str] | None:
    if _PLAIN_INT_RE.fullmatch(s):
        return float(s), "", ""
    code = ""
    if cm := _CODE_BEFORE_RE.match(s):
        code, s = cm.group(1).lower(), s[cm.end():]
    for rx in (_TEX_FRAC_RE, _FRAC_RE):
        if fm := rx.match(s):
            d = int(fm.group("d"))
            if d == 0:
                return None
            v = int(fm.group("whole") or 0) + int(fm.group("n")) / d
            return (-v if fm.group("sign") in ("-", "\u2212") else v), code, ""
    m = _NUM_RE.match(s)
    if m is None or not (m.group("int") or m.group("dec")):
        return None
    rest = s[m.end():]
    # '24 2/3': a whole number then a fraction
    if (fm := _FRAC_RE.match(rest.strip().split(" ", 1)[0])) and rest.startswith(" ") and m.group("int") \
            and not m.group("dec") and not fm.group("whole") and not fm.group("sign"):
        d = int(fm.group("d"))
        if d and int(fm.group("n")) < d:
            v = int(m.group("int").replace(",", "")) + int(fm.group("n")) / d
            return (-v if m.group("sign") in ("-", "\u2212") else v), code or (m.group("cur") or ""), \
                rest.strip()[len(rest.strip().split(" ", 1)[0]):]
    if (fm := re.match(r"\s?/\s?(\d+)(?![\d.])", rest)) and not m.group("dec"):
        d = int(fm.group(1))
        if d == 0:
            return None
        v = float((m.group("int") or "0").replace(",", "")) / d
        return (-v if m.group("sign") in ("-", "\u2212") else v), code or (m.group("cur") or ""), rest[fm.end():]
    v = float((m.group("int") or "0").replace(",", "") + (m.group("dec") or ""))
    exp = m.group("e1") or m.group("e2")
    if exp:
        e = int(exp.replace("\u2212", "-"))
        if abs(e) > 300:
            return None
        v *= 10.0 ** e
    if not math.isfinite(v):
        return None  # 309+ digits
    if m.group("sign") in ("-", "\u2212"):
        v = -v
    return v, code or (m.group("cur") or ""), rest


_LEAD_RE = re.compile(
    r"^(?:(?:about|approximately|approx\.?|around|roughly|exactly|only|just|a total of|total(?: of)?|"
    r"it(?:'s| is| was)|there (?:are|is|were|was)|that(?:'s| is)|is|are|was|were|equals?|=|~|\u2248)\s*)+", re.I)
_VAR_RE = re.compile(r"^(?:[a-z]|[a-z]_?\w?)\s?=\s?(?=[-+\u2212$\d.\\])", re.I)
_SCALE_AFTER_RE = re.compile(r"\s?(thousand|million|billion)\b", re.I)
_WORDS_BEFORE_RE = re.compile(r"(?:[A-Za-z][\w']*,?\s+){1,8}")
_TAIL_OK_RE = re.compile(r"^[\s.,;:!)\]*]*(?:[a-z][\w'-]*(?:\s+[\w'-]+){0,5})?[\s.,;:!)\]*]*$", re.I)


def read_number(span: str, whole: bool = True, words_ok: bool = False) -> Quantity | None:
    """The span as one number (with its unit): None when it holds no number or (`whole`) more than a
    number and a few words. A span that is a short sentence around its only number ('She has 12 apples')
    is that number; `words_ok`: also a number in words ('She has twelve apples')."""
    s = _LEAD_RE.sub("", _VAR_RE.sub("", span.strip()))
    q = _read_number(s, whole)
    if q is not None or not whole:
        return q
    found = list(_ANY_NUM_RE.finditer(s))
    if len(found) == 1:
        start = found[0].start()
    elif not found and words_ok and len(w := list(_WORD_NUM_RE.finditer(s))) == 1:
        start = w[0].start()
    else:
        return None
    if start == 0 or not _WORDS_BEFORE_RE.fullmatch(s[:start]):
        return None
    return _read_number(s[start:], whole)


def _read_number(s: str, whole: bool) -> Quantity | None:
    p = parse_number(s)
    words = None
    if p is None:
        wm = _WORD_NUM_RE.match(s)
        if wm is None or (words := _words_value(wm.group(0))) is None:
            return None
        p = (words, "", s[wm.end():])
    v, cur, rest = p
    if (sm := _SCALE_AFTER_RE.match(rest)) and abs(v) < 1e290:  # '1.5 million'
        v, rest = v * _SCALES[sm.group(1).lower()], rest[sm.end():]
    dim_word, rest2 = _unit_after(rest)
    if cur and dim_word and dim_word != "%":
        dim_word = cur if cur in UNITS else dim_word  # '$5 dollars'
    elif cur:
        dim_word = cur if dim_word != "%" else "%"
    if whole and rest2.strip() and not _TAIL_OK_RE.match(rest2):
        return None
    if dim_word == "%":
        return Quantity(v, "%")
    return Quantity(v, UNIT_NAMES[dim_word] if dim_word else "")


def last_number(line: str) -> str | None:
    """The number a worked line commits to: after its last '=', else its last number."""
    line = _CALC_RE.sub("", line)
    eq = line.rfind("=")
    if eq >= 0 and (m := _ANY_NUM_RE.search(line, eq + 1)):
        return line[m.start():]
    found = None
    for found in _ANY_NUM_RE.finditer(line):
        pass
    return line[found.start():] if found else None


def has_number(text: str) -> bool:
    return _ANY_NUM_RE.search(text) is not None


def strip_calc(text: str) -> str:
    return _CALC_RE.sub("", text)


def same_quantity(a: Quantity, b: Quantity) -> bool:
    """Equal values in compatible units: a bare number matches a currency ('$18' = '18') or a percentage
    ('50%' = '50' = '0.5'); two known units must measure the same thing."""
    if a.unit == "%" or b.unit == "%":
        pct, other = (a, b) if a.unit == "%" else (b, a)
        if other.unit not in ("", "%"):
            return False
        return close(pct.value, other.value) or (not other.unit and close(pct.value / 100, other.value))
    if a.unit and b.unit and a.unit != b.unit:
        (da, fa), (db, fb) = UNITS[a.unit], UNITS[b.unit]
        return da == db and close(a.value * fa, b.value * fb)  # '5 km' = '5000 m'; '5 km' != '5 miles'
    return close(a.value, b.value)  # '18' = '$18' = '18 km': a bare number matches in any unit


def close(x: float, y: float) -> bool:
    return abs(x - y) <= max(1e-9, 1e-6 * max(abs(x), abs(y)))


def fmt(v: float) -> str:
    if math.isfinite(v) and v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.12g}"
