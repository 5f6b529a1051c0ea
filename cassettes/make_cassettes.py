"""Regenerate the hand-written provider cassettes: `python cassettes/make_cassettes.py`.

Each cassette is named after the test that replays it (pytest-recording's default), so a live
re-record (`CASCADE_RECORD_MODE=all`, see README.md) overwrites the same files.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from cassette_tools import (
    ANTHROPIC_URI,
    GROQ_MODEL,
    GROQ_URI,
    JSON_HEADERS,
    OPENAI_URI,
    anthropic_error,
    anthropic_event,
    anthropic_message_start,
    anthropic_text_stream,
    anthropic_tool_stream,
    dumps,
    groq_chunk,
    groq_text_stream,
    groq_tool_stream,
    interaction,
    openai_chunk,
    openai_error,
    openai_logprob_stream,
    openai_parallel_tool_stream,
    openai_text_stream,
    write_cassette,
)

OPENAI_REQ = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "What is the capital of the UK?"}],
    "stream": True,
    "stream_options": {"include_usage": True},
}
ANTHROPIC_REQ = {
    "model": "claude-haiku-4-5",
    "max_tokens": 4096,
    "stream": True,
    "messages": [{"role": "user", "content": [{"type": "text", "text": "What is 1+1?"}]}],
}
GROQ_REQ = {"model": "llama-3.3-70b-versatile", "stream": True, "messages": [{"role": "user", "content": "Say hello."}]}

RATE_LIMIT_HEADERS = {
    "content-type": ["application/json"],
    "retry-after": ["1"],
    "retry-after-ms": ["1500"],
    "x-should-retry": ["true"],
}


def nonstream(req: dict) -> dict:
    return {**{k: v for k, v in req.items() if k not in ("stream", "stream_options")}, "stream": False}


def openai() -> dict[str, list]:
    weather_calls = [
        ("call_lQnnsesjFMWMQ5IeWPHzR4th", "get_weather", ['{"ci', 'ty": ', '"Edinb', 'urgh"}']),
        ("call_4Rg0pNNrwhHnT5CZ6zxdUF8U", "get_weather", ['{"ci', 'ty": "Lo', 'ndon"}']),
    ]
    completion = {
        "id": "chatcmpl-BSXk0dWkG4hfPt0lph4oFO35iT73I",
        "object": "chat.completion",
        "created": 1746142584,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "refusal": None,
                    "annotations": [],
                    "tool_calls": [
                        {
                            "id": "call_iXFttys57ap0o16JSlC8yhYo",
                            "type": "function",
                            "function": {"name": "get_user_country", "arguments": "{}"},
                        }
                    ],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 68,
            "completion_tokens": 12,
            "total_tokens": 80,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        },
        "service_tier": "default",
        "system_fingerprint": "fp_f5bdcc3276",
    }
    midstream = (
        openai_chunk({"role": "assistant", "content": "", "refusal": None})
        + openai_chunk({"content": "The"})
        + openai_chunk({"content": " capital"})
        + "data: "
        + dumps(
            openai_error(
                "The server had an error while processing your request. Sorry about that!", "server_error", None
            )
        )
        + "\n\n"
    )
    truncated = openai_chunk({"role": "assistant", "content": "", "refusal": None}) + openai_chunk({"content": "The"})
    return {
        "test_stream_text": [
            interaction(
                OPENAI_URI,
                OPENAI_REQ,
                openai_text_stream(["The", " capital", " of", " the", " UK", " is", " London", "."], usage=(21, 8, 0)),
            )
        ],
        "test_stream_parallel_tool_calls": [
            interaction(OPENAI_URI, OPENAI_REQ, openai_parallel_tool_stream(weather_calls, usage=(80, 47, 64)))
        ],
        "test_stream_logprobs": [
            interaction(
                OPENAI_URI,
                OPENAI_REQ,
                openai_logprob_stream(
                    [
                        ("Foo", -0.0067602484, [("Foo", -0.0067602484), ("Bar", -5.25)]),
                        (".", -2.4962392, [(".", -2.4962392)]),
                    ]
                ),
            )
        ],
        "test_complete_tool_call": [
            interaction(OPENAI_URI, nonstream(OPENAI_REQ), dumps(completion), headers=JSON_HEADERS)
        ],
        "test_error_401": [
            interaction(
                OPENAI_URI,
                OPENAI_REQ,
                dumps(
                    openai_error(
                        "Incorrect API key provided: sk-wrong****-key. You can find your API key at "
                        "https://platform.openai.com/account/api-keys.",
                        "invalid_request_error",
                        "invalid_api_key",
                    )
                ),
                status=401,
                message="Unauthorized",
                headers=JSON_HEADERS,
            )
        ],
        "test_error_429_retry_after": [
            interaction(
                OPENAI_URI,
                OPENAI_REQ,
                dumps(
                    openai_error(
                        "Rate limit reached for gpt-4o-mini in organization org-XXXX on tokens per min (TPM): Limit 200000, "
                        "Used 199000, Requested 2000. Please try again in 300ms.",
                        "tokens",
                        "rate_limit_exceeded",
                    )
                ),
                status=429,
                message="Too Many Requests",
                headers=RATE_LIMIT_HEADERS,
            )
        ],
        "test_error_500": [
            interaction(
                OPENAI_URI,
                OPENAI_REQ,
                dumps(
                    openai_error(
                        "The server had an error while processing your request. Sorry about that!", "server_error", None
                    )
                ),
                status=500,
                message="Internal Server Error",
                headers=JSON_HEADERS,
            )
        ],
        "test_midstream_error": [interaction(OPENAI_URI, OPENAI_REQ, midstream)],
        "test_truncated_stream": [interaction(OPENAI_URI, OPENAI_REQ, truncated)],
    }


def anthropic() -> dict[str, list]:
    message = {
        "id": "msg_012TXW181edhmR5JCsQRsBKx",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_01X9wcHKKAZD9tBC711xipPa", "name": "get_user_country", "input": {}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 445,
            "output_tokens": 23,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "standard",
        },
    }
    midstream = (
        anthropic_message_start(20)
        + anthropic_event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )
        + anthropic_event(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Once upon"}},
        )
        + anthropic_event(
            "error",
            {"type": "error", "error": {"details": None, "type": "overloaded_error", "message": "Overloaded"}},
            pad=14,
        )
    )
    calls = [
        ("toolu_01HvuPWLBKXAjrgSopemSzaM", "get_weather", ['{"city": "Par', 'is"}']),
        ("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_time", ['{"tz": ', '"Europe/Paris"}']),
    ]
    return {
        "test_stream_text": [
            interaction(ANTHROPIC_URI, ANTHROPIC_REQ, anthropic_text_stream(["1", " + 1 = ", "2"], usage=(20, 9, 12)))
        ],
        "test_stream_tool_use": [
            interaction(
                ANTHROPIC_URI, ANTHROPIC_REQ, anthropic_tool_stream("I'll look both up.", calls, usage=(696, 52))
            )
        ],
        "test_complete_tool_use": [
            interaction(ANTHROPIC_URI, nonstream(ANTHROPIC_REQ), dumps(message), headers=JSON_HEADERS)
        ],
        "test_error_401": [
            interaction(
                ANTHROPIC_URI,
                ANTHROPIC_REQ,
                dumps({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
                status=401,
                message="Unauthorized",
                headers={**JSON_HEADERS, "x-should-retry": ["false"]},
            )
        ],
        "test_error_429_retry_after": [
            interaction(
                ANTHROPIC_URI,
                ANTHROPIC_REQ,
                dumps(
                    anthropic_error(
                        "rate_limit_error",
                        "This request would exceed the rate limit for your organization of 50,000 input "
                        "tokens per minute.",
                    )
                ),
                status=429,
                message="Too Many Requests",
                headers={"content-type": ["application/json"], "retry-after": ["7"]},
            )
        ],
        "test_error_529": [
            interaction(
                ANTHROPIC_URI,
                ANTHROPIC_REQ,
                dumps(anthropic_error("overloaded_error", "Overloaded")),
                status=529,
                message="",
                headers=JSON_HEADERS,
            )
        ],
        "test_midstream_overloaded": [interaction(ANTHROPIC_URI, ANTHROPIC_REQ, midstream)],
    }


def groq() -> dict[str, list]:
    completion = {
        "id": "chatcmpl-43b495df-97b8-47cd-8785-7b0c4afee40b",
        "object": "chat.completion",
        "created": 1771451266,
        "model": GROQ_MODEL,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "911ra51k8",
                            "type": "function",
                            "function": {"name": "get_image", "arguments": '{"id":3}'},
                        }
                    ],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "queue_time": 0.11,
            "prompt_tokens": 712,
            "prompt_time": 0.02,
            "completion_tokens": 20,
            "completion_time": 0.1,
            "total_tokens": 732,
            "total_time": 0.12,
        },
        "usage_breakdown": None,
        "system_fingerprint": "fp_992318f10a",
        "x_groq": {"id": "req_01khsbjd7rf0c8mr6kbynjhq5c", "seed": 1608772041},
    }
    error_event = (
        "event: error\ndata: "
        + dumps(
            {
                "error": {
                    "message": "Tool call validation failed: parameters for tool get_something_by_name did not match schema",
                    "type": "invalid_request_error",
                    "code": "tool_use_failed",
                    "failed_generation": '{"name": "get_something_by_name"}',
                    "status_code": 400,
                }
            }
        )
        + "\n\n"
    )
    midstream = (
        groq_chunk({"role": "assistant", "content": ""}, x_groq={"id": "req_01", "seed": 1})
        + groq_chunk({"content": "Hel"})
        + error_event
    )
    return {
        "test_stream_text": [
            interaction(
                GROQ_URI,
                GROQ_REQ,
                groq_text_stream(["Hello", "!", " How can I help?"], usage=(21, 9), reasoning=[" The user", " greets"]),
            )
        ],
        "test_stream_tool_call": [
            interaction(
                GROQ_URI,
                GROQ_REQ,
                groq_tool_stream(
                    [
                        ("fc_bfb39741-3748-4def-9886-a93fc9c64a90", "get_something_by_name", '{"name":"example"}'),
                        ("fc_0c1a6f43-9b1e-4a43-8e0f-5d7e0e1c2b11", "get_time", '{"tz":"UTC"}'),
                    ],
                    usage=(304, 49),
                ),
            )
        ],
        "test_complete_tool_call": [
            interaction(GROQ_URI, nonstream(GROQ_REQ), dumps(completion), headers=JSON_HEADERS)
        ],
        "test_error_401": [
            interaction(
                GROQ_URI,
                GROQ_REQ,
                dumps(
                    {
                        "error": {
                            "message": "Invalid API Key",
                            "type": "invalid_request_error",
                            "code": "invalid_api_key",
                        }
                    }
                ),
                status=401,
                message="Unauthorized",
                headers=JSON_HEADERS,
            )
        ],
        "test_error_429_retry_after": [
            interaction(
                GROQ_URI,
                GROQ_REQ,
                dumps(
                    {
                        "error": {
                            "message": "Rate limit reached for model `llama-3.3-70b-versatile` in organization `org_x` service tier "
                            "`on_demand` on tokens per minute (TPM): Limit 6000, Used 5990, Requested 50. Please try "
                            "again in 2.5s.",
                            "type": "tokens",
                            "code": "rate_limit_exceeded",
                        }
                    }
                ),
                status=429,
                message="Too Many Requests",
                headers={"content-type": ["application/json"], "retry-after": ["3"]},
            )
        ],
        "test_error_503": [
            interaction(
                GROQ_URI,
                GROQ_REQ,
                dumps({"error": {"message": "Service Unavailable", "type": "internal_server_error"}}),
                status=503,
                message="Service Unavailable",
                headers=JSON_HEADERS,
            )
        ],
        "test_midstream_error": [
            interaction(GROQ_URI, GROQ_REQ, midstream, headers={"content-type": ["text/event-stream"]})
        ],
    }


def main() -> None:
    for module, cassettes in (
        ("test_providers_openai", openai()),
        ("test_providers_anthropic", anthropic()),
        ("test_providers_groq", groq()),
    ):
        for name, interactions in cassettes.items():
            write_cassette(HERE / module / f"{name}.yaml", interactions)


if __name__ == "__main__":
    main()
