"""Builders of provider wire formats (SSE events and JSON bodies), shaped like the real recordings.

Field order, compact separators, `obfuscation`, `x_groq` and Anthropic's `ping` follow the real
responses in `shared/reference-streams/`, so the SDKs and our parsers see what they see live.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

_ids = itertools.count(1)
_CREATED = 1782955817


def _j(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _oid(prefix: str) -> str:
    return f"{prefix}{next(_ids):024d}"


def _openai_chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None = None,
                  logprobs: Any = None, usage_null: bool = True) -> str:
    chunk: dict[str, Any] = {
        "id": cid, "object": "chat.completion.chunk", "created": _CREATED, "model": model,
        "service_tier": "default", "system_fingerprint": "fp_d0469e1700",
        "choices": [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}],
    }
    if usage_null:
        chunk["usage"] = None
    chunk["obfuscation"] = "C63r"
    return "data: " + _j(chunk)


def _openai_usage(input_tokens: int, output_tokens: int, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    # as OpenAI bills: cached_tokens are part of prompt_tokens, reasoning_tokens part of completion_tokens
    return {
        "prompt_tokens": input_tokens, "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }


def _anthropic_usage(input_tokens: int, output_tokens: int, cache_read: int, cache_write: int) -> dict[str, Any]:
    # as Anthropic bills: input_tokens are only the tokens after the last cache breakpoint
    return {"input_tokens": input_tokens, "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "cache_creation": {"ephemeral_5m_input_tokens": cache_write, "ephemeral_1h_input_tokens": 0},
            "output_tokens": output_tokens}


def openai_stream(model: str, pieces: Sequence[str] = (), *, tool_calls: Sequence[tuple[str, str, str]] = (),
                  fragment: int = 12, usage: tuple[int, int] = (20, 10), finish: str | None = None,
                  logprob: float | None = None, cached: int = 0, reasoning: int = 0) -> list[str]:
    """An OpenAI chat-completions stream with `include_usage`: text pieces then tool calls.

    `usage` is (prompt_tokens, completion_tokens); `cached` of the prompt tokens were cache reads and
    `reasoning` of the completion tokens hidden reasoning, as OpenAI reports them.

    `tool_calls` are `(id, name, arguments_json)`; arguments are cut into `fragment`-char pieces
    as OpenAI does. With `logprob`, every text piece carries that token logprob.
    """
    cid = _oid("chatcmpl-")
    events = [_openai_chunk(cid, model, {"role": "assistant", "content": "" if not tool_calls or pieces else None,
                                         "refusal": None},
                            logprobs={"content": [], "refusal": None} if logprob is not None else None)]
    for p in pieces:
        lp = None
        if logprob is not None:
            lp = {"content": [{"token": p, "logprob": logprob, "bytes": list(p.encode()), "top_logprobs": []}],
                  "refusal": None}
        events.append(_openai_chunk(cid, model, {"content": p}, logprobs=lp))
    for i, (call_id, name, args) in enumerate(tool_calls):
        events.append(_openai_chunk(cid, model, {"tool_calls": [
            {"index": i, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}]}))
        for k in range(0, len(args), fragment):
            events.append(_openai_chunk(cid, model, {"tool_calls": [
                {"index": i, "function": {"arguments": args[k:k + fragment]}}]}))
    reason = finish or ("tool_calls" if tool_calls else "stop")
    events.append(_openai_chunk(cid, model, {}, finish=reason))
    events.append("data: " + _j({
        "id": cid, "object": "chat.completion.chunk", "created": _CREATED, "model": model,
        "service_tier": "default", "system_fingerprint": "fp_d0469e1700", "choices": [],
        "usage": _openai_usage(*usage, cached, reasoning), "obfuscation": "khVgg3RsaN"}))
    events.append("data: [DONE]")
    return events


def openai_choices_stream(model: str, answers: Sequence[str], *, usage: tuple[int, int] = (20, 10),
                          finish: str = "stop") -> list[str]:
    """An OpenAI stream for a request with `n` = len(answers): choices interleave, usage comes once.

    Each answer is cut into words; chunks go round-robin over the choices, each with its `index`,
    as OpenAI sends them.
    """
    cid = _oid("chatcmpl-")

    def chunk(i: int, delta: dict[str, Any], reason: str | None = None) -> str:
        return "data: " + _j({
            "id": cid, "object": "chat.completion.chunk", "created": _CREATED, "model": model,
            "service_tier": "default", "system_fingerprint": "fp_d0469e1700",
            "choices": [{"index": i, "delta": delta, "logprobs": None, "finish_reason": reason}],
            "usage": None, "obfuscation": "C63r"})

    events = [chunk(i, {"role": "assistant", "content": "", "refusal": None}) for i in range(len(answers))]
    pieces = [words(a) for a in answers]
    for k in range(max((len(p) for p in pieces), default=0)):
        events += [chunk(i, {"content": p[k]}) for i, p in enumerate(pieces) if k < len(p)]
    events += [chunk(i, {}, finish) for i in range(len(answers))]
    events.append("data: " + _j({
        "id": cid, "object": "chat.completion.chunk", "created": _CREATED, "model": model,
        "service_tier": "default", "system_fingerprint": "fp_d0469e1700", "choices": [],
        "usage": _openai_usage(*usage), "obfuscation": "khVgg3RsaN"}))
    events.append("data: [DONE]")
    return events


def openai_verdict_body(model: str, p_yes: float, *, usage: tuple[int, int] = (60, 1)) -> str:
    """A non-streaming one-token reply "Yes"/"No" with top logprobs giving P(Yes) = `p_yes`."""
    import math

    p_yes = min(max(p_yes, 1e-6), 1 - 1e-6)
    top = [("Yes", math.log(p_yes)), ("No", math.log(1 - p_yes))]
    top.sort(key=lambda t: -t[1])
    lp = {"content": [{"token": top[0][0], "logprob": top[0][1], "bytes": list(top[0][0].encode()),
                       "top_logprobs": [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in top]}],
          "refusal": None}
    return _j({
        "id": _oid("chatcmpl-"), "object": "chat.completion", "created": _CREATED, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": top[0][0], "refusal": None,
                                             "annotations": []}, "logprobs": lp, "finish_reason": "length"}],
        "usage": _openai_usage(*usage), "service_tier": "default", "system_fingerprint": "fp_d0469e1700"})


def openai_body(model: str, text: str | None = "", *, tool_calls: Sequence[tuple[str, str, str]] = (),
                usage: tuple[int, int] = (20, 10), finish: str | None = None, cached: int = 0,
                reasoning: int = 0) -> str:
    """A non-streaming chat-completions body."""
    message: dict[str, Any] = {"role": "assistant", "content": text if text or not tool_calls else None,
                               "refusal": None, "annotations": []}
    if tool_calls:
        message["tool_calls"] = [{"id": i, "type": "function", "function": {"name": n, "arguments": a}}
                                 for i, n, a in tool_calls]
    return _j({
        "id": _oid("chatcmpl-"), "object": "chat.completion", "created": _CREATED, "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": finish or ("tool_calls" if tool_calls else "stop")}],
        "usage": _openai_usage(*usage, cached, reasoning), "service_tier": "default",
        "system_fingerprint": "fp_d0469e1700"})


def groq_stream(model: str, pieces: Sequence[str] = (), *, tool_calls: Sequence[tuple[str, str, str]] = (),
                usage: tuple[int, int] = (20, 10), finish: str | None = None, cached: int | None = None) -> list[str]:
    """A Groq stream: whole tool calls in one delta, usage in `x_groq.usage` on the finish chunk."""
    cid = _oid("chatcmpl-")
    req = _oid("req_")

    def chunk(delta: dict[str, Any], finish_reason: str | None = None, x_groq: dict[str, Any] | None = None) -> str:
        c: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": _CREATED, "model": model,
                             "system_fingerprint": "fp_3b1d4f8c4e",
                             "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                          "finish_reason": finish_reason}]}
        if x_groq is not None:
            c["x_groq"] = x_groq
        return "data: " + _j(c)

    events = [chunk({"role": "assistant", "content": ""}, x_groq={"id": req, "seed": 110123312})]
    events += [chunk({"content": p}) for p in pieces]
    if tool_calls:
        events.append(chunk({"tool_calls": [
            {"id": cid_, "type": "function", "function": {"name": n, "arguments": a}, "index": i}
            for i, (cid_, n, a) in enumerate(tool_calls)]}))
    u: dict[str, Any] = {"queue_time": 0.0049, "prompt_tokens": usage[0], "prompt_time": 0.0146,
                         "completion_tokens": usage[1], "completion_time": 0.112, "total_tokens": usage[0] + usage[1],
                         "total_time": 0.1268}
    if cached is not None:  # models with prompt caching report it as OpenAI does (part of prompt_tokens)
        u["prompt_tokens_details"] = {"cached_tokens": cached}
    events.append(chunk({}, finish or ("tool_calls" if tool_calls else "stop"), x_groq={"id": req, "usage": u}))
    events.append("data: [DONE]")
    return events


def anthropic_stream(model: str, pieces: Sequence[str] = (), *, tool_calls: Sequence[tuple[str, str, str]] = (),
                     fragment: int = 12, usage: tuple[int, int] = (20, 10), stop: str | None = None,
                     cache_read: int = 0, cache_write: int = 0) -> list[str]:
    """An Anthropic Messages stream (with the padding and `ping` the real API sends).

    `usage[0]` is Anthropic's `input_tokens`: the prompt tokens after the last cache breakpoint, without
    the `cache_read` and `cache_write` tokens, which it reports apart.
    """
    mid = _oid("msg_01")

    def ev(name: str, data: dict[str, Any], pad: str = "     ") -> str:
        return f"event: {name}\ndata: {_j(data)}{pad}"

    events = [ev("message_start", {"type": "message_start", "message": {
        "model": model, "id": mid, "type": "message", "role": "assistant", "content": [], "stop_reason": None,
        "stop_sequence": None, "usage": {**_anthropic_usage(usage[0], 1, cache_read, cache_write),
                                         "service_tier": "standard"}}})]
    idx = 0
    if pieces:
        events.append(ev("content_block_start", {"type": "content_block_start", "index": idx,
                                                 "content_block": {"type": "text", "text": ""}}))
        events.append('event: ping\ndata: {"type": "ping"}')
        for p in pieces:
            events.append(ev("content_block_delta", {"type": "content_block_delta", "index": idx,
                                                     "delta": {"type": "text_delta", "text": p}}))
        events.append(ev("content_block_stop", {"type": "content_block_stop", "index": idx}))
        idx += 1
    for call_id, name, args in tool_calls:
        events.append(ev("content_block_start", {"type": "content_block_start", "index": idx, "content_block": {
            "type": "tool_use", "id": call_id, "name": name, "input": {}}}))
        events.append(ev("content_block_delta", {"type": "content_block_delta", "index": idx,
                                                 "delta": {"type": "input_json_delta", "partial_json": ""}}))
        for k in range(0, len(args), fragment):
            events.append(ev("content_block_delta", {"type": "content_block_delta", "index": idx, "delta": {
                "type": "input_json_delta", "partial_json": args[k:k + fragment]}}))
        events.append(ev("content_block_stop", {"type": "content_block_stop", "index": idx}))
        idx += 1
    events.append(ev("message_delta", {"type": "message_delta", "delta": {
        "stop_reason": stop or ("tool_use" if tool_calls else "end_turn"), "stop_sequence": None},
        # as the real API sends it: cumulative, input counts included (LangChain reads usage only here)
        "usage": {k: v for k, v in _anthropic_usage(usage[0], usage[1], cache_read, cache_write).items()
                  if k != "cache_creation"}}))
    events.append(ev("message_stop", {"type": "message_stop"}))
    return events


def anthropic_body(model: str, text: str = "", *, tool_calls: Sequence[tuple[str, str, str]] = (),
                   usage: tuple[int, int] = (20, 10), stop: str | None = None, cache_read: int = 0,
                   cache_write: int = 0) -> str:
    """A non-streaming Messages body."""
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [{"type": "tool_use", "id": i, "name": n, "input": json.loads(a)} for i, n, a in tool_calls]
    return _j({"id": _oid("msg_01"), "type": "message", "role": "assistant", "model": model, "content": content,
               "stop_reason": stop or ("tool_use" if tool_calls else "end_turn"), "stop_sequence": None,
               "usage": {**_anthropic_usage(usage[0], usage[1], cache_read, cache_write),
                         "service_tier": "standard"}})


def error_body(provider: str, status: int, message: str, error_type: str | None = None) -> str:
    """An error body in the provider's shape."""
    if provider == "anthropic":
        return _j({"type": "error", "error": {"type": error_type or "api_error", "message": message},
                   "request_id": "req_011CaReplay"})
    return _j({"error": {"message": message, "type": error_type or "server_error", "param": None,
                         "code": error_type}})


def words(text: str) -> list[str]:
    """Cut text into word-sized stream pieces (a leading space on all but the first), as tokenizers do."""
    parts = text.split(" ")
    return [parts[0]] + [" " + p for p in parts[1:]]
