"""Per-event-loop SDK client cache shared by the providers.

An async SDK client owns a connection pool bound to the loop that first used it, so reusing it
from another loop (e.g. a second `asyncio.run`) fails; one client per running loop avoids that,
and each is closed when its loop shuts down (see `ClientCache`).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, Generic, TypeVar

from ..config import API_KEY_ENV, ModelConfig
from ._errors import missing_key_error

__all__ = ["KEYLESS_PROVIDERS", "ClientCache", "accepted_params", "http_client", "raw_post", "resolve_key",
           "split_params"]

log = logging.getLogger("cascadeflow_integrations.providers")

#: Local OpenAI-compatible servers that ignore the key; the openai SDK still needs a non-empty one.
KEYLESS_PROVIDERS = frozenset({"vllm", "ollama", "lmstudio", "openai-compatible"})

C = TypeVar("C")


def resolve_key(config: ModelConfig) -> str:
    """The API key, or `AuthenticationError` naming the environment variable to set."""
    key = config.resolved_api_key()
    if key:
        return key
    if config.provider in KEYLESS_PROVIDERS:
        return "not-needed"
    raise missing_key_error(provider=config.provider, model=config.name, env_var=API_KEY_ENV.get(config.provider))


@functools.cache
def _tls_context() -> Any:
    import httpx

    return httpx.create_ssl_context()  # what each httpx client would build: certifi, SSL_CERT_FILE/_DIR


def http_client(sdk: Any) -> dict[str, Any]:
    """`http_client=` for a new SDK client: the SDK's own default httpx client, with one TLS context per process.

    Building a TLS context (loading the CA bundle) costs about 20 ms of CPU; without this every client
    (one per event loop and model) builds its own.
    """
    default = getattr(sdk, "DefaultAsyncHttpxClient", None)
    return {} if default is None else {"http_client": default(verify=_tls_context())}


class _Entry:
    """A loop's client and the async generator that closes it when that loop shuts down."""

    __slots__ = ("client", "closer", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, client: Any) -> None:
        self.loop = weakref.ref(loop)
        self.client = client
        self.closer: AsyncGenerator[None, None] | None = None


class ClientCache(Generic[C]):
    """Lazily builds one client per running event loop and closes it when that loop shuts down.

    The cache is keyed by the loop's id and holds it only weakly, but a client's connections
    reference their loop, so dropping the entry is not enough: each client is closed on its own
    loop when that loop finalises its async generators (`asyncio.run` and `asyncio.Runner` do, as
    they finish), through a started async generator registered with that loop. Entries of loops
    that ended without that (a bare `loop.close()`) are dropped at the next `get`. `aclose`
    closes every client whose loop still runs, and so does dropping the cache without `aclose`.
    """

    def __init__(self, config: ModelConfig, factory: Callable[..., C]) -> None:
        self._config = config
        self._factory = factory
        self._entries: dict[int, _Entry] = {}
        self._lock = threading.Lock()
        # holds the entries, not the cache: nothing below may refer back to `self`
        weakref.finalize(self, _release, self._entries, self._lock)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self) -> C:
        """The client for the running loop (the key is checked before any network call)."""
        loop = asyncio.get_running_loop()
        entry = self._entries.get(id(loop))
        if entry is not None and entry.loop() is loop:
            client: C = entry.client
            return client
        cfg = self._config
        kwargs: dict[str, Any] = {"api_key": resolve_key(cfg), "max_retries": cfg.max_retries}
        if cfg.resolved_base_url:
            kwargs["base_url"] = cfg.resolved_base_url
        if cfg.timeout is not None:
            # passing None would mean "no timeout" to the SDKs, so only pass a real value
            kwargs["timeout"] = cfg.timeout
        client = self._factory(**kwargs)
        entry = _Entry(loop, client)
        with self._lock:
            self._drop_dead()
            self._entries[id(loop)] = entry
        entry.closer = _close_at_shutdown(self._entries, self._lock, id(loop), entry)
        _start(entry.closer)
        log.debug("created %s client for %s/%s", cfg.sdk, cfg.provider, cfg.name)
        return client

    def _drop_dead(self) -> None:
        for key, entry in list(self._entries.items()):
            owner = entry.loop()
            if owner is None or owner.is_closed():
                del self._entries[key]
                log.debug("dropped a %s client of a closed event loop", self._config.sdk)

    async def aclose(self) -> None:
        """Close every client: the running loop's here, those of loops running elsewhere on their loop."""
        running = asyncio.get_running_loop()
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
        for entry in entries:
            owner, closer = entry.loop(), entry.closer
            if closer is None or owner is None or owner.is_closed():
                continue
            if owner is running:
                await closer.aclose()
            elif owner.is_running():
                try:
                    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_aclose(closer), owner))
                except RuntimeError:  # that loop closed meanwhile
                    log.debug("a %s client's event loop closed during aclose", self._config.sdk)
            else:
                log.debug("dropping a %s client of a stopped event loop", self._config.sdk)


async def _close_at_shutdown(entries: dict[int, _Entry], lock: threading.Lock, key: int,
                             entry: _Entry) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        # the loop is shutting down its async generators, or `aclose` asked: close on this loop
        with lock:
            if entries.get(key) is entry:
                del entries[key]
        await entry.client.close()


def _release(entries: dict[int, _Entry], lock: threading.Lock) -> None:
    """The cache was dropped without `aclose`: close its clients on their loops, if they still run."""
    with lock:
        dropped = list(entries.values())
        entries.clear()
    for entry in dropped:
        owner, closer = entry.loop(), entry.closer
        if closer is not None and owner is not None and owner.is_running():
            with suppress(RuntimeError):  # the loop closed meanwhile
                owner.call_soon_threadsafe(_close_soon, closer)


_closing: set[asyncio.Task[None]] = set()  # keeps the close tasks alive until they finish


def _close_soon(closer: AsyncGenerator[None, None]) -> None:
    task = asyncio.get_running_loop().create_task(_aclose(closer))
    _closing.add(task)
    task.add_done_callback(_closing.discard)


def _start(agen: AsyncGenerator[None, None]) -> None:
    """Run `agen` to its first `yield` now, in sync code on its loop's thread.

    The first `__anext__` registers the generator with the running loop (its asyncgen hooks), so
    the loop's shutdown finalises it; the body before the `yield` never awaits.
    """
    step = agen.__anext__()
    try:
        step.send(None)  # type: ignore[attr-defined]
    except StopIteration:
        return
    raise RuntimeError("the closer generator awaited before its first yield")  # unreachable


async def _aclose(agen: AsyncGenerator[None, None]) -> None:
    await agen.aclose()


@functools.cache
def accepted_params(method: Callable[..., Any]) -> frozenset[str]:
    """Keyword parameters an SDK method accepts (differs between SDK majors)."""
    return frozenset(inspect.signature(method).parameters)


def split_params(method: Callable[..., Any], body: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for `method`: known params directly, the rest merged into `extra_body`."""
    known = accepted_params(method)
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in body.items():
        if key == "extra_body" and isinstance(value, dict):
            extra.update(value)
        elif key in known:
            kwargs[key] = value
        else:
            extra[key] = value
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


#: The Stainless SDKs' request option for "return the raw, unread response" (what their
#: `with_streaming_response` wrappers set); shared by openai and groq, old and new majors.
_RAW_STREAM = {"headers": {"X-Stainless-Raw-Response": "stream"}}


@asynccontextmanager
async def raw_post(client: Any, path: str, body: dict[str, Any]) -> AsyncIterator[Any]:
    """POST `body` through the SDK client's public `post` and yield the unread response.

    The client still authenticates, retries before the first byte, applies timeouts and raises
    status errors; unlike `create()`, it sends the body as given, skipping a per-call parameter
    transformation that costs about a millisecond before the request leaves.
    """
    extra = body.pop("extra_body", None)
    if isinstance(extra, dict):
        body.update(extra)
    resp = await client.post(path, cast_to=object, body=body, stream=True, options=_RAW_STREAM)
    try:
        yield resp
    finally:
        await resp.close()
