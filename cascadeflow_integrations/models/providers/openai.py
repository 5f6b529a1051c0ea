"""OpenAI Chat Completions (and OpenAI-compatible servers) through `openai.AsyncOpenAI`.

The SDK builds the request, authenticates, retries before the first byte and raises HTTP status
errors; the SSE body is then decoded here from raw bytes (see `_sse`) instead of through the
SDK's typed chunk objects, which keeps per-chunk cost near plain `json.loads`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from ..config import ModelConfig
from ..normalize import PartialCall, ToolCallAccumulator, chat_logprobs, finish_reason
from ...errors import ProviderError
from ...tools.call import ToolCall, ToolCallFormat
from ...types import (
    ChatRequest,
    Completion,
    Delta,
    FinishDelta,
    ModelDelta,
    Samples,
    TextDelta,
    TokenLogprob,
    ToolCallDelta,
    Usage,
    UsageDelta,
)
from ._client import ClientCache, http_client, raw_post, split_params
from ._convert import openai_messages, openai_tool_choice, openai_tools
from ._errors import is_sdk_or_transport_error, truncated_stream_error
from ._sse import DONE, SSEDecoder, loads
from .base import Provider

__all__ = ["OpenAIProvider"]

def _usage(u: dict[str, Any]) -> Usage:
    """Chat Completions usage (OpenAI, Groq, compatible servers): `cached_tokens` are part of `prompt_tokens`,
    `reasoning_tokens` part of `completion_tokens`. Writes are not reported (OpenAI bills them as input)."""
    prompt = u.get("prompt_tokens") or 0
    output = u.get("completion_tokens") or 0
    details = u.get("prompt_tokens_details")
    cached = (details.get("cached_tokens") if details else None) or 0
    out_details = u.get("completion_tokens_details")
    reasoning = (out_details.get("reasoning_tokens") if out_details else None) or 0
    total = u.get("total_tokens")
    if reasoning and total and total == prompt + output + reasoning:
        # some compatible servers (Gemini's) report reasoning beside completion_tokens, not in it: billed as output
        output += reasoning
    return Usage(prompt, output, min(cached, prompt), 0, reasoning)


class OpenAIProvider(Provider):
    """OpenAI and OpenAI-compatible models (vLLM, Ollama, Together, ...)."""

    sdk = "openai"
    sdk_module = "openai"
    supports_logprobs = True
    tool_format = ToolCallFormat.OPENAI
    #: Groq reports usage on the finish chunk, sometimes only under `x_groq.usage`
    _usage_in_x_groq = False
    #: chat completions, relative to the client's base URL
    _path = "/chat/completions"

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self._clients: ClientCache[Any] = ClientCache(config, self._make_client)

    def _make_client(self, **kwargs: Any) -> Any:
        import openai

        return openai.AsyncOpenAI(**http_client(openai), **kwargs)

    def _completions(self) -> Any:
        return self._clients.get().chat.completions

    async def aclose(self) -> None:
        await self._clients.aclose()

    # ---- request -------------------------------------------------------------------------

    def _max_tokens_param(self) -> str:
        # reasoning models reject max_tokens; compatible servers may only know max_tokens
        return "max_completion_tokens" if self.config.provider in ("openai", "groq") else "max_tokens"

    def _body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.config.name, "messages": openai_messages(request.messages)}
        if stream:
            body["stream"] = True
            body.update(self._stream_extras())
        if request.max_tokens is not None:
            body[self._max_tokens_param()] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop:
            body["stop"] = request.stop
        if request.tools:
            body["tools"] = openai_tools(request.tools)
            if request.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = request.parallel_tool_calls
        if request.tool_choice is not None:
            body["tool_choice"] = openai_tool_choice(request.tool_choice)
        if request.logprobs and self.supports_logprobs and self.config.supports_logprobs is not False:
            body["logprobs"] = True
            if request.top_logprobs is not None:
                body["top_logprobs"] = request.top_logprobs
        body.update(self.config.extra_params)
        body.update(request.extra)
        return body

    def _stream_extras(self) -> dict[str, Any]:
        return {"stream_options": {"include_usage": True}}

    # ---- streaming -----------------------------------------------------------------------

    async def stream(self, request: ChatRequest) -> AsyncGenerator[Delta, None]:
        await self.ready()
        client = self._clients.get()  # raises AuthenticationError before any network call
        body = self._body(request, stream=True)
        provider, model, x_groq = self.config.provider, self.config.name, self._usage_in_x_groq
        want_logprobs = request.logprobs
        decoder = SSEDecoder()
        started = False
        failure: ProviderError | None = None
        model_seen = False
        refused = False
        finish: str | None = None
        done = False
        try:
            async with raw_post(client, self._path, body) as resp:
                started = True
                async for chunk in resp.http_response.aiter_bytes():
                    if done:
                        # Read to the end of the body (it ends right after the end marker) so the
                        # connection goes back to the pool instead of being dropped.
                        continue
                    for _event, data in decoder.feed(chunk):
                        if data == DONE:
                            done = True
                            break
                        obj = loads(data)
                        if "error" in obj:
                            raise self._stream_error(obj)
                        if not model_seen and obj.get("model"):
                            model_seen = True
                            yield ModelDelta(obj["model"])
                        choices = obj.get("choices")
                        if choices:
                            choice = choices[0]
                            delta = choice.get("delta")
                            if delta:
                                content = delta.get("content")
                                if content:
                                    lp = choice.get("logprobs") if want_logprobs else None
                                    yield TextDelta(content, chat_logprobs(lp) if lp else None)
                                calls = delta.get("tool_calls")
                                if calls:
                                    for i, tc in enumerate(calls):
                                        fn = tc.get("function") or {}
                                        yield ToolCallDelta(
                                            tc.get("index", i), tc.get("id"), fn.get("name"), fn.get("arguments") or ""
                                        )
                                refusal = delta.get("refusal")
                                if refusal:
                                    refused = True
                                    yield TextDelta(refusal)
                                # reasoning / reasoning_content / channel deltas are dropped on purpose
                            reason = choice.get("finish_reason")
                            if reason:
                                finish = reason
                        usage = obj.get("usage")
                        if usage is None and x_groq:
                            xg = obj.get("x_groq")
                            usage = xg.get("usage") if xg else None
                        if usage:
                            yield UsageDelta(_usage(usage))
                else:
                    for _event, data in decoder.flush():
                        if data == DONE:
                            done = True
                        elif '"error"' in data:
                            obj = loads(data)
                            if "error" in obj:
                                raise self._stream_error(obj)
        except ProviderError:
            raise
        except Exception as exc:
            if not is_sdk_or_transport_error(exc):
                raise
            failure = self._error(exc, started)
        if failure is not None:
            raise failure  # outside the handler, so the SDK's exception is not chained
        if finish is None:
            raise truncated_stream_error(provider=provider, model=model)
        yield FinishDelta(finish_reason(finish, refused=refused) or "stop")

    # ---- several choices in one request (model-based checks) -------------------------------

    @property
    def multi_choice(self) -> bool:  # type: ignore[override]
        # OpenAI and vLLM honour `n`; other compatible servers (and Groq) answer n=1 or reject it.
        return self.config.provider in ("openai", "vllm")

    async def stream_choices(self, request: ChatRequest, n: int) -> AsyncGenerator[tuple[int, Delta], None]:
        """Stream `n` choices of one request as `(choice index, delta)`; usage and model come once, index -1.

        Chunks of different choices interleave; each carries its own `index`, and the usage chunk
        (`choices: []`) covers all of them.
        """
        await self.ready()
        client = self._clients.get()
        body = self._body(request, stream=True)
        body["n"] = n
        finished: set[int] = set()
        decoder = SSEDecoder()
        started = model_seen = done = False
        try:
            async with raw_post(client, self._path, body) as resp:
                started = True
                async for chunk in resp.http_response.aiter_bytes():
                    if done:
                        continue  # drain to the end so the connection is reused
                    for _event, data in decoder.feed(chunk):
                        if data == DONE:
                            done = True
                            break
                        obj = loads(data)
                        if "error" in obj:
                            raise self._stream_error(obj)
                        if not model_seen and obj.get("model"):
                            model_seen = True
                            yield -1, ModelDelta(obj["model"])
                        for choice in obj.get("choices") or ():
                            i = choice.get("index", 0)
                            delta = choice.get("delta") or {}
                            content = delta.get("content") or delta.get("refusal")
                            if content:
                                lp = choice.get("logprobs")
                                yield i, TextDelta(content, chat_logprobs(lp) if lp else None)
                            for k, tc in enumerate(delta.get("tool_calls") or ()):
                                fn = tc.get("function") or {}
                                yield i, ToolCallDelta(tc.get("index", k), tc.get("id"), fn.get("name"),
                                                       fn.get("arguments") or "")
                            if choice.get("finish_reason"):
                                finished.add(i)
                                reason = finish_reason(choice["finish_reason"], refused=bool(delta.get("refusal")))
                                yield i, FinishDelta(reason or "stop")
                        usage = obj.get("usage")
                        if usage is None and self._usage_in_x_groq:
                            usage = (obj.get("x_groq") or {}).get("usage")
                        if usage:
                            yield -1, UsageDelta(_usage(usage))
        except ProviderError:
            raise
        except Exception as exc:
            if not is_sdk_or_transport_error(exc):
                raise
            raise self._error(exc, started) from exc
        if not finished:
            raise truncated_stream_error(provider=self.config.provider, model=self.config.name)

    async def _sample_multi(self, request: ChatRequest, n: int) -> Samples:
        texts: dict[int, list[str]] = {}
        calls: dict[int, ToolCallAccumulator[PartialCall]] = {}  # by choice
        finish: dict[int, str] = {}
        logprobs: dict[int, list[TokenLogprob]] = {}
        usage, model = Usage(), None
        async for i, d in self.stream_choices(request, n):
            if type(d) is TextDelta:
                texts.setdefault(i, []).append(d.text)
                if d.logprobs:
                    logprobs.setdefault(i, []).extend(d.logprobs)
            elif type(d) is ToolCallDelta:
                acc = calls.get(i)
                if acc is None:
                    acc = calls[i] = ToolCallAccumulator(PartialCall)
                acc.add(d)
            elif type(d) is FinishDelta:
                finish[i] = d.reason
            elif type(d) is UsageDelta:
                usage = d.usage
            elif type(d) is ModelDelta:
                model = d.model
        out = []
        # Only the choices that came back: a compatible server that ignores `n` sends one.
        for i in sorted(set(texts) | set(calls) | set(finish)):
            acc = calls.get(i)
            tc = acc.calls(self.tool_format) if acc is not None else []
            out.append(Completion(text="".join(texts.get(i, ())), tool_calls=tc, usage=Usage(),
                                  finish_reason=finish.get(i), model=model, logprobs=logprobs.get(i)))
        missing = [f"asked for {n} choices, the server sent {len(out)}"] if len(out) < n else []
        return Samples(completions=out, usage=usage, requests=1, errors=missing)

    # ---- whole response ------------------------------------------------------------------

    async def complete(self, request: ChatRequest) -> Completion:
        await self.ready()
        completions = self._completions()
        kwargs = split_params(type(completions).create, self._body(request, stream=False))
        obj = await self._fetch_json(completions.with_streaming_response.create, kwargs)
        if "error" in obj:
            raise self._stream_error(obj)
        return self._parse_completion(obj)

    def _parse_completion(self, obj: dict[str, Any]) -> Completion:
        choice = (obj.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        refusal = message.get("refusal")
        calls = [
            ToolCall(
                id=tc.get("id") or "",
                name=tc["function"]["name"],
                arguments=tc["function"].get("arguments") or "",
                provider_format=self.tool_format,
            )
            for tc in message.get("tool_calls") or ()
        ]
        usage = obj.get("usage")
        if usage is None and self._usage_in_x_groq:
            usage = (obj.get("x_groq") or {}).get("usage")
        lp = choice.get("logprobs")
        return Completion(
            text=message.get("content") or refusal or "",
            tool_calls=calls,
            usage=_usage(usage) if usage else Usage(),
            finish_reason=finish_reason(choice.get("finish_reason"), refused=bool(refusal)) or "stop",
            model=obj.get("model"),
            logprobs=chat_logprobs(lp) if lp else None,
        )
