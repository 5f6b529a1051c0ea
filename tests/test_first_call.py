"""A process's first call never imports a provider SDK, redis or OpenTelemetry on the event loop.

Importing an SDK takes half a second or more; on the loop it would stall every task meanwhile, and a
budget's Redis reply (timeout 1 s) would sit unread until the call failed open as "store unavailable".
Run in a fresh interpreter (nothing imported yet), with an audit hook recording which thread imports
each of those modules, and a probe measuring how late the loop wakes from 10 ms sleeps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

FIRST_CALL = r"""
import sys, threading

WATCHED = ("openai", "anthropic", "groq", "redis", "opentelemetry")
imports = []  # (module, importing thread)

def audit(event, args):
    if event == "import" and str(args[0]).split(".")[0] in WATCHED:
        imports.append((str(args[0]), threading.get_ident()))

sys.addaudithook(audit)

import asyncio, json, time
from cascadeflow_integrations import CascadeAgent, ModelConfig
from cascadeflow_integrations.budget import Budget
from cascadeflow_integrations.replay import ReplayServer
from cascadeflow_integrations.stores import RedisStore
from replay_helpers import say, say_anthropic

assert not [m for m, _ in imports], imports  # the library's import pulls in none of them

async def probe(stop, lags):
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - t - 0.01)

async def main(redis_url):
    loop_thread = threading.get_ident()
    server = ReplayServer().start()
    say(server, "gpt-4o-mini", "Paris.")
    say(server, "llama-3.3-70b-versatile", "Paris.")
    say_anthropic(server, "claude-sonnet-4-5", "Paris.")
    key = {"api_key": "sk-test-not-a-real-key", "max_retries": 0, "cost": 0.001}
    stop, lags = asyncio.Event(), []
    task = asyncio.create_task(probe(stop, lags))
    await asyncio.sleep(0.05)
    # built on the loop, as most applications do
    store = RedisStore(redis_url, prefix="first-call")
    models = [ModelConfig(name="gpt-4o-mini", base_url=server.openai_url, **key),
              ModelConfig(name="llama-3.3-70b-versatile", provider="groq", base_url=server.url, **key),
              ModelConfig(name="claude-sonnet-4-5", provider="anthropic", base_url=server.url, **key)]
    agents = [CascadeAgent([m], store=store, budget=Budget(limit_usd=100.0, timeout=1.0)) for m in models]
    results = await asyncio.gather(*(a.run("What is the capital of France?") for a in agents))
    stop.set()
    await task
    for a in agents:
        await a.aclose()
    await store.aclose()
    server.stop()
    print(json.dumps({
        "on_loop": sorted({m for m, t in imports if t == loop_thread}),
        "elsewhere": len({m for m, t in imports if t != loop_thread}),
        "answers": [r.content for r in results],
        "budget": [(r.budget or {}).get("action") for r in results],
        "max_lag_s": round(max(lags), 3),
    }))

asyncio.run(main(sys.argv[1]))
"""


def first_call(redis_url: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    out = subprocess.run([sys.executable, "-c", FIRST_CALL, redis_url], capture_output=True, text=True, env=env,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.redis
def test_the_first_call_imports_nothing_on_the_event_loop(redis_url: str) -> None:
    r = first_call(redis_url)
    assert r["answers"] == ["Paris."] * 3, r
    assert r["on_loop"] == [], f"imported on the event loop: {r['on_loop']} (loop lag {r['max_lag_s']} s)"
    assert r["elsewhere"] > 0, r  # the SDKs were imported, in a thread
    assert r["budget"] == ["none"] * 3, r  # the budget's store answered within its timeout


FORK_RIGHT_AFTER_BUILDING = r"""
import os
from cascadeflow_integrations import CascadeAgent, ModelConfig

key = "sk-test-not-a-real-key"
agent = CascadeAgent([ModelConfig(name="gpt-4o-mini", api_key=key),
                      ModelConfig(name="claude-sonnet-4-5", provider="anthropic", api_key=key)])
pid = os.fork()  # a pre-forking server: the SDK imports started by the agent may still be under way
if pid == 0:
    import anthropic, openai
    os._exit(0)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_process_forked_right_after_building_an_agent_can_use_the_sdks() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        out = subprocess.run([sys.executable, "-c", FORK_RIGHT_AFTER_BUILDING], capture_output=True, text=True,
                             env=env, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("the forked child hung importing an SDK whose import was under way in the parent")
    assert out.returncode == 0 and out.stdout.strip() == "0", out.stderr[-2000:]
