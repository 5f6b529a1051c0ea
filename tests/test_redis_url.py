"""Redis URLs: a malformed one is a clear error that never quotes the password; reprs never raise or leak."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cascadeflow_integrations.stores import open_store

pytest.importorskip("redis")

from cascadeflow_integrations.stores.redis import RedisStore, redacted_url  # noqa: E402

PW = "Pw9sEcReT"


@pytest.mark.parametrize("url", [
    f"http://:{PW}@127.0.0.1:6379/0", f"redis:/:{PW}@127.0.0.1:6379/0", f"reddis://:{PW}@127.0.0.1:6379/0",
    f"redis:{PW}@host", f"redis://default:{PW}", f"redis://:{PW}@host:port/0",
    f"redis://:{PW}/x@host:6379/0", f"redis://:{PW}?x@host/0", f"redis://host/0?password=a@{PW}",
    f"redis://:{PW}@[::1/0", f"redis://:{PW}@host/{PW}", f"unix://:{PW}@", f"ftp://:{PW}@h", f"redis://:{PW}#@h/0",
])
def test_a_malformed_url_is_an_error_without_the_password(url: str) -> None:
    with pytest.raises(ValueError) as err:
        RedisStore(url)
    assert PW not in str(err.value) and "RedisStore url" in str(err.value)
    assert err.value.__cause__ is None and err.value.__context__ is None
    assert PW not in redacted_url(url)


def test_the_error_names_the_problem() -> None:
    with pytest.raises(ValueError, match=r"'http://127\.0\.0\.1:6379/0' is not a Redis URL \(scheme 'http'\)"):
        RedisStore(f"http://:{PW}@127.0.0.1:6379/0")
    with pytest.raises(ValueError, match=r"the port is not a number.*redis://:PASSWORD@host"):
        RedisStore(f"redis://default:{PW}")
    with pytest.raises(ValueError, match=r"percent-encode the password"):
        RedisStore(f"redis://:a/{PW}@host:6379/0")
    with pytest.raises(ValueError, match=r"socket's absolute path"):
        RedisStore("unix://")


def test_reprs_show_no_secret_and_unix_sockets_as_paths() -> None:
    assert repr(RedisStore(f"redis://user:{PW}@cache.example:6380/2")) == "RedisStore('redis://cache.example:6380/2')"
    assert repr(RedisStore(f"unix://:{PW}@/run/redis/redis.sock?db=3&password={PW}")) == \
        "RedisStore('unix:///run/redis/redis.sock?db=3')"
    assert repr(RedisStore(f"rediss://:{quote('p/w?#@', safe='')}@[::1]:7000")) == "RedisStore('rediss://[::1]:7000')"
    assert redacted_url(None) == "<NoneType>" and redacted_url(f"redis://h:{PW}") == "redis://h:<port>"


def test_an_upper_case_scheme_is_a_redis_url() -> None:
    store = open_store(f"REDIS://:{PW}@127.0.0.1:6379/0")  # schemes are case-insensitive (RFC 3986)
    assert isinstance(store, RedisStore) and store.url.startswith("redis://") and repr(store) == \
        "RedisStore('redis://127.0.0.1:6379/0')"


_END = "Qz7eNd"
_middle = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=10)
_schemes = st.sampled_from(["redis://", "rediss://", "unix://", "REDIS://", "http://", "reddis://", "redis:/",
                            "redis:", "", "redis:///", "Unix://"])
_users = st.sampled_from(["", "default", "u", "user@x"])
_tails = st.sampled_from(["127.0.0.1:6379/0", "host", "host:abc/0", "[::1]:7000/1", "/run/r.sock", "", "h/x/y",
                          "h:6379/0?db=1", "h:0", "h:99999"])


@settings(max_examples=400, deadline=None)
@given(scheme=_schemes, user=_users, middle=_middle, tail=_tails, encode=st.booleans(), in_query=st.booleans())
def test_no_url_with_a_password_shows_it(scheme: str, user: str, middle: str, tail: str, encode: bool,
                                         in_query: bool) -> None:
    password = PW + middle + _END
    secret = quote(password, safe="") if encode else password
    url = f"{scheme}{tail}?password={secret}" if in_query else f"{scheme}{user}:{secret}@{tail}"
    try:
        shown = repr(RedisStore(url))
    except ValueError as e:
        shown = str(e)
    for text in (shown, redacted_url(url)):
        assert PW not in text and _END not in text, (url, text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_redacted_url_never_raises(url: Any) -> None:
    assert isinstance(redacted_url(url), str)
    assert isinstance(redacted_url("redis://" + url), str)
