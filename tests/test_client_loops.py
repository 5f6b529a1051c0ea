"""SDK clients across event loops: a finished loop's clients and sockets are released (issue 16, item 5)."""

from __future__ import annotations

import asyncio
import gc
import os
import warnings
import weakref
from typing import Any

import pytest
from replay_helpers import CHEAP, STRONG, accept, model, reject, say, say_anthropic

from cascadeflow_integrations import CascadeAgent
from cascadeflow_integrations.replay import ReplayServer

RUNS = 24


def open_sockets() -> int:
    fds = "/proc/self/fd"
    count = 0
    for fd in os.listdir(fds):
        try:
            count += os.readlink(os.path.join(fds, fd)).startswith("socket:")
        except OSError:
            pass
    return count


def cached_clients(agent: CascadeAgent) -> int:
    return sum(len(m._provider._clients) for m in agent.members)  # type: ignore[attr-defined]


@pytest.fixture
def server(module_replay_server: ReplayServer) -> ReplayServer:
    return module_replay_server


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts sockets through /proc")
@pytest.mark.parametrize("provider", ["openai", "anthropic", "groq"])
def test_successive_asyncio_runs_release_clients_loops_and_sockets(server, provider):
    agent = CascadeAgent([model(server, CHEAP, provider), model(server, STRONG, provider)], validator=accept)
    for _ in range(RUNS):
        if provider == "anthropic":
            say_anthropic(server, CHEAP, "Paris is the capital of France.")
        else:
            say(server, CHEAP, "Paris is the capital of France.")
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []
    during: list[int] = []

    async def one() -> str:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        result = await agent.run("Capital of France?")
        during.append(cached_clients(agent))
        return result.content

    gc.collect()
    before = open_sockets()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(RUNS):
            assert asyncio.run(one()) == "Paris is the capital of France."
        gc.collect()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert during == [1] * RUNS  # one client while a loop runs (the draft's; the strong model was not called)
    assert cached_clients(agent) == 0  # each loop's client was closed as the loop shut down
    assert [r for r in loops if r() is not None] == []  # no finished loop is kept alive
    assert unclosed == []
    assert open_sockets() <= before
    assert len(server.stats.requests) == RUNS


def test_aclose_closes_the_clients_of_every_live_loop(server):
    agent = CascadeAgent([model(server, CHEAP), model(server, STRONG)], validator=accept)
    say(server, CHEAP, "one")
    say(server, CHEAP, "two")
    clients: list[Any] = []

    async def remember() -> None:
        provider = agent.members[0]._provider  # type: ignore[attr-defined]
        clients.append(provider._clients.get())  # type: ignore[attr-defined]

    # one client on the private sync loop, one on a loop the caller runs
    assert agent.run_sync("hi").content == "one"
    from cascadeflow_integrations._sync import run_sync

    run_sync(remember())

    async def main() -> None:
        assert (await agent.run("hi")).content == "two"
        await remember()
        assert cached_clients(agent) == 2
        await agent.aclose()

    asyncio.run(main())
    assert len(clients) == 2 and clients[0] is not clients[1]
    assert all(c.is_closed() for c in clients)
    assert cached_clients(agent) == 0


def test_dropping_an_agent_closes_its_clients_on_the_sync_loop(server):
    from cascadeflow_integrations._sync import run_sync

    agent = CascadeAgent([model(server, CHEAP), model(server, STRONG)], validator=reject)
    say(server, CHEAP, "one")
    say(server, STRONG, "two")
    assert agent.run_sync("hi").content == "two"  # escalated: a client per model

    async def client(a: CascadeAgent) -> Any:
        return a.members[0]._provider._clients.get()  # type: ignore[attr-defined]

    kept = run_sync(client(agent))
    assert not kept.is_closed()

    async def settle() -> None:
        for _ in range(50):
            if kept.is_closed():
                return
            await asyncio.sleep(0.01)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        del agent
        gc.collect()
        run_sync(settle())
        gc.collect()
    assert kept.is_closed()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
