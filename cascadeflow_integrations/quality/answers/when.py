"""Dates as ISO dates and times of day as 24-hour times.

Hand-written patterns for the formats answers use ('05/01/2021', '2021-05-01', 'May 1, 2021',
'1 May 2021', 'Saturday, May 1st 2021'), not a general date parser: a general parser also reads
'3' or 'May' alone as a date (an accidental match is worse than no reading), and these stay within
the per-answer time budget. The order of day and month in 'dd/dd/yyyy' comes from the prompt when
it names a format (`MM/DD/YYYY`, `DD/MM/YYYY`, "day/month"); without one, a day above 12 decides,
else month first (the US order of most benchmark prompts).
"""

from __future__ import annotations

import re

_MONTHS = {m: i + 1 for i, m in enumerate(
    "january february march april may june july august september october november december".split())}
for _m, _i in list(_MONTHS.items()):
    _MONTHS[_m[:3]] = _i
_MONTHS["sept"] = 9
_MON = r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|" \
       r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_WEEKDAY = r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+)?"
_DATE_RES = [
    ("iso", re.compile(r"(?<!\d)" + _YEAR + r"[-/.](?P<a>[01]?\d)[-/.](?P<b>[0-3]?\d)(?!\d)")),
    ("dmy_num", re.compile(r"(?<![\d/.-])(?P<a>[0-3]?\d)(?P<sep>[-/.])(?P<b>[0-3]?\d)(?P=sep)" + _YEAR + r"(?!\d)")),
    ("mdy", re.compile(r"\b" + _WEEKDAY + _MON + r"\s+" + _DAY + r"(?:,?\s+|\s*,\s*)" + _YEAR + r"\b", re.I)),
    ("dmy", re.compile(r"\b" + _WEEKDAY + r"(?:the\s+)?" + _DAY + r"\s+(?:of\s+)?" + _MON + r",?\s+" + _YEAR + r"\b", re.I)),
    ("md", re.compile(r"\b" + _WEEKDAY + _MON + r"\s+" + _DAY + r"\b(?!\s*[:\d])", re.I)),
    ("dm", re.compile(r"\b" + _WEEKDAY + r"(?:the\s+)?" + _DAY + r"\s+(?:of\s+)?" + _MON + r"\b", re.I)),
]
# Matched against the lowered prompt (case-sensitive patterns are several times faster than re.I).
_DMY_ORDER_RE = re.compile(r"\bdd[/.-]mm\b|\bday[/ -]month\b")
_MDY_ORDER_RE = re.compile(r"\bmm[/.-]dd\b|\bmonth[/ -]day\b")
_ASKS_DATE_RE = re.compile(r"\b(?:mm[/.-]dd|dd[/.-]mm|yyyy-mm-dd)\b|\bwhat\s+(?:is\s+the\s+|was\s+the\s+)?date\b|"
                           r"\bwhich\s+date\b|\bon\s+what\s+date\b|\bwhat\s+day\s+(?:of\s+the\s+year\s+)?(?:is|was|will)\b")
_ASKS_TIME_RE = re.compile(r"\bwhat\s+time\b|\bat\s+what\s+time\b|\bwhen\s+will\s+\w+\s+(?:arrive|finish|leave)\b|"
                           r"\bhh:mm\b")

_TIME_RE = re.compile(
    r"(?<![\d:/.])(?P<h>[01]?\d|2[0-4])(?::(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d))?)?\s*(?P<ap>[ap]\.?\s?m\.?|o'?clock)?(?![\w:]|\.\d)",
    re.I)
_NOON_RE = re.compile(r"\b(noon|midday|midnight)\b", re.I)


def day_first(prompt: str) -> bool | None:
    """True when the prompt asks for day before month, False for month first, None when it says neither."""
    low = prompt.lower()
    if _DMY_ORDER_RE.search(low):
        return True
    if _MDY_ORDER_RE.search(low):
        return False
    return None


def asks_date(prompt: str) -> bool:
    return _ASKS_DATE_RE.search(prompt[-2000:].lower()) is not None


def asks_time(prompt: str) -> bool:
    return _ASKS_TIME_RE.search(prompt[-2000:].lower()) is not None


def _iso(y: int | None, m: int, d: int) -> str | None:
    if not (1 <= m <= 12 and 1 <= d <= 31):
        return None
    if y is not None:
        import datetime as _dt

        try:
            _dt.date(y, m, d)
        except ValueError:
            return None
        return f"{y:04d}-{m:02d}-{d:02d}"
    return f"--{m:02d}-{d:02d}"


def read_date(span: str, dayfirst: bool | None = None, whole: bool = True) -> str | None:
    """The span's date as 'YYYY-MM-DD' ('--MM-DD' without a year), or None. `whole`: the span must be
    the date and at most a few words; otherwise the last date in it is read."""
    best: tuple[int, int, str] | None = None
    for kind, rx in _DATE_RES:
        for m in rx.finditer(span):
            g = m.groupdict()
            if kind == "iso":
                iso = _iso(int(g["year"]), int(g["a"]), int(g["b"]))
            elif kind == "dmy_num":
                a, b = int(g["a"]), int(g["b"])
                first_is_day = dayfirst if dayfirst is not None else (a > 12 >= b)
                iso = _iso(int(g["year"]), a, b) if not first_is_day else _iso(int(g["year"]), b, a)
            else:
                iso = _iso(int(g["year"]) if g.get("year") else None, _MONTHS[g["mon"].lower().rstrip(".")], int(g["day"]))
            if iso is None:
                continue
            if best is None or m.end() > best[1] or (m.end() == best[1] and m.start() < best[0]):
                best = (m.start(), m.end(), iso)
        if best is not None and kind in ("iso", "dmy_num", "mdy", "dmy") and whole:
            break
    if best is None:
        return None
    if whole:
        rest = (span[:best[0]] + " " + span[best[1]:]).strip(" .,;:!*()")
        if len(rest.split()) > 6:
            return None
    return best[2]


def read_time(span: str, whole: bool = True) -> str | None:
    """The span's time of day as 'HH:MM' (24-hour; ':SS' when given), or None. A time without am/pm
    and an hour of 1-12 is read as written and marked with a trailing '?' (it matches either half)."""
    if (n := _NOON_RE.search(span)) and (not whole or len(span.split()) <= 3):
        return "12:00" if n.group(1).lower() in ("noon", "midday") else "00:00"
    best = None
    for m in _TIME_RE.finditer(span):
        if m.group("m") is None and not m.group("ap"):
            continue  # a bare number is no time
        best = m
    if best is None:
        return None
    if whole and len((span[:best.start()] + " " + span[best.end():]).split()) > 4:
        return None
    h, mi, s = int(best.group("h")), int(best.group("m") or 0), best.group("s")
    ap = (best.group("ap") or "").lower()
    if ap[:1] in ("a", "p"):
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if ap[0] == "p" else 0)
        ambiguous = False
    else:
        if h > 23 and not (h == 24 and mi == 0):
            return None
        h %= 24
        ambiguous = 1 <= h <= 12 and not best.group("h").startswith("0")
    out = f"{h:02d}:{mi:02d}" + (f":{s}" if s and s != "00" else "")
    return out + ("?" if ambiguous else "")


def same_time(a: str, b: str) -> bool:
    """'15:45' = '3:45 pm'; a time read without am/pm ('3:45?') matches either half of the day."""
    if a == b:
        return True
    ra, rb = a.rstrip("?"), b.rstrip("?")
    if ra == rb:
        return True
    if a.endswith("?") or b.endswith("?"):
        def minutes(t: str) -> int:
            hh, mm = t.split(":")[:2]
            return int(hh) * 60 + int(mm)

        return minutes(ra) % 720 == minutes(rb) % 720 and ra[5:] == rb[5:]
    return False


def same_date(a: str, b: str) -> bool:
    """Equal ISO dates; a date without a year matches the same day and month of any year."""
    if a == b:
        return True
    if a.startswith("--") or b.startswith("--"):
        return a[-5:] == b[-5:]
    return False
