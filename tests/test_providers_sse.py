"""The SSE decoder on its own: chunking, encodings, spec corner cases."""

from __future__ import annotations

import json

import pytest

from cascadeflow_integrations.providers._sse import SSEDecoder, loads

pytestmark = pytest.mark.compat

STREAM = (
    'event: message_start\ndata: {"type":"message_start","x":"h\u00e9llo \u2603 \U0001f600"}      }\n\n'
    'event: ping\ndata: {"type": "ping"}\n\n'
    ": keep-alive comment\n\n"
    'data: {"a":1}\n\n'
    'id: 7\nretry: 100\ndata: {"b":\ndata: 2}\n\n'
    "data: [DONE]\n\n"
)
EXPECTED = [
    ("message_start", '{"type":"message_start","x":"h\u00e9llo \u2603 \U0001f600"}      }'),
    ("ping", '{"type": "ping"}'),
    (None, '{"a":1}'),
    (None, '{"b":\n2}'),
    (None, "[DONE]"),
]


def decode(chunks: list[bytes]) -> list[tuple[str | None, str]]:
    d = SSEDecoder()
    out = [e for c in chunks for e in d.feed(c)]
    return out + d.flush()


def test_whole_body() -> None:
    assert decode([STREAM.encode()]) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_any_chunking_gives_the_same_events(size: int) -> None:
    raw = STREAM.encode()
    assert decode([raw[i : i + size] for i in range(0, len(raw), size)]) == EXPECTED


def test_crlf_and_missing_final_blank_line() -> None:
    assert decode([b'data: {"a":1}\r\n\r\ndata: {"b":2}']) == [(None, '{"a":1}'), (None, '{"b":2}')]


def test_data_without_space_and_extra_blank_lines() -> None:
    assert decode([b'data:{"a":1}\n\n\n\nevent:error\ndata:{"e":1}\n\n']) == [(None, '{"a":1}'), ("error", '{"e":1}')]


def test_loads_matches_json_loads_and_tolerates_padding() -> None:
    for text in ['{"type":"message_stop"               }', '{"a":[1,2.5,null,true]}  ', "[1]"]:
        assert loads(text) == json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        loads('{"a":')
    with pytest.raises(json.JSONDecodeError):
        loads('{"a":1} trailing')
