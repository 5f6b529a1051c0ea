"""Incremental JSON parser for streamed tool-call arguments.

`ProgressiveJSONParser` reads JSON text in fragments of any size into one object tree that it
updates in place. Each input character is examined once: a hand-written state machine over an
explicit stack, with C-speed scanning of string runs inside the current fragment.

`value` hands out snapshots, not that tree: values that never change once returned. Everything
closed (strings, numbers, finished objects and arrays) is shared between snapshots as it is; only
the containers still open are shallow-copied. Copying is bounded so that reading after every
fragment stays linear in the input (see `value`).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import CascadeError

__all__ = ["JSONStreamError", "ProgressiveJSONParser"]

# Structural states (whitespace is skipped in these; keep them < _STRING).
_VALUE = 0  # expecting a value (top level, after ':' or after ',' in an array)
_ARR_FIRST = 1  # after '[': a value or ']'
_OBJ_FIRST = 2  # after '{': a key or '}'
_OBJ_KEY = 3  # after ',' in an object: a key
_COLON = 4  # after a key
_AFTER = 5  # after a value: ',' or the closing bracket (or only whitespace at top level)
# Token states.
_STRING = 6
_ESCAPE = 7  # after a backslash
_UNICODE = 8  # reading the 4 hex digits of \uXXXX
_SURR_BS = 9  # after a high-surrogate escape: a '\\' may start its low half
_SURR_U = 10  # after high surrogate + '\\': a 'u' continues the pair
_NUMBER = 11
_LITERAL = 12
_FAILED = 13

_WS = frozenset(" \t\n\r")  # exactly the whitespace json.loads accepts
_STR_RUN = re.compile(r'[^"\\\x00-\x1f]+').match  # a run of plain string characters
_HEX = frozenset("0123456789abcdefABCDEF")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_LITERALS: dict[str, tuple[str, Any]] = {
    "t": ("true", True),
    "f": ("false", False),
    "n": ("null", None),
    # json.loads accepts these non-standard constants, so we do too.
    "N": ("NaN", float("nan")),
    "I": ("Infinity", float("inf")),
}

# Number DFA: states and transitions per character; accepting states can end the number.
_N_MINUS, _N_ZERO, _N_INT, _N_DOT, _N_FRAC, _N_E, _N_ESIGN, _N_EXP = range(8)
_NUM_ACCEPT = frozenset({_N_ZERO, _N_INT, _N_FRAC, _N_EXP})
_NUM_INT_STATES = frozenset({_N_ZERO, _N_INT})


def _num_table() -> list[dict[str, int]]:
    digits = "0123456789"
    t: list[dict[str, int]] = [{} for _ in range(8)]
    t[_N_MINUS] = {"0": _N_ZERO, **{d: _N_INT for d in digits[1:]}}
    for s in (_N_ZERO, _N_INT):
        t[s] = {".": _N_DOT, "e": _N_E, "E": _N_E}
    t[_N_INT].update({d: _N_INT for d in digits})
    t[_N_DOT] = {d: _N_FRAC for d in digits}
    t[_N_FRAC] = {d: _N_FRAC for d in digits}
    t[_N_FRAC].update({"e": _N_E, "E": _N_E})
    t[_N_E] = {"+": _N_ESIGN, "-": _N_ESIGN, **{d: _N_EXP for d in digits}}
    t[_N_ESIGN] = {d: _N_EXP for d in digits}
    t[_N_EXP] = {d: _N_EXP for d in digits}
    return t


_NUM_T = _num_table()
_NUM_START = {"-": _N_MINUS, "0": _N_ZERO, **{d: _N_INT for d in "123456789"}}

# In-progress strings up to this length are re-joined on every read; longer ones only after
# growing by 1/_LAG_DIV of their length, which keeps the total copying linear (see `value`).
_EXACT_LIMIT = 16_384
_LAG_DIV = 8
# Snapshots whose open containers hold at most _FREE_SLOTS entries in all are always exact; bigger
# ones are paid from a budget of _SLOT_CREDIT copied entries per character read (see `value`).
_FREE_SLOTS = 64
_SLOT_CREDIT = 8


class JSONStreamError(CascadeError, ValueError):
    """Invalid JSON. `pos` is the 0-based character offset; `lineno`/`colno` are 1-based."""

    def __init__(self, msg: str, pos: int, lineno: int, colno: int) -> None:
        self.msg = msg
        self.pos = pos
        self.lineno = lineno
        self.colno = colno
        super().__init__(f"{msg}: line {lineno} column {colno} (char {pos})")


class ProgressiveJSONParser:
    """Parse JSON fed in fragments; read the partial value at any time.

    >>> p = ProgressiveJSONParser()
    >>> p.feed('{"location": {"city": "Par')
    >>> p.value
    {'location': {'city': 'Par'}}
    >>> p.feed('is"}, "days": 3}')
    >>> p.finish()
    {'location': {'city': 'Paris'}, 'days': 3}

    Partial-value rules: strings (keys excepted) appear as soon as their opening quote is read and
    grow as text arrives; numbers appear only once terminated (a trailing "12" could still become
    "123" or "12.5"), so a top-level number appears at `finish()`; true/false/null appear once
    complete; a key appears only when its value has started.
    """

    __slots__ = (
        "_error",
        "_finished",
        "_has_root",
        "_hex",
        "_high",
        "_is_key",
        "_key",
        "_line",
        "_line_start",
        "_lit",
        "_lit_pos",
        "_lit_value",
        "_num_parts",
        "_num_state",
        "_offset",
        "_parts",
        "_pending",
        "_root",
        "_snap",
        "_credit",
        "_credit_at",
        "_dirty",
        "_stack",
        "_state",
        "_str_box",
        "_str_slot",
        "_tok_start",
        "_visible",
        "chars_copied",
        "slots_copied",
    )

    def __init__(self) -> None:
        self._state = _VALUE
        self._stack: list[Any] = []  # open dicts/lists, innermost last
        self._root: Any = None
        self._has_root = False
        self._key = ""  # last completed key of the innermost object
        self._parts: list[str] = []  # pieces of the string being read
        self._is_key = False
        self._str_box: Any = None  # container holding the in-progress value string (None: root)
        self._str_slot: Any = None  # its key or index there
        self._tok_start = 0  # offset where the current string/number began (for errors)
        self._pending = 0  # chars appended to _parts since the value string was last published
        self._visible = 0  # length of the published in-progress string
        self._hex = ""
        self._high = -1  # pending high surrogate waiting for its low half
        self._num_state = 0
        self._num_parts: list[str] = []
        self._lit = ""
        self._lit_pos = 0
        self._lit_value: Any = None
        self._offset = 0  # chars consumed before the current fragment
        self._line = 1
        self._line_start = 0
        self._error: JSONStreamError | None = None
        self._finished = False
        self._snap: Any = None  # the last snapshot handed out while containers were open
        self._dirty = False  # the tree changed visibly since the last snapshot (strings: _pending)
        self._credit = 0  # entries the next snapshots may still copy beyond the free ones
        self._credit_at = 0  # offset up to which _credit has been earned
        #: Characters copied while publishing in-progress strings (a work counter for tests).
        self.chars_copied = 0
        #: Container entries copied while taking snapshots (a work counter for tests).
        self.slots_copied = 0

    def _in_value_str_reset(self) -> None:
        self._str_box = None
        self._str_slot = None
        self._pending = 0
        self._visible = 0

    # ------------------------------------------------------------------ reading

    @property
    def value(self) -> Any:
        """The partial value so far, as a snapshot that never changes (None before any value starts).

        Closed parts are shared with earlier and later snapshots and with `finish()`'s result, so
        treat every snapshot as read-only. Two bounds keep reading after every fragment O(n):

        * An in-progress string is exact up to 16 KiB; a longer one is republished only after
          growing by 1/8 of its length, so it may lag by at most that much until it closes.
        * Open containers are shallow-copied per snapshot. While they hold at most 64 entries in
          all, every snapshot is exact. Beyond that, copies are paid from a budget of 8 entries per
          character read; when it runs out, the previous snapshot is returned again. So the value
          lags the text by at most (entries in open containers) / 8 characters, which is at most
          1/8 of the text read so far, and total copying is at most 8 entries per character.
        """
        stack = self._stack
        if not stack:  # a closed value, a scalar or a root string: nothing left to copy
            return self.live
        growing = self._pending and not self._is_key and _STRING <= self._state <= _SURR_U
        if not (self._dirty or growing):
            return self._snap
        offset = self._offset
        credit = self._credit + _SLOT_CREDIT * (offset - self._credit_at)
        self._credit_at = offset
        if credit < 0 and (len(stack) > _FREE_SLOTS or sum(map(len, stack)) > _FREE_SLOTS):
            self._credit = credit
            return self._snap  # lag: an exact snapshot of an earlier prefix
        if growing:
            self._publish_string()
        child: Any = None
        live_child: Any = None
        slots = 0
        for c in reversed(stack):  # innermost first: each copy points at its open child's copy
            cp = c.copy()
            slots += len(cp)
            if live_child is not None:
                if type(cp) is list:
                    cp[-1] = child  # an open child is always its array's last element
                else:
                    key = next(reversed(cp))
                    if cp[key] is not live_child:  # a repeated key keeps its first position
                        key = next(k for k, v in cp.items() if v is live_child)
                    cp[key] = child
            child, live_child = cp, c
        self.slots_copied += slots
        if slots > _FREE_SLOTS:
            credit -= slots - _FREE_SLOTS
        self._credit = credit
        self._snap = child
        self._dirty = False
        return child

    @property
    def live(self) -> Any:
        """The parser's own tree, updated in place as text arrives (no copies; never mutate it).

        For a synchronous reader that looks at the value right away and keeps nothing; anything
        kept or handed on should use `value`. The in-progress string follows the rule in `value`.
        """
        if self._pending and not self._is_key and _STRING <= self._state <= _SURR_U:
            self._publish_string()
        return self._root

    def partial(self) -> Any:
        """Same as `value`."""
        return self.value

    @property
    def started(self) -> bool:
        """True once the top-level value has started (False: `value` is None for lack of input)."""
        return self._has_root or self._state > _AFTER

    @property
    def done(self) -> bool:
        """True once the top-level value is complete (only whitespace may follow)."""
        return self._has_root and not self._stack and self._state == _AFTER

    @property
    def position(self) -> int:
        """Characters consumed so far."""
        return self._offset

    def _publish_string(self) -> None:
        visible = self._visible
        if visible > _EXACT_LIMIT and self._pending * _LAG_DIV < visible:
            return
        s = "".join(self._parts)
        self.chars_copied += len(s)
        self._parts = [s]
        self._visible = len(s)
        self._pending = 0
        self._store(s)

    def _store(self, s: str) -> None:
        box = self._str_box
        if box is None:
            self._root = s
        else:
            box[self._str_slot] = s

    # ------------------------------------------------------------------ errors

    def _fail(self, msg: str, i: int, fragment: str) -> JSONStreamError:
        pos = self._offset + i
        nl = fragment.count("\n", 0, i)
        line = self._line + nl
        line_start = self._offset + fragment.rfind("\n", 0, i) + 1 if nl else self._line_start
        err = JSONStreamError(msg, pos, line, pos - line_start + 1)
        self._error = err
        self._state = _FAILED
        return err

    # ------------------------------------------------------------------ feeding

    def feed(self, fragment: str) -> None:
        """Consume the next fragment. Raises `JSONStreamError` as soon as the text is invalid."""
        if self._error is not None:
            raise self._error
        if self._finished:
            raise RuntimeError("feed() after finish()")
        n = len(fragment)
        if not n:
            return
        st = self._state
        stack = self._stack
        i = 0
        while i < n:
            if st == _STRING:
                m = _STR_RUN(fragment, i)
                if m is not None:
                    j = m.end()
                    self._parts.append(fragment[i:j])
                    self._pending += j - i
                    i = j
                    if i == n:
                        break
                c = fragment[i]
                i += 1
                if c == '"':
                    s = "".join(self._parts)
                    self._parts = []
                    if self._is_key:
                        self._key = s
                        st = _COLON
                    else:
                        self._store(s)
                        self._in_value_str_reset()
                        self._dirty = True
                        st = _AFTER
                elif c == "\\":
                    # Fast path: a simple escape whose second char is in this fragment.
                    e = _ESCAPES.get(fragment[i]) if i < n else None
                    if e is not None:
                        self._parts.append(e)
                        self._pending += 1
                        i += 1
                    else:
                        st = _ESCAPE
                else:
                    raise self._fail("Invalid control character in string", i - 1, fragment)
                continue

            c = fragment[i]
            if st < _STRING:
                if c in _WS:
                    i += 1
                    continue
                if st == _AFTER:
                    if not stack:
                        raise self._fail("Extra data", i, fragment)
                    top = stack[-1]
                    if c == ",":
                        st = _OBJ_KEY if type(top) is dict else _VALUE
                    elif c == ("}" if type(top) is dict else "]"):
                        stack.pop()
                    else:
                        exp = "',' or '}'" if type(top) is dict else "',' or ']'"
                        raise self._fail(f"Expecting {exp}, got {c!r}", i, fragment)
                    i += 1
                    continue
                if st == _COLON:
                    if c != ":":
                        raise self._fail(f"Expecting ':' delimiter, got {c!r}", i, fragment)
                    st = _VALUE
                    i += 1
                    continue
                if st == _OBJ_KEY or st == _OBJ_FIRST:
                    if c == '"':
                        self._is_key = True
                        self._tok_start = self._offset + i
                        st = _STRING
                    elif c == "}" and st == _OBJ_FIRST:
                        stack.pop()
                        st = _AFTER
                    else:
                        raise self._fail(
                            f"Expecting property name enclosed in double quotes, got {c!r}", i, fragment
                        )
                    i += 1
                    continue
                # _VALUE or _ARR_FIRST: a value starts here.
                if c == "]" and st == _ARR_FIRST:
                    stack.pop()
                    st = _AFTER
                    i += 1
                    continue
                if c == '"':
                    box = stack[-1] if stack else None
                    if box is None:
                        self._root = ""
                        self._has_root = True
                    elif type(box) is dict:
                        box[self._key] = ""
                        self._str_slot = self._key
                    else:
                        self._str_slot = len(box)
                        box.append("")
                    self._str_box = box
                    self._pending = self._visible = 0
                    self._dirty = True
                    self._is_key = False
                    self._tok_start = self._offset + i
                    st = _STRING
                    i += 1
                    continue
                if c == "{" or c == "[":
                    new: Any = {} if c == "{" else []
                    if stack:
                        top = stack[-1]
                        if type(top) is dict:
                            top[self._key] = new
                        else:
                            top.append(new)
                    else:
                        self._root = new
                        self._has_root = True
                    stack.append(new)
                    self._dirty = True
                    st = _OBJ_FIRST if c == "{" else _ARR_FIRST
                    i += 1
                    continue
                ns = _NUM_START.get(c)
                if ns is not None:
                    self._num_state = ns
                    self._num_parts = []
                    self._tok_start = self._offset + i
                    st = _NUMBER
                    i = self._scan_number(fragment, i + 1, n, i)
                    if i < 0:  # the number ended inside this fragment at -i - 1
                        i = -i - 1
                        st = self._end_number(fragment, i)
                    continue
                lit = _LITERALS.get(c)
                if lit is None:
                    raise self._fail(f"Expecting value, got {c!r}", i, fragment)
                self._lit, self._lit_value = lit
                self._lit_pos = 1
                st = _LITERAL
                i += 1
                continue

            if st == _NUMBER:
                i = self._scan_number(fragment, i, n, i)
                if i < 0:
                    i = -i - 1
                    st = self._end_number(fragment, i)
                continue
            if st == _LITERAL:
                lit_s = self._lit
                k = self._lit_pos
                while i < n and k < len(lit_s):
                    if fragment[i] != lit_s[k]:
                        raise self._fail(f"Invalid literal, expecting {lit_s!r}", i, fragment)
                    i += 1
                    k += 1
                self._lit_pos = k
                if k == len(lit_s):
                    self._place_scalar(self._lit_value)
                    st = _AFTER
                continue
            if st == _ESCAPE:
                if c == "u":
                    self._hex = ""
                    st = _UNICODE
                else:
                    e = _ESCAPES.get(c)
                    if e is None:
                        raise self._fail(f"Invalid \\escape: {c!r}", i, fragment)
                    self._parts.append(e)
                    self._pending += 1
                    st = _STRING
                i += 1
                continue
            if st == _UNICODE:
                h = self._hex
                while i < n and len(h) < 4:
                    if fragment[i] not in _HEX:
                        raise self._fail("Invalid \\uXXXX escape", i, fragment)
                    h += fragment[i]
                    i += 1
                self._hex = h
                if len(h) == 4:
                    st = self._code_unit(int(h, 16))
                continue
            if st == _SURR_BS:
                if c == "\\":
                    st = _SURR_U
                    i += 1
                else:  # a lone high surrogate; re-read c as string text
                    self._flush_high()
                    st = _STRING
                continue
            if st == _SURR_U:
                if c == "u":
                    self._hex = ""
                    st = _UNICODE
                    i += 1
                else:  # a lone high surrogate followed by another escape
                    self._flush_high()
                    st = _ESCAPE
                continue
            raise AssertionError(f"unreachable state {st}")  # pragma: no cover

        self._state = st
        self._offset += n
        nl = fragment.count("\n")
        if nl:
            self._line += nl
            self._line_start = self._offset - n + fragment.rfind("\n") + 1

    # Numbers ---------------------------------------------------------------

    def _scan_number(self, fragment: str, i: int, n: int, text_from: int) -> int:
        """Advance the number DFA from i; the number's text in this fragment starts at text_from.

        Returns the new index, or -(end + 1) if the number ended before fragment[end].
        """
        ns = self._num_state
        table = _NUM_T
        while i < n:
            nxt = table[ns].get(fragment[i])
            if nxt is None:
                break
            ns = nxt
            i += 1
        self._num_state = ns
        self._num_parts.append(fragment[text_from:i])
        if i < n:
            return -(i + 1)
        return i

    def _end_number(self, fragment: str, i: int) -> int:
        """The number ended before fragment[i]; place it and return the next state."""
        ns = self._num_state
        if ns not in _NUM_ACCEPT:
            if ns == _N_MINUS and fragment[i] == "I":  # -Infinity, accepted by json.loads
                self._lit, self._lit_value, self._lit_pos = "-Infinity", float("-inf"), 1
                return _LITERAL
            raise self._fail("Invalid number", i, fragment)
        self._place_scalar(self._number_value())
        return _AFTER

    def _number_value(self) -> int | float:
        text = "".join(self._num_parts)
        self._num_parts = []
        try:
            return int(text) if self._num_state in _NUM_INT_STATES else float(text)
        except ValueError as e:  # e.g. more digits than sys.get_int_max_str_digits()
            err = JSONStreamError(str(e), self._tok_start, self._line, 1)
            self._error = err
            self._state = _FAILED
            raise err from None

    def _place_scalar(self, v: Any) -> None:
        self._dirty = True
        stack = self._stack
        if not stack:
            self._root = v
            self._has_root = True
        else:
            top = stack[-1]
            if type(top) is dict:
                top[self._key] = v
            else:
                top.append(v)

    # Escapes -----------------------------------------------------------------

    def _code_unit(self, cu: int) -> int:
        """Handle a decoded \\uXXXX code unit; pair surrogates the way json.loads does."""
        high = self._high
        if high >= 0:
            self._high = -1
            if 0xDC00 <= cu <= 0xDFFF:
                self._parts.append(chr(0x10000 + ((high - 0xD800) << 10) + (cu - 0xDC00)))
                self._pending += 1
                return _STRING
            self._parts.append(chr(high))
            self._pending += 1
        if 0xD800 <= cu <= 0xDBFF:
            self._high = cu
            return _SURR_BS
        self._parts.append(chr(cu))
        self._pending += 1
        return _STRING

    def _flush_high(self) -> None:
        self._parts.append(chr(self._high))
        self._pending += 1
        self._high = -1

    # ------------------------------------------------------------------ finishing

    def finish(self) -> Any:
        """End of input: return the final value (equal to `json.loads` of the whole text)."""
        if self._error is not None:
            raise self._error
        if self._finished:
            return self._root
        st = self._state
        if st == _NUMBER:
            if self._num_state not in _NUM_ACCEPT:
                raise self._fail("Invalid number at end of input", 0, "")
            self._place_scalar(self._number_value())
            st = self._state = _AFTER
        if not (st == _AFTER and not self._stack and self._has_root):
            if _STRING <= st <= _SURR_U:
                raise self._fail(f"Unterminated string starting at char {self._tok_start}", 0, "")
            if st == _LITERAL:
                raise self._fail(f"Invalid literal, expecting {self._lit!r}", 0, "")
            if self._stack:
                kind = "object" if type(self._stack[-1]) is dict else "array"
                raise self._fail(f"Unexpected end of input: unclosed {kind}", 0, "")
            raise self._fail("Expecting value", 0, "")
        self._finished = True
        return self._root

    def reset(self) -> None:
        """Forget everything; ready for a new document."""
        self.__init__()  # type: ignore[misc]
