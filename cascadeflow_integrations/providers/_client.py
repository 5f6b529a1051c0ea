"""Per-event-loop SDK client cache shared by the providers.

An async SDK client owns a connection pool bound to the loop that first used it, so reusing it
from another loop (e.g. a second `asyncio.run`) fails; one client per running loop avoids that.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

from ..config import API_KEY_ENV, ModelConfig
from ._errors import missing_key_error

__all__ = ["KEYLESS_PROVIDERS", "ClientCache", "accepted_params", "raw_post", "resolve_key", "split_params"]

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


class ClientCache(Generic[C]):
    """Lazily builds one client per running event loop; `aclose` closes them."""

    def __init__(self, config: ModelConfig, factory: Callable[..., C]) -> None:
        self._config = config
        self._factory = factory
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, C] = weakref.WeakKeyDictionary()

    def get(self) -> C:
        """The client for the running loop (the key is checked before any network call)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            cfg = self._config
            kwargs: dict[str, Any] = {"api_key": resolve_key(cfg), "max_retries": cfg.max_retries}
            if cfg.resolved_base_url:
                kwargs["base_url"] = cfg.resolved_base_url
            if cfg.timeout is not None:
                # passing None would mean "no timeout" to the SDKs, so only pass a real value
                kwargs["timeout"] = cfg.timeout
            client = self._factory(**kwargs)
            self._clients[loop] = client
            log.debug("created %s client for %s/%s", cfg.sdk, cfg.provider, cfg.name)
        return client

    async def aclose(self) -> None:
        """Close the running loop's client; clients of other loops are dropped (they cannot be awaited here)."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        clients = dict(self._clients)
        self._clients.clear()
        for owner, client in clients.items():
            if owner is loop:
                await client.close()  # type: ignore[attr-defined]
            else:
                log.debug("dropping a %s client owned by another event loop", self._config.sdk)


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
