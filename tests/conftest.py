"""Shared pytest configuration: vcrpy cassettes replayed through the real SDKs.

* Cassettes live in `<repo>/cassettes/<test module>/<test name>.yaml`.
* `CASCADE_RECORD_MODE` (default `none`) is the vcrpy record mode; `all` re-records live.
* Requests match on method, path and the JSON body's `model` (so cascade calls to two models on the
  same endpoint replay by model, not by order).
* A test fails if its cassette has interactions that were never played.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

CASSETTE_ROOT = Path(__file__).resolve().parents[1] / "cassettes"
RECORD_MODE = os.environ.get("CASCADE_RECORD_MODE", "none")
RECORDING = RECORD_MODE != "none"


def _json_model(body: Any) -> str | None:
    if not body:
        return None
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return None
    return data.get("model") if isinstance(data, dict) else None


def match_model(r1: Any, r2: Any) -> None:
    """vcrpy matcher: the JSON body's `model` field is equal."""
    m1, m2 = _json_model(r1.body), _json_model(r2.body)
    assert m1 == m2, f"model {m1!r} != {m2!r}"


def pytest_configure(config: pytest.Config) -> None:
    # langchain-tests' `test_init_time` is a pytest-benchmark timing (hundreds of rounds, several seconds);
    # tests make no timing assertions, so each benchmarked function runs once, as a plain test.
    if hasattr(config.option, "benchmark_disable"):
        config.option.benchmark_disable = True


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    vcr.register_matcher("model", match_model)


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "record_mode": RECORD_MODE,
        "filter_headers": ["authorization", "x-api-key", "api-key", "cookie", "set-cookie", "openai-organization"],
        "match_on": ["method", "path", "model"],
        "decode_compressed_response": True,
        "allow_playback_repeats": False,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    return str(CASSETTE_ROOT / request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture(autouse=True)
def _all_cassette_interactions_played(request: pytest.FixtureRequest) -> Any:
    """Fail a replaying test that left cassette interactions unplayed (a request went missing)."""
    if request.node.get_closest_marker("vcr") is None:
        yield
        return
    cassette = request.getfixturevalue("vcr")
    yield
    if RECORDING or cassette.record_mode != "none":
        return
    unplayed = len(cassette.data) - len(cassette.play_counts)
    assert cassette.all_played, f"{unplayed} cassette interaction(s) never played in {cassette._path}"


def api_key(provider: str) -> str:
    """The real key when recording, else a dummy that must never leak into errors."""
    env = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "groq": "GROQ_API_KEY"}[provider]
    if RECORDING and os.environ.get(env):
        return os.environ[env]
    return {"openai": "sk-test-0123456789abcdef", "anthropic": "sk-ant-test-0123456789", "groq": "gsk_test0123456789"}[
        provider
    ]


@pytest.fixture(scope="module")
def _module_replay_server() -> Any:
    from cascadeflow_integrations.replay import ReplayServer

    server = ReplayServer().start()
    yield server
    server.stop()


@pytest.fixture
def module_replay_server(_module_replay_server: Any) -> Any:
    """One loopback replay server per test module, emptied before each test."""
    _module_replay_server.reset()
    return _module_replay_server


# ---- Redis: a real redis-server per session -----------------------------------------------------

_redis_skipped: list[str] = []


def _redis_binary_or_skip() -> str:
    from redis_helpers import INSTALL_HINT, ci, redis_server_binary

    binary = redis_server_binary()
    if binary is None:
        msg = f"redis-server is not installed; install it with: {INSTALL_HINT}"
        if ci():
            pytest.fail(f"CI=true and {msg}", pytrace=False)
        _redis_skipped.append(msg)
        pytest.skip(msg)
    return binary


@pytest.fixture(scope="session")
def redis_server() -> Any:
    """One real redis-server on a free loopback port for the whole session (stopped at the end)."""
    from redis_helpers import RedisServer

    server = RedisServer(_redis_binary_or_skip()).start()
    yield server
    server.close()


@pytest.fixture
def redis_url(redis_server: Any) -> str:
    """The session server, emptied before each test."""
    import redis

    if not redis_server.ping():  # a test that stopped it (outage tests use their own server, but be safe)
        redis_server.start()
    with redis.Redis.from_url(redis_server.url) as r:
        r.flushall()
    return str(redis_server.url)


@pytest.fixture
def own_redis_server() -> Any:
    """A redis-server of this test's own, for restarts and outages."""
    from redis_helpers import RedisServer

    server = RedisServer(_redis_binary_or_skip()).start()
    yield server
    server.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _redis_skipped:
        n = sum("redis-server is not installed" in str(r.longrepr) for r in terminalreporter.stats.get("skipped", []))
        terminalreporter.write_line(f"{n} Redis test(s) skipped: {_redis_skipped[0]}", yellow=True)
