"""LlamaIndex members' usage as billed: cache reads and writes from the raw responses, and OpenAILike streams
asked for usage (or marked estimated when a server sends none). The real LLM classes over loopback HTTP."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from llama_index.core.base.llms.types import ChatMessage
from replay_helpers import accept, reject

from cascadeflow_integrations import Member
from cascadeflow_integrations.llama_index import CascadeLLM
from cascadeflow_integrations.prices import PRICE_TABLE
from cascadeflow_integrations.replay import Reply
from cascadeflow_integrations.replay.wire import anthropic_stream, openai_stream, words

_why = "installed by make test-compat (llama-index-llms-openai pins openai<3)"
OpenAI = pytest.importorskip("llama_index.llms.openai", reason=_why).OpenAI
OpenAILike = pytest.importorskip("llama_index.llms.openai_like", reason=_why).OpenAILike
Anthropic = pytest.importorskip("llama_index.llms.anthropic", reason=_why).Anthropic
pytestmark = pytest.mark.compat
module_loop = pytest.mark.asyncio(loop_scope="module")
anthropic_lt_2 = pytest.mark.skipif(
    int(anthropic.__version__.split(".")[0]) >= 2,
    reason="llama-index-llms-anthropic cannot build messages on anthropic 2.x (runs in make test-compat)")

KEY = "sk-test-not-a-real-key"
MINI, HAIKU = "gpt-4o-mini", "claude-haiku-4-5"
LOCAL = "qwen-local"


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


def usd(price: Any, fresh: int = 0, read: int = 0, write: int = 0, out: int = 0) -> float:
    return (fresh * price.input + read * price.cached_input + write * price.cache_write + out * price.output) / 1000


def local(server: Any, **kw: Any) -> Any:
    return OpenAILike(model=LOCAL, api_base=server.openai_url, api_key=KEY, is_chat_model=True, max_retries=0, **kw)


@module_loop
async def test_openai_llm_cached_and_reasoning_tokens(module_replay_server: Any) -> None:
    server = module_replay_server
    server.add(MINI, Reply(events=openai_stream(MINI, words("Sure."), usage=(4000, 50), cached=3968, reasoning=10)))
    llm = CascadeLLM(models=[OpenAI(model=MINI, api_base=server.openai_url, api_key=KEY, max_retries=0),
                             OpenAI(model="gpt-4o", api_base=server.openai_url, api_key=KEY, max_retries=0)],
                     validator=accept)
    r = await llm.achat(user("Q?"))
    m = r.raw["cascade"]["models"][MINI]
    assert (m["usage"]["input_tokens"], m["usage"]["cached_tokens"], m["usage"]["reasoning_tokens"]) == (4000, 3968, 10)
    assert m["cost"] == pytest.approx(usd(PRICE_TABLE[MINI], fresh=32, read=3968, out=50))


@module_loop
async def test_openai_like_member_asks_for_stream_usage(module_replay_server: Any) -> None:
    server = module_replay_server
    server.add(LOCAL, Reply(events=openai_stream(LOCAL, words("Local answer."), usage=(700, 3))))
    llm = CascadeLLM(models=[Member(local(server), input_cost=0.001, output_cost=0.002),
                             OpenAI(model="gpt-4o", api_base=server.openai_url, api_key=KEY, max_retries=0)],
                     validator=accept)
    r = await llm.achat(user("Q?"))
    assert server.stats.requests[0]["stream_options"] == {"include_usage": True}
    cascade = r.raw["cascade"]
    assert cascade["models"][LOCAL]["usage"]["input_tokens"] == 700 and not cascade["cost_estimated"]
    assert cascade["total_cost"] == pytest.approx((700 * 0.001 + 3 * 0.002) / 1000)


@module_loop
async def test_openai_like_stream_without_usage_is_estimated_not_free(module_replay_server: Any) -> None:
    server = module_replay_server
    events = [e for e in openai_stream(LOCAL, words("Local answer here.")) if '"choices":[]' not in e]
    server.add(LOCAL, Reply(events=events))  # a server that sends no usage chunk
    member = local(server, additional_kwargs={"stream_options": {"include_usage": False}})  # the user opted out
    llm = CascadeLLM(models=[Member(member, input_cost=0.001, output_cost=0.002),
                             OpenAI(model="gpt-4o", api_base=server.openai_url, api_key=KEY, max_retries=0)],
                     validator=accept)
    r = await llm.achat(user("Explain " + "the thing " * 100))
    cascade = r.raw["cascade"]
    attempt = cascade["attempts"][0]
    assert server.stats.requests[0]["stream_options"] == {"include_usage": False}
    assert attempt["usage_estimated"] and cascade["cost_estimated"]
    assert attempt["usage"]["input_tokens"] > 200  # the prompt (about chars / 4) is priced, not dropped
    assert cascade["total_cost"] > attempt["usage"]["input_tokens"] * 0.001 / 1000


@module_loop
@anthropic_lt_2
async def test_anthropic_llm_cache_reads_and_writes(module_replay_server: Any) -> None:
    server = module_replay_server
    server.add(MINI, Reply(events=openai_stream(MINI, words("Unsure."), usage=(10, 2))))
    server.add(HAIKU, Reply(events=anthropic_stream(HAIKU, words("Sure."), usage=(40, 6), cache_read=5000,
                                                    cache_write=1200)))
    llm = CascadeLLM(models=[OpenAI(model=MINI, api_base=server.openai_url, api_key=KEY, max_retries=0),
                             Anthropic(model=HAIKU, base_url=server.url, api_key=KEY, max_retries=0)],
                     validator=reject)
    r = await llm.achat(user("Q?"))
    h = r.raw["cascade"]["models"][HAIKU]
    assert (h["usage"]["input_tokens"], h["usage"]["cached_tokens"], h["usage"]["cache_write_tokens"]) == \
        (6240, 5000, 1200)
    assert h["cost"] == pytest.approx(usd(PRICE_TABLE[HAIKU], fresh=40, read=5000, write=1200, out=6))
