"""Build provider-exact SSE/JSON bodies and write them as vcrpy cassettes.

The shapes copy the real recordings in ../shared/reference-streams (compact JSON, OpenAI's
`obfuscation`, Groq's `x_groq`, Anthropic's whitespace padding and `ping`). Run
`python cassettes/make_cassettes.py` to regenerate the hand-written cassettes in `cassettes/`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

OPENAI_URI = "https://api.openai.com/v1/chat/completions"
ANTHROPIC_URI = "https://api.anthropic.com/v1/messages"
GROQ_URI = "https://api.groq.com/openai/v1/chat/completions"

SSE_HEADERS = {"content-type": ["text/event-stream; charset=utf-8"], "transfer-encoding": ["chunked"]}
JSON_HEADERS = {"content-type": ["application/json"]}


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


# ---- OpenAI ------------------------------------------------------------------------------------

OPENAI_MODEL = "gpt-4o-mini-2024-07-18"


def openai_chunk(
    delta: dict[str, Any] | None,
    *,
    finish: str | None = None,
    usage: dict[str, Any] | None = None,
    logprobs: Any = None,
    obfuscation: str = "HM7mrUsjk",
    model: str = OPENAI_MODEL,
) -> str:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-Dx0Xq5Xx9rHB2ehcHZCRDsnuymUXc",
        "object": "chat.completion.chunk",
        "created": 1782955818,
        "model": model,
        "service_tier": "default",
        "system_fingerprint": "fp_d0469e1700",
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}],
        "usage": usage,
        "obfuscation": obfuscation,
    }
    return f"data: {dumps(chunk)}\n\n"


def openai_usage(prompt: int, completion: int, cached: int = 0) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def openai_text_stream(pieces: list[str], usage: tuple[int, int, int] = (14, 6, 0)) -> str:
    out = [openai_chunk({"role": "assistant", "content": "", "refusal": None})]
    out += [openai_chunk({"content": p}, obfuscation="auU6fTns") for p in pieces]
    out.append(openai_chunk({}, finish="stop", obfuscation="oHb"))
    out.append(openai_chunk(None, usage=openai_usage(*usage), obfuscation="khVgg3RsaN"))
    out.append("data: [DONE]\n\n")
    return "".join(out)


def openai_parallel_tool_stream(calls: list[tuple[str, str, list[str]]], usage: tuple[int, int, int]) -> str:
    """`calls`: (id, name, argument fragments), streamed one call after the other like the real API."""
    out = [openai_chunk({"role": "assistant", "content": None, "refusal": None})]
    for index, (call_id, name, fragments) in enumerate(calls):
        out.append(
            openai_chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call_id,
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        out += [
            openai_chunk({"tool_calls": [{"index": index, "function": {"arguments": f}}]}, obfuscation="qfQVOwfh")
            for f in fragments
        ]
    out.append(openai_chunk({}, finish="tool_calls"))
    out.append(openai_chunk(None, usage=openai_usage(*usage), obfuscation="khVgg3RsaN"))
    out.append("data: [DONE]\n\n")
    return "".join(out)


def openai_logprob_stream(tokens: list[tuple[str, float, list[tuple[str, float]]]]) -> str:
    out = [
        openai_chunk({"role": "assistant", "content": "", "refusal": None}, logprobs={"content": [], "refusal": None})
    ]
    for token, lp, top in tokens:
        entry = {
            "token": token,
            "logprob": lp,
            "bytes": list(token.encode()),
            "top_logprobs": [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in top],
        }
        out.append(openai_chunk({"content": token}, logprobs={"content": [entry], "refusal": None}))
    out.append(openai_chunk({}, finish="stop"))
    out.append(openai_chunk(None, usage=openai_usage(9, len(tokens))))
    out.append("data: [DONE]\n\n")
    return "".join(out)


def openai_error(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


# ---- Anthropic ---------------------------------------------------------------------------------

ANTHROPIC_MODEL = "claude-haiku-4-5-20251001"


def anthropic_event(name: str, data: dict[str, Any], pad: int = 8) -> str:
    # real streams pad the JSON with spaces before the closing brace
    return f"event: {name}\ndata: {dumps(data)[:-1]}{' ' * pad}}}\n\n"


def anthropic_ping() -> str:
    return 'event: ping\ndata: {"type": "ping"}\n\n'


def anthropic_message_start(input_tokens: int, cache_read: int = 0, model: str = ANTHROPIC_MODEL) -> str:
    return anthropic_event(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "model": model,
                "id": "msg_01Xoh6qis94DiW668Mae5b8J",
                "type": "message",
                "role": "assistant",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "stop_details": None,
                "usage": {
                    "input_tokens": input_tokens,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": cache_read,
                    "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                    "output_tokens": 1,
                    "service_tier": "standard",
                    "inference_geo": "not_available",
                },
            },
        },
        pad=5,
    )


def anthropic_message_end(stop_reason: str, input_tokens: int, output_tokens: int, cache_read: int = 0) -> str:
    delta = anthropic_event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None, "stop_details": None},
            "usage": {
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": cache_read,
                "output_tokens": output_tokens,
            },
        },
        pad=12,
    )
    return delta + anthropic_event("message_stop", {"type": "message_stop"}, pad=9)


def anthropic_text_stream(pieces: list[str], usage: tuple[int, int, int] = (20, 5, 0)) -> str:
    out = [anthropic_message_start(usage[0], usage[2])]
    out.append(
        anthropic_event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )
    )
    out.append(anthropic_ping())
    out += [
        anthropic_event(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}},
            pad=6,
        )
        for p in pieces
    ]
    out.append(anthropic_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    out.append(anthropic_message_end("end_turn", usage[0], usage[1], usage[2]))
    return "".join(out)


def anthropic_tool_stream(
    text: str, calls: list[tuple[str, str, list[str]]], usage: tuple[int, int], thinking: bool = True
) -> str:
    """A thinking block (dropped), a text block, then one tool_use block per call."""
    out = [anthropic_message_start(usage[0])]
    index = 0
    if thinking:
        out.append(
            anthropic_event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                },
            )
        )
        out.append(
            anthropic_event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "thinking_delta", "thinking": "Need the tool."},
                },
            )
        )
        out.append(
            anthropic_event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "signature_delta", "signature": "EqQBCkYIBRgCIkB"},
                },
            )
        )
        out.append(anthropic_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
        index = 1
    out.append(
        anthropic_event(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
        )
    )
    out.append(
        anthropic_event(
            "content_block_delta",
            {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}},
        )
    )
    out.append(anthropic_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    for call_id, name, fragments in calls:
        index += 1
        out.append(
            anthropic_event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": call_id,
                        "name": name,
                        "input": {},
                        "caller": {"type": "direct"},
                    },
                },
                pad=3,
            )
        )
        out.append(anthropic_ping())
        out += [
            anthropic_event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": f},
                },
                pad=10,
            )
            for f in ["", *fragments]
        ]
        out.append(anthropic_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    out.append(anthropic_message_end("tool_use", usage[0], usage[1]))
    return "".join(out)


def anthropic_error(type_: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": type_, "message": message}, "request_id": "req_011Ca7jT9AHpgXgdv8igm4z9"}


# ---- Groq --------------------------------------------------------------------------------------

GROQ_MODEL = "llama-3.3-70b-versatile"


def groq_chunk(
    delta: dict[str, Any],
    *,
    finish: str | None = None,
    x_groq: dict[str, Any] | None = None,
    usage: dict[str, Any] | None = None,
    model: str = GROQ_MODEL,
) -> str:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-e35442a8-12c0-4fb4-8be4-0e51727ce7b7",
        "object": "chat.completion.chunk",
        "created": 1771434740,
        "model": model,
        "system_fingerprint": "fp_caa2017b29",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if x_groq is not None:
        chunk["x_groq"] = x_groq
    if usage is not None:
        chunk["usage"] = usage
    return f"data: {dumps(chunk)}\n\n"


def groq_usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "queue_time": 0.00491786,
        "prompt_tokens": prompt,
        "prompt_time": 0.01460151,
        "completion_tokens": completion,
        "completion_time": 0.11216431,
        "total_tokens": prompt + completion,
        "total_time": 0.12676582,
    }


def groq_text_stream(
    pieces: list[str], usage: tuple[int, int], usage_top_level: bool = False, reasoning: list[str] | None = None
) -> str:
    req = "req_01khrvt32ze9rb75za4xqmdz13"
    out = [groq_chunk({"role": "assistant", "content": ""}, x_groq={"id": req, "seed": 1367355884})]
    out += [groq_chunk({"reasoning": r, "channel": "analysis"}) for r in reasoning or ()]
    out += [groq_chunk({"content": p}) for p in pieces]
    u = groq_usage(*usage)
    out.append(groq_chunk({}, finish="stop", x_groq={"id": req, "usage": u}, usage=u if usage_top_level else None))
    out.append("data: [DONE]\n\n")
    return "".join(out)


def groq_tool_stream(calls: list[tuple[str, str, str]], usage: tuple[int, int]) -> str:
    req = "req_01khrvt32ze9rb75za4xqmdz13"
    out = [groq_chunk({"role": "assistant", "content": ""}, x_groq={"id": req, "seed": 1367355884})]
    out.append(
        groq_chunk(
            {
                "tool_calls": [
                    {"id": cid, "type": "function", "function": {"name": name, "arguments": args}, "index": i}
                    for i, (cid, name, args) in enumerate(calls)
                ]
            }
        )
    )
    u = groq_usage(*usage)
    out.append(groq_chunk({}, finish="tool_calls", x_groq={"id": req, "usage": u}, usage=u))
    out.append("data: [DONE]\n\n")
    return "".join(out)


# ---- cassette files ----------------------------------------------------------------------------


def interaction(
    uri: str,
    request_body: dict[str, Any],
    body: str,
    *,
    status: int = 200,
    message: str = "OK",
    headers: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    return {
        "request": {
            "method": "POST",
            "uri": uri,
            "body": dumps(request_body),
            "headers": {"content-type": ["application/json"]},
        },
        "response": {
            "status": {"code": status, "message": message},
            "headers": dict(headers if headers is not None else SSE_HEADERS),
            "body": {"string": body},
        },
    }


class _LiteralDumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # SSE bodies as readable literal blocks; PyYAML falls back to quoting when it must
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_LiteralDumper.add_representer(str, _str_presenter)


def write_cassette(path: Path, interactions: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.dump(
        {"interactions": interactions, "version": 1},
        Dumper=_LiteralDumper,
        sort_keys=False,
        allow_unicode=True,
        width=10_000,
    )
    path.write_text(text, encoding="utf-8")
