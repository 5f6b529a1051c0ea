"""No API key anywhere in an error's chain, even when the server quotes the key back (issue 16, item 2).

A loopback server answers 401 and 400 with bodies that contain the key the request sent, as
providers and proxies do for a rejected key; the error is then inspected every way an application
or framework would print it.
"""

from __future__ import annotations

import io
import json
import logging
import traceback
from typing import Any

import pytest

from cascadeflow_integrations import CascadeAgent, ModelConfig
from cascadeflow_integrations.errors import AuthenticationError, BadRequestError, ProviderError
from cascadeflow_integrations.providers import create_provider
from cascadeflow_integrations.replay import Reply, ReplayServer
from cascadeflow_integrations.streaming import StreamEventType
from cascadeflow_integrations.types import ChatRequest, Message

PROVIDERS = ["openai", "anthropic", "groq"]
#: one key shaped like the provider's, one a proxy token no pattern recognises
KEYS = {
    "openai": ["sk-proj-NOT-A-REAL-KEY-echoed", "proxy-token-5f2c9e1a7b3d"],
    "anthropic": ["sk-ant-NOT-REAL-echoed", "proxy-token-5f2c9e1a7b3d"],
    "groq": ["gsk_NOTAREALKEYechoed", "proxy-token-5f2c9e1a7b3d"],
}
CASES = [(p, k) for p in PROVIDERS for k in KEYS[p]]
DRAFT, STRONG = "draft-model", "strong-model"


def _body(provider: str, status: int) -> str:
    """An error body quoting the key (`{api_key}` is filled in by the server)."""
    if status == 401:
        message, kind = "Incorrect API key provided: {api_key}. You can find your key at ...", "invalid_request_error"
    else:
        message, kind = "Invalid request (auth {api_key}): 'messages' is malformed", "invalid_request_error"
    if provider == "anthropic":
        kind = "authentication_error" if status == 401 else kind
        return json.dumps({"type": "error", "error": {"type": kind, "message": message}})
    return json.dumps({"error": {"message": message, "type": kind, "code": "invalid_api_key" if status == 401 else None,
                                 "param": None, "key": "{api_key}"}})


def _reply(provider: str, status: int) -> Reply:
    header = "request-id" if provider == "anthropic" else "x-request-id"
    return Reply(status=status, body=_body(provider, status), echo_key=True, headers={header: f"req_{status}"})


def _config(server: ReplayServer, provider: str, key: str, name: str) -> ModelConfig:
    url = server.openai_url if provider == "openai" else server.url
    return ModelConfig(name=name, provider=provider, base_url=url, api_key=key, max_retries=0)


def _renderings(exc: BaseException) -> str:
    """Everything an application, a logger or a framework could print of `exc` and its chain."""
    parts = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        parts += [str(e), repr(e), repr(e.args), repr(getattr(e, "__notes__", None)), repr(vars(e))]
        todo += [e.__cause__, e.__context__]
    buf = io.StringIO()
    lg = logging.getLogger("test.errors_no_key")
    handler = logging.StreamHandler(buf)
    lg.addHandler(handler)
    try:
        lg.error("call failed", exc_info=exc)
    finally:
        lg.removeHandler(handler)
    parts.append(buf.getvalue())
    return "\n".join(parts)


def assert_no_key(exc: BaseException, key: str) -> None:
    text = _renderings(exc)
    assert "call failed" in text and type(exc).__name__ in text  # the renderings are real
    assert key not in text
    assert exc.__cause__ is None and exc.__context__ is None


@pytest.fixture
def server(module_replay_server: ReplayServer) -> ReplayServer:
    return module_replay_server


@pytest.mark.parametrize("provider,key", CASES)
@pytest.mark.parametrize("status,cls", [(401, AuthenticationError), (400, BadRequestError)])
async def test_provider_error_chain_holds_no_key(server, provider, key, status, cls):
    p = create_provider(_config(server, provider, key, DRAFT))
    request = ChatRequest(messages=[Message("user", "hi")])
    server.add(DRAFT, _reply(provider, status))
    server.add(DRAFT, _reply(provider, status))
    try:
        with pytest.raises(cls) as streamed:
            async for _ in p.stream(request):
                pass
        with pytest.raises(cls) as whole:
            await p.complete(request)
    finally:
        await p.aclose()
    for info in (streamed, whole):
        err = info.value
        assert err.status_code == status and err.request_id == f"req_{status}"
        assert "***" in err.message  # the quoted key was there, and was redacted
        assert_no_key(err, key)


@pytest.mark.parametrize("provider,key", CASES)
async def test_cascade_agent_errors_hold_no_key(server, provider, key, caplog):
    agent = CascadeAgent([_config(server, provider, key, DRAFT), _config(server, provider, key, STRONG)])
    server.add(DRAFT, _reply(provider, 401))
    server.add(STRONG, _reply(provider, 400))
    server.add(DRAFT, _reply(provider, 401))
    server.add(STRONG, _reply(provider, 400))
    caplog.set_level(logging.DEBUG, logger="cascadeflow_integrations")
    try:
        with pytest.raises(BadRequestError) as info:
            await agent.run("hi")
        events = [ev async for ev in agent.stream_events("hi")]
    finally:
        await agent.aclose()
    assert_no_key(info.value, key)
    error = next(ev for ev in events if ev.type is StreamEventType.ERROR)
    assert isinstance(error.data["error"], BadRequestError)
    assert_no_key(error.data["error"], key)
    assert key not in repr([ev.data for ev in events])
    assert "failed" in caplog.text and key not in caplog.text


@pytest.mark.parametrize("provider,key", CASES)
def test_chat_cascade_on_llm_error_holds_no_key(server, provider, key):
    from langchain_core.callbacks import BaseCallbackHandler

    from cascadeflow_integrations.langchain import ChatCascade

    class Recorder(BaseCallbackHandler):
        def __init__(self) -> None:
            self.errors: list[BaseException] = []

        def on_llm_error(self, error: BaseException, *, parent_run_id: Any = None, **kwargs: Any) -> None:
            self.errors.append(error)
            self.roots += parent_run_id is None

        roots = 0

    recorder = Recorder()
    llm = ChatCascade(models=[_config(server, provider, key, DRAFT), _config(server, provider, key, STRONG)])
    for _ in range(2):
        server.add(DRAFT, _reply(provider, 401))
        server.add(STRONG, _reply(provider, 401))
    with pytest.raises(ProviderError) as invoked:
        llm.invoke("hi", config={"callbacks": [recorder]})
    with pytest.raises(ProviderError) as streamed:
        for _ in llm.stream("hi", config={"callbacks": [recorder]}):
            pass
    # each call's own run, and under it the failed draft's and verifier's member runs: none holds the key
    assert recorder.roots == 2 and len(recorder.errors) == 6
    for err in [invoked.value, streamed.value, *recorder.errors]:
        assert isinstance(err, AuthenticationError)
        assert_no_key(err, key)
