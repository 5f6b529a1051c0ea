"""Property tests of final-answer reading: the wrapping of an answer never changes its value, and two
different values never compare equal."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from cascadeflow_integrations.quality.answers import compare_texts, extract_answer

MC = "Which is right?\n(A) red\n(B) green\n(C) blue\n(D) black\n(E) white"
PROMPTS = {
    "count": "Tom has 3 boxes of 12 pens. How many pens does he have?",
    "money": "A shirt costs $20 and a hat $5. How much do they cost together?",
    "pct": "What percentage of the class passed?",
    "date": "Today is 3/31/2021. What is the date tomorrow in MM/DD/YYYY?",
    "time": "What time does the train arrive?",
    "choice": MC,
    "yes_no": "Is the sky blue? Answer yes or no.",
    "city": "What is the capital of the country?",
}
CITIES = ["Paris", "Rome", "Madrid", "Berlin", "Vienna", "Lisbon", "Oslo", "Prague", "Dublin", "Warsaw", "Athens",
          "Canberra", "Ottawa", "Nairobi", "Lima", "Quito"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def money(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def clock(minutes: int) -> str:
    h, m = divmod(minutes, 60)
    return f"{(h % 12) or 12}:{m:02d} {'am' if h < 12 else 'pm'}"


dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31))
# (kind, value strategy, how a value is written): each kind's values are written in one or more ways
VALUES = {
    "count": (st.integers(-10**7, 10**7), [lambda v: f"{v:,}", lambda v: str(v)]),
    "decimal": (st.integers(-10**6, 10**6).map(lambda n: n / 100), [lambda v: f"{v:.2f}", lambda v: repr(v)]),
    "money": (st.integers(0, 10**9), [money]),
    "pct": (st.integers(0, 1000), [lambda v: f"{v}%"]),
    "date": (dates, [lambda d: d.strftime("%m/%d/%Y"), lambda d: d.isoformat(), lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
                     lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}"]),
    "time": (st.integers(0, 24 * 60 - 1), [clock, lambda v: f"{v // 60:02d}:{v % 60:02d}"]),
    "choice": (st.sampled_from("ABCDE"), [lambda v: v, lambda v: f"({v})", lambda v: f"{v})"]),
    "yes_no": (st.sampled_from(["yes", "no"]), [lambda v: v.capitalize(), lambda v: v]),
    "city": (st.sampled_from(CITIES), [lambda v: v, lambda v: v.upper()]),
}
PROMPT_OF = {"count": "count", "decimal": "count", "money": "money", "pct": "pct", "date": "date", "time": "time",
             "choice": "choice", "yes_no": "yes_no", "city": "city"}
WORDS = ["first", "then", "so", "we", "add", "take", "the", "total", "each", "box", "holds", "pens", "left", "more",
         "gives", "away", "she", "has", "of", "them", "after", "that", "is", "and"]
sentence = st.tuples(st.lists(st.sampled_from(WORDS), min_size=3, max_size=10),
                     st.lists(st.integers(0, 999), max_size=3)).map(
    lambda t: " ".join(t[0][:2] + [str(n) for n in t[1]] + t[0][2:]).capitalize() + ".")
paragraph = st.lists(sentence, min_size=1, max_size=4).map(" ".join)
WRAPS = [
    lambda a, p: f"The answer is {a}.",
    lambda a, p: f"**{a}**",
    lambda a, p: f"{a}.",
    lambda a, p: f"{p}\n{a}",
    lambda a, p: f"{p}\n\nThe answer is {a}.",
    lambda a, p: f"{p}\nFinal answer: **{a}**",
    lambda a, p: f"{p}\n#### {a}",
    lambda a, p: f"{p}\nAnswer: {a}.",
]
kinds = st.sampled_from(sorted(VALUES))


@st.composite
def written(draw: st.DrawFn) -> tuple[str, str, str]:
    kind = draw(kinds)
    values, forms = VALUES[kind]
    v = draw(values)
    return kind, PROMPTS[PROMPT_OF[kind]], draw(st.sampled_from(forms))(v)


@settings(max_examples=400, deadline=None)
@given(written(), st.integers(0, len(WRAPS) - 1), paragraph)
def test_wrapping_never_changes_the_value(w: tuple[str, str, str], wrap: int, para: str) -> None:
    kind, prompt, bare = w
    plain = extract_answer(bare, prompt)
    assert plain is not None, (kind, bare)
    wrapped = WRAPS[wrap](bare, para)
    got = extract_answer(wrapped, prompt)
    assert got == plain, (wrapped, got, plain)
    assert compare_texts(wrapped, bare, prompt) is True


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_two_different_values_never_compare_equal(data: st.DataObject) -> None:
    kind = data.draw(kinds)
    values, forms = VALUES[kind]
    v1, v2 = data.draw(values), data.draw(values)
    if v1 == v2:
        return
    prompt = PROMPTS[PROMPT_OF[kind]]
    a, b = data.draw(st.sampled_from(forms))(v1), data.draw(st.sampled_from(forms))(v2)
    wrap = data.draw(st.sampled_from(WRAPS))
    para = data.draw(paragraph)
    assert compare_texts(wrap(a, para), b, prompt) is False, (a, b)
    assert compare_texts(a, wrap(b, para), prompt) is False, (a, b)
