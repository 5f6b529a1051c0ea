"""`agent.aclose()` and `agent.fit()` return within `close_timeout` while Redis cannot be reached.

Nothing listening, an unknown host, a missing unix socket and (on a real redis-server) a wrong password.
Each scenario runs in a subprocess: a regression that hangs fails the test on the subprocess timeout
instead of hanging pytest (a thread stuck waiting would keep the interpreter from exiting).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("redis")

ROOT = Path(__file__).resolve().parents[1]
CLOSE_TIMEOUT = 1.0
#: what the bounds allow beyond close_timeout (a generous margin: the machine may be busy)
MARGIN = 3.0
DEFAULT_CLOSE_TIMEOUT = 5.0  # RedisStore's, used by decision_log="redis://..."

SCENARIOS = r"""
import asyncio, json, sys, time
from cascadeflow_integrations import CascadeAgent
from cascadeflow_integrations.replay import ReplayServer
from cascadeflow_integrations.stores import RedisStore
from replay_helpers import CHEAP, STRONG, model, say

async def timed(coro):
    t0 = time.monotonic()
    try:
        await coro
        error = None
    except Exception as e:
        error = type(e).__name__
    return round(time.monotonic() - t0, 3), error

async def scenario(server, url, owned, close_timeout):
    models = [model(server, CHEAP), model(server, STRONG)]
    if owned:  # the agent opens the store and closes it
        agent = CascadeAgent(models, decision_log=url, validator=lambda r, d: True)
        store = agent.decision_log
    else:
        store = RedisStore(url, timeout=0.2, close_timeout=close_timeout)
        agent = CascadeAgent(models, store=store, validator=lambda r, d: True)
    out = {}
    for i in range(3):
        await agent.run(f"What is the capital of France? ({i})")
    if not owned:
        out["fit_s"], out["fit_error"] = await timed(agent.fit())
    out["aclose_s"], out["aclose_error"] = await timed(agent.aclose())
    if not owned:
        out["store_aclose_s"], out["store_aclose_error"] = await timed(store.aclose())
    s = store.stats
    out["written"], out["dropped"], out["queued"] = s.written, s.dropped, s.queued
    return out

async def main(cases, close_timeout):
    server = ReplayServer().start()
    for _ in range(3 * len(cases)):
        say(server, CHEAP, "Paris.")
    results = await asyncio.gather(*(scenario(server, url, owned, close_timeout) for _, url, owned in cases))
    server.stop()
    print(json.dumps({name: r for (name, _, _), r in zip(cases, results)}))

asyncio.run(main(json.loads(sys.argv[1]), float(sys.argv[2])))
"""


def run_scenarios(cases: list[tuple[str, str, bool]], limit: float) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    try:
        out = subprocess.run([sys.executable, "-c", SCENARIOS, json.dumps(cases), str(CLOSE_TIMEOUT)],
                             capture_output=True, text=True, env=env, timeout=limit, check=False)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"aclose/fit did not return within {limit:.0f} s with Redis unreachable: {e.stderr!r:.2000}")
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def dns_failure_s(host: str) -> float:
    """How long this machine's resolver takes to fail `host` (not ours to bound: redis-py resolves it)."""
    t0 = time.monotonic()
    with pytest.raises(OSError):
        socket.getaddrinfo(host, 6379)
    return time.monotonic() - t0


def check(r: dict[str, Any], calls: int, close_timeout: float, extra: float = 0.0) -> None:
    bound = close_timeout + MARGIN + extra
    assert r["aclose_s"] < bound and r["aclose_error"] is None, r
    if "fit_s" in r:  # fit cannot read the log: it fails with the store's error, in time
        assert r["fit_s"] < bound and r["fit_error"] in ("ConnectionError", "AuthenticationError"), r
        assert r["store_aclose_s"] < bound and r["store_aclose_error"] is None, r
    # every row is accounted for: none written, each dropped and counted, none left waiting
    assert (r["written"], r["dropped"], r["queued"]) == (0, calls, 0), r


def test_aclose_and_fit_return_while_nothing_answers(tmp_path: Path) -> None:
    from redis_helpers import free_port

    host = "cascadeflow-no-such-host.invalid"
    dns_s = dns_failure_s(host)
    cases = [
        ("nothing listening", f"redis://127.0.0.1:{free_port()}/0", False),
        ("unknown host", f"redis://{host}:6379/0", False),
        ("missing socket", f"unix://{tmp_path}/no-redis.sock", False),
        ("nothing listening, decision_log=", f"redis://127.0.0.1:{free_port()}/0", True),
    ]
    results = run_scenarios(cases, limit=60)
    for name, url, owned in cases:
        check(results[name], 3, DEFAULT_CLOSE_TIMEOUT if owned else CLOSE_TIMEOUT,
              extra=4 * dns_s if name == "unknown host" else 0.0)


@pytest.mark.redis
def test_aclose_and_fit_return_with_a_wrong_password(own_redis_server: Any) -> None:
    import redis

    with redis.Redis.from_url(own_redis_server.url) as r:
        r.config_set("requirepass", "the-right-one")
    wrong = f"redis://:not-the-password@127.0.0.1:{own_redis_server.port}/0"
    cases = [("store=", wrong, False), ("decision_log=", wrong, True)]
    results = run_scenarios(cases, limit=60)
    check(results["store="], 3, CLOSE_TIMEOUT)
    check(results["decision_log="], 3, DEFAULT_CLOSE_TIMEOUT)
