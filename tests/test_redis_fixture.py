"""The session's redis-server is real, on loopback, and durable across a crash-restart."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.redis


def test_session_server_answers(redis_url: str) -> None:
    import redis

    assert redis_url.startswith("redis://127.0.0.1:")
    with redis.Redis.from_url(redis_url) as r:
        r.set("k", "v")
        assert r.get("k") == b"v"


def test_restart_keeps_acknowledged_writes(own_redis_server) -> None:  # type: ignore[no-untyped-def]
    import redis

    with redis.Redis.from_url(own_redis_server.url) as r:
        r.incrby("n", 5)
    own_redis_server.restart()  # SIGKILL, then start on the same data directory
    with redis.Redis.from_url(own_redis_server.url) as r:
        assert r.get("n") == b"5"
