"""ProgressiveJSONParser: equals json.loads, partial views consistent with every prefix, linear work."""

from __future__ import annotations

import copy
import json
import math
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascadeflow_integrations.tools.json_stream import JSONStreamError, ProgressiveJSONParser

# ---------------------------------------------------------------------------- strategies

_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),  # any code point except lone surrogates
        st.sampled_from(['"', "\\", "/", "\b", "\f", "\n", "\r", "\t", "\x00", "\x1f", "é", "😀", "𝄞", "東"]),
    ),
    max_size=30,
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    _text,
)
json_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(_text, children, max_size=6),
    ),
    max_leaves=40,
)


@st.composite
def serialised(draw: st.DrawFn) -> str:
    value = draw(json_values)
    ensure_ascii = draw(st.booleans())
    indent = draw(st.sampled_from([None, 0, 1, 2, "\t", " \n "]))
    text = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent)
    pad = draw(st.sampled_from(["", " ", "\n\t ", "\r\n"]))
    return pad + text + pad


def cut(text: str, points: list[int]) -> list[str]:
    cuts = sorted({p % (len(text) + 1) for p in points})
    out, prev = [], 0
    for c in cuts + [len(text)]:
        out.append(text[prev:c])  # empty fragments included on purpose
        prev = c
    return out


def same(a: Any, b: Any) -> bool:
    """Equality that also tells -0.0 from 0.0 and int from float, like repr-level identity."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def consistent(partial: Any, final: Any, path: str = "$") -> None:
    """A partial value must be a 'prefix' of the final one at every path."""
    if isinstance(final, dict):
        assert isinstance(partial, dict), path
        assert set(partial) <= set(final), path
        for k, v in partial.items():
            consistent(v, final[k], f"{path}.{k}")
    elif isinstance(final, list):
        assert isinstance(partial, list), path
        assert len(partial) <= len(final), path
        # In a list only the last element can still be in progress.
        for i, v in enumerate(partial):
            consistent(v, final[i], f"{path}[{i}]")
    elif isinstance(final, str):
        assert isinstance(partial, str) and final.startswith(partial), path
    else:
        assert same(partial, final), path


# ---------------------------------------------------------------------------- properties


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=serialised(), points=st.lists(st.integers(min_value=0, max_value=10_000), max_size=25))
def test_finish_equals_json_loads_and_partials_are_consistent(text: str, points: list[int]) -> None:
    expected = json.loads(text)
    p = ProgressiveJSONParser()
    for frag in cut(text, points):
        p.feed(frag)
        if p.started and not (p.value is None and isinstance(expected, (int, float))):
            consistent(p.value, expected)  # (a top-level number appears only at finish)
    assert same(p.finish(), expected)
    assert p.done


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_one_char_at_a_time(value: Any) -> None:
    text = json.dumps(value)
    p = ProgressiveJSONParser()
    for ch in text:
        p.feed(ch)
    assert same(p.finish(), json.loads(text))


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet='{}[]",:0123456789.eE+-tfnrulasNI \\u', max_size=20), points=st.lists(st.integers(0, 40)))
def test_agrees_with_json_loads_on_garbage(text: str, points: list[int]) -> None:
    """Arbitrary (mostly invalid) text: we accept exactly what json.loads accepts."""
    try:
        expected: Any = json.loads(text)
        ok = True
    except ValueError:
        ok = False
    p = ProgressiveJSONParser()
    try:
        for frag in cut(text, points):
            p.feed(frag)
        got = p.finish()
    except JSONStreamError:
        assert not ok, text
        return
    assert ok, text
    assert same(got, expected) or (got != got and expected != expected)


# ---------------------------------------------------------------------------- unit cases


def feed_all(text: str, step: int = 1) -> ProgressiveJSONParser:
    p = ProgressiveJSONParser()
    for i in range(0, len(text), step):
        p.feed(text[i : i + step])
    return p


def test_nested_keys_are_not_flattened() -> None:
    p = feed_all('{"location": {"city": "Par')
    assert p.value == {"location": {"city": "Par"}}


def test_escaped_quotes_are_kept() -> None:
    p = feed_all('{"text": "say \\"hi\\"')
    assert p.value == {"text": 'say "hi"'}
    p.feed('"}')
    assert p.finish() == {"text": 'say "hi"'}


def test_unterminated_string_is_exposed() -> None:
    assert feed_all('{"name": "get_weat').value == {"name": "get_weat"}


def test_key_without_value_is_omitted_and_numbers_wait_for_terminator() -> None:
    p = feed_all('{"a": 1, "b"')
    assert p.value == {"a": 1}
    p = feed_all('{"a": 12')
    assert p.value == {}
    p.feed("3")
    assert p.value == {}
    p.feed(",")
    assert p.value == {"a": 123}


def test_top_level_number_appears_at_finish() -> None:
    p = feed_all("-12.5e3")
    assert p.value is None and p.started
    assert p.finish() == -12500.0


@pytest.mark.parametrize(
    "text",
    ['"\\ud83d\\ude00"', '"\\ud800"', '"\\udc00"', '"\\ud800\\u0041"', '"\\ud800\\ud800\\udc00"', '"\\ud800\\n"', '"x\\u00e9\\/"'],
)
def test_surrogates_and_escapes_split_everywhere(text: str) -> None:
    for a in range(len(text) + 1):
        for b in range(a, len(text) + 1):
            p = ProgressiveJSONParser()
            for frag in (text[:a], text[a:b], text[b:]):
                p.feed(frag)
            assert p.finish() == json.loads(text), (a, b)


def test_numbers_split_across_fragments() -> None:
    text = "[0, -0, -0.0, 12, -3.25, 1e5, 1E-2, 6.02e+23, 123456789012345678901234567890]"
    expected = json.loads(text)
    for a in range(len(text) + 1):
        p = ProgressiveJSONParser()
        p.feed(text[:a])
        p.feed(text[a:])
        assert same(p.finish(), expected)


def test_deep_nesting_has_no_recursion_limit() -> None:
    depth = sys.getrecursionlimit() * 3
    p = feed_all("[" * depth + "]" * depth, step=97)
    v = p.finish()
    for _ in range(depth - 1):
        v = v[0]
    assert v == []


@pytest.mark.parametrize(
    ("text", "pos"),
    [
        ("", 0),
        ("{", 1),
        ('{"a" 1}', 5),
        ('{"a": }', 6),
        ("[1,]", 3),
        ("[1 2]", 3),
        ("01", 1),
        ('{"a": 1} x', 9),
        ('"\x01"', 1),
        ('"\\x"', 2),
        ('"\\u12g4"', 5),
        ("tru", 3),
        ("trux", 3),
        ("1.}", 2),
        ("{'a': 1}", 1),
        ('{"a": "b"', 9),
    ],
)
def test_invalid_json_reports_position(text: str, pos: int) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    p = ProgressiveJSONParser()
    with pytest.raises(JSONStreamError) as ei:
        for ch in text:
            p.feed(ch)
        p.finish()
    assert ei.value.pos == pos, str(ei.value)
    assert isinstance(ei.value, ValueError)


def test_error_is_raised_at_feed_time_and_sticks() -> None:
    p = ProgressiveJSONParser()
    p.feed('{"a": 1,\n  ')
    with pytest.raises(JSONStreamError) as ei:
        p.feed("]")
    assert (ei.value.pos, ei.value.lineno, ei.value.colno) == (11, 2, 3)
    with pytest.raises(JSONStreamError):
        p.feed("}")
    with pytest.raises(JSONStreamError):
        p.finish()


def test_non_standard_constants_like_json_loads() -> None:
    p = feed_all("[NaN, Infinity, -Infinity]")
    v = p.finish()
    assert math.isnan(v[0]) and v[1:] == [math.inf, -math.inf]


def test_live_is_the_tree_updated_in_place_and_value_a_snapshot() -> None:
    p = ProgressiveJSONParser()
    p.feed('{"a": [1, {"b": "x')
    live, snap = p.live, p.value
    assert live == snap == {"a": [1, {"b": "x"}]} and live is not snap
    p.feed('y"}], "c": [true]')
    assert p.live is live and live == {"a": [1, {"b": "xy"}], "c": [True]}
    assert snap == {"a": [1, {"b": "x"}]}  # the snapshot did not move
    later = p.value
    assert later["a"] is live["a"]  # a closed array is shared, not copied
    p.feed("}")
    assert p.value is live and p.finish() is live  # closed: nothing left to copy


def test_empty_fragments_and_whitespace() -> None:
    p = ProgressiveJSONParser()
    for frag in ["", " \n", "", "{", "", '"a"', " : ", "", "true", " } ", ""]:
        p.feed(frag)
    assert p.finish() == {"a": True}


# ---------------------------------------------------------------------------- linear work


def _count_lines(fn: Any) -> int:
    """Python line events executed by fn (a deterministic measure of interpreter work)."""
    count = 0

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


def _doc(n: int) -> str:
    rec = {"id": "x" * 10, "n": 12345, "f": -1.5e-3, "ok": True, "tags": ["a", "b\\n"], "note": "é\"q" * 5}
    return json.dumps({"records": [rec] * n})


def _stream(text: str) -> ProgressiveJSONParser:
    p = ProgressiveJSONParser()
    for i in range(0, len(text), 8):
        p.feed(text[i : i + 8])
        _ = p.value
    p.finish()
    return p


def test_work_is_linear_in_input_size() -> None:
    small, large = _doc(50), _doc(500)
    ratio = _count_lines(lambda: _stream(large)) / _count_lines(lambda: _stream(small))
    size_ratio = len(large) / len(small)
    assert ratio < size_ratio * 1.1


def test_reading_a_huge_string_after_every_fragment_copies_linearly() -> None:
    copied = [_stream(json.dumps({"content": "abcdefg\n" * (n // 8)})).chars_copied for n in (100_000, 1_000_000)]
    assert copied[1] / copied[0] < 12  # quadratic would be ~100


# ---------------------------------------------------------------------------- snapshots


def _exact(prefix: str) -> Any:
    """The exact partial value of `prefix`: a fresh parser fed it at once (its tree is ours alone)."""
    p = ProgressiveJSONParser()
    p.feed(prefix)
    return p.live


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=serialised(), points=st.lists(st.integers(min_value=0, max_value=10_000), max_size=25))
def test_every_kept_snapshot_matches_its_prefix_and_never_changes(text: str, points: list[int]) -> None:
    expected = json.loads(text)
    p = ProgressiveJSONParser()
    kept: list[tuple[Any, Any, str, bool]] = []
    seen = ""
    for frag in cut(text, points):
        p.feed(frag)
        seen += frag
        v = p.value
        kept.append((v, copy.deepcopy(v), seen, p.started))
    final = p.finish()
    assert same(final, expected)
    for v, at_the_time, prefix, started in kept:
        assert same(v, at_the_time), prefix  # nothing changed after it was handed out
        assert same(v, _exact(prefix)), prefix  # small documents: exact, no lag
        if started and not (v is None and isinstance(expected, (int, float))):
            consistent(v, expected)  # (a top-level number appears only at finish)


def _open_array_doc(n: int) -> str:
    return json.dumps({"query": "q", "ids": list(range(n)), "tail": {"k": [1, 2]}})


def test_a_large_open_array_is_copied_linearly_and_lags_by_at_most_an_eighth() -> None:
    text = _open_array_doc(20_000)
    final = json.loads(text)
    p = ProgressiveJSONParser()
    kept: list[tuple[int, Any]] = []
    for i in range(0, len(text), 4):
        p.feed(text[i : i + 4])
        kept.append((i + 4, p.value))
    assert p.finish() == final
    # Bounded copying: at most 64 free entries per read plus 8 per character.
    assert p.slots_copied <= 64 * len(kept) + 8 * len(text)
    for offset, v in kept[:: len(kept) // 40]:
        offset = min(offset, len(text))
        consistent(v, _exact(text[:offset]))  # never ahead of the text seen
        consistent(_exact(text[: offset - offset // 8]), v)  # at most 1/8 of the text behind
    assert all(len(v.get("ids", ())) <= len(final["ids"]) for _, v in kept)
    assert kept[-1][1] == final


def test_snapshot_copying_grows_linearly_even_for_huge_open_containers() -> None:
    def copied(n: int, doc: str) -> int:
        p = ProgressiveJSONParser()
        for i in range(0, len(doc), 2):
            p.feed(doc[i : i + 2])
            _ = p.value
        p.finish()
        return p.slots_copied

    arrays = [copied(n, _open_array_doc(n)) for n in (5_000, 50_000)]
    nested = [copied(n, "[" * n + "]" * n) for n in (2_000, 20_000)]
    assert arrays[1] / arrays[0] < 12 and nested[1] / nested[0] < 12  # quadratic would be ~100


def test_deep_nesting_snapshots_stay_consistent() -> None:
    n = 400  # (the recursive checker's limit, not the parser's)
    text = "[" * n + "]" * n
    p = ProgressiveJSONParser()
    kept = []
    for c in text:
        p.feed(c)
        kept.append(p.value)
    final = p.finish()
    assert p.slots_copied <= 64 * len(kept) + 8 * len(text)
    for i, v in enumerate(kept):
        consistent(v, final)
        consistent(v, _exact(text[: i + 1]))


def test_snapshot_of_a_repeated_key_holding_an_open_container() -> None:
    text = '{"a": 1, "b": 2, "a": {"c": [1, {"d": "xyz"}]}}'
    p = ProgressiveJSONParser()
    kept = []
    for i, c in enumerate(text):
        p.feed(c)
        kept.append((p.value, text[: i + 1]))
    for v, prefix in kept:
        assert same(v, _exact(prefix)), prefix
    assert same(p.finish(), json.loads(text))
