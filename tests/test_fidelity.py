"""Every real recording in ../shared/reference-streams, replayed through the real SDK and the provider.

Each file becomes a vcrpy cassette at test time (status and headers from INDEX.json when listed).
Expected values come from a deliberately simple whole-file reference parse in this module, not
from the provider's parser. New files are picked up automatically.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import vcr
from cassette_tools import ANTHROPIC_URI, GROQ_URI, OPENAI_URI, interaction, write_cassette

from cascadeflow_integrations.config import ModelConfig
from cascadeflow_integrations.errors import (
    AuthenticationError,
    BadRequestError,
    OverloadedError,
    ProviderError,
    RateLimitError,
    StreamInterruptedError,
    redact,
)
from cascadeflow_integrations.providers import create_provider
from cascadeflow_integrations.types import (
    ChatRequest,
    FinishDelta,
    Message,
    ModelDelta,
    TextDelta,
    ToolCallDelta,
    UsageDelta,
)

pytestmark = pytest.mark.compat

REFERENCE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "reference-streams"
FILES = sorted(p.name for p in REFERENCE_DIR.glob("*") if p.suffix in (".sse", ".json") and p.name != "INDEX.json")
INDEX: dict[str, dict[str, Any]] = (
    {e["file"]: e for e in json.loads((REFERENCE_DIR / "INDEX.json").read_text())}
    if (REFERENCE_DIR / "INDEX.json").exists()
    else {}
)
KEY = {
    "openai": "sk-fidelity-SECRET-0123456789",
    "anthropic": "sk-ant-fid-SECRET-1",
    "groq": "gsk_fidelitySECRET0123",
}
URI = {"openai": OPENAI_URI, "anthropic": ANTHROPIC_URI, "groq": GROQ_URI}
DEFAULT_MODEL = {"openai": "gpt-4o", "anthropic": "claude-sonnet-4-5", "groq": "llama-3.3-70b-versatile"}
FINISH = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "refusal",
}
ERROR_CLASS = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: BadRequestError,
    422: BadRequestError,
    429: RateLimitError,
    500: OverloadedError,
    529: OverloadedError,
}


@dataclass
class Expected:
    model: str | None = None
    text: str = ""
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    usage: tuple[int, int, int] | None = None
    finish: str | None = None
    error: str | None = None  # provider's error message


def provider_of(name: str) -> str:
    return name.split("_", 1)[0]


def status_of(name: str) -> int:
    entry = INDEX.get(name, {})
    if entry.get("status"):
        return int(entry["status"]["code"])
    found = re.search(r"_(\d{3})_", name)
    return int(found.group(1)) if found else 200


def data_events(text: str) -> list[dict[str, Any]]:
    return [
        json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:") and line[5:].strip() != "[DONE]"
    ]


def expect_openai_stream(text: str) -> Expected:
    exp = Expected()
    calls: dict[int, list[str]] = {}
    for ev in data_events(text):
        if "error" in ev:
            exp.error = ev["error"]["message"]
            continue
        exp.model = exp.model or ev.get("model")
        for choice in ev.get("choices") or []:
            delta = choice.get("delta") or {}
            exp.text += delta.get("content") or ""
            for tc in delta.get("tool_calls") or []:
                slot = calls.setdefault(tc["index"], ["", "", ""])
                slot[0] = tc.get("id") or slot[0]
                slot[1] = tc.get("function", {}).get("name") or slot[1]
                slot[2] += tc.get("function", {}).get("arguments") or ""
            exp.finish = FINISH[choice["finish_reason"]] if choice.get("finish_reason") else exp.finish
        usage = ev.get("usage") or (ev.get("x_groq") or {}).get("usage")
        if usage:
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            exp.usage = (usage["prompt_tokens"], usage["completion_tokens"], cached)
    exp.calls = [(i, n, json.loads(a) if a else {}) for _, (i, n, a) in sorted(calls.items())]
    return exp


def expect_anthropic_stream(text: str) -> Expected:
    exp = Expected()
    blocks: dict[int, list[Any]] = {}
    start: dict[str, Any] = {}
    for ev in data_events(text):
        kind = ev["type"]
        if kind == "message_start":
            exp.model = ev["message"]["model"]
            start = ev["message"]["usage"]
        elif kind == "content_block_start" and ev["content_block"]["type"] == "tool_use":
            blocks[ev["index"]] = [ev["content_block"]["id"], ev["content_block"]["name"], ""]
        elif kind == "content_block_delta":
            if ev["delta"]["type"] == "text_delta":
                exp.text += ev["delta"]["text"]
            elif ev["delta"]["type"] == "input_json_delta":
                blocks[ev["index"]][2] += ev["delta"]["partial_json"]
        elif kind == "message_delta":
            exp.finish = FINISH[ev["delta"]["stop_reason"]]
            u = {**start, **ev["usage"]}
            read, made = u.get("cache_read_input_tokens") or 0, u.get("cache_creation_input_tokens") or 0
            exp.usage = (u["input_tokens"] + read + made, u["output_tokens"], read)
        elif kind == "error":
            exp.error = ev["error"]["message"]
    exp.calls = [(i, n, json.loads(a) if a else {}) for _, (i, n, a) in sorted(blocks.items())]
    return exp


def expect_json(provider: str, body: dict[str, Any]) -> Expected:
    if isinstance(body.get("error"), dict):
        return Expected(error=body["error"]["message"])
    if provider == "anthropic":
        u = body["usage"]
        read, made = u.get("cache_read_input_tokens") or 0, u.get("cache_creation_input_tokens") or 0
        return Expected(
            model=body["model"],
            text="".join(b["text"] for b in body["content"] if b["type"] == "text"),
            calls=[(b["id"], b["name"], b["input"]) for b in body["content"] if b["type"] == "tool_use"],
            usage=(u["input_tokens"] + read + made, u["output_tokens"], read),
            finish=FINISH[body["stop_reason"]],
        )
    choice = body["choices"][0]
    u = body["usage"]
    return Expected(
        model=body["model"],
        text=choice["message"].get("content") or "",
        calls=[
            (tc["id"], tc["function"]["name"], json.loads(tc["function"]["arguments"] or "{}"))
            for tc in choice["message"].get("tool_calls") or []
        ],
        usage=(
            u["prompt_tokens"],
            u["completion_tokens"],
            (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0,
        ),
        finish=FINISH[choice["finish_reason"]],
    )


def build_cassette(name: str, tmp_path: Path, copies: int) -> tuple[Path, str]:
    """A cassette serving the file byte for byte; returns (path, model to request)."""
    provider = provider_of(name)
    entry = INDEX.get(name, {})
    uri = entry.get("request_uri") or ""
    if not uri.startswith("http"):
        uri = URI[provider]
    model = (entry.get("request_body") or {}).get("model") or DEFAULT_MODEL[provider]
    headers: dict[str, list[str]] = {}
    for key, value in (entry.get("response_headers") or {}).items():
        values = value if isinstance(value, list) else [value]
        # drop redacted values and framing headers that no longer describe the stored body
        if "**REDACTED**" in values or key.lower() in ("content-length", "transfer-encoding", "content-encoding"):
            continue
        headers[key.lower()] = values
    if "content-type" not in headers:
        headers["content-type"] = ["text/event-stream" if name.endswith(".sse") else "application/json"]
    status = status_of(name)
    body = (REFERENCE_DIR / name).read_text(encoding="utf-8")
    inter = interaction(
        uri,
        {"model": model},
        body,
        status=status,
        message=str(entry.get("status", {}).get("message", "")),
        headers=headers,
    )
    path = tmp_path / f"{name}.yaml"
    write_cassette(path, [inter] * copies)
    return path, model


async def run_stream(provider: Any, request: ChatRequest) -> tuple[list[Any], ProviderError | None]:
    deltas: list[Any] = []
    try:
        async for d in provider.stream(request):
            deltas.append(d)
    except ProviderError as e:
        return deltas, e
    finally:
        await provider.aclose()
    return deltas, None


def check_error(err: ProviderError | None, exp: Expected, provider: str, status: int) -> None:
    assert err is not None, "expected an error"
    key = KEY[provider]
    # key-shaped strings (even masked ones like "sk-wrong****") are redacted by policy
    assert exp.error and redact(exp.error) in str(err)
    assert key not in str(err) and key not in repr(err)
    assert err.provider == provider
    if status != 200:
        assert type(err) is ERROR_CLASS[status] and err.status_code == status
    else:
        assert isinstance(err, StreamInterruptedError)


@pytest.mark.skipif(not FILES, reason=f"reference recordings not found at {REFERENCE_DIR}")
@pytest.mark.parametrize("name", FILES or ["<none>"])
async def test_reference_file(name: str, tmp_path: Path) -> None:
    provider_name = provider_of(name)
    status = status_of(name)
    raw = (REFERENCE_DIR / name).read_text(encoding="utf-8")
    is_stream = name.endswith(".sse")
    copies = 2 if status != 200 else 1  # error bodies are served to both complete() and stream()
    path, model = build_cassette(name, tmp_path, copies)
    config = ModelConfig(name=model, provider=provider_name, api_key=KEY[provider_name], max_retries=0)
    request = ChatRequest(messages=[Message("user", "hi")], logprobs="logprobs" in name)
    recorder = vcr.VCR(record_mode="none", match_on=["method", "path"])

    with recorder.use_cassette(str(path)) as cassette:
        if is_stream:
            exp = expect_anthropic_stream(raw) if provider_name == "anthropic" else expect_openai_stream(raw)
            deltas, err = await run_stream(create_provider(config), request)
            text = "".join(d.text for d in deltas if isinstance(d, TextDelta))
            assert text == exp.text  # also: nothing duplicated before a mid-stream error
            models = [d.model for d in deltas if isinstance(d, ModelDelta)]
            assert models == ([exp.model] if exp.model else [])
            if exp.error is not None:
                check_error(err, exp, provider_name, 200)
                assert not any(isinstance(d, FinishDelta) for d in deltas)
            else:
                assert err is None, err
                calls: dict[int, list[Any]] = {}
                for d in deltas:
                    if isinstance(d, ToolCallDelta):
                        slot = calls.setdefault(d.index, ["", "", ""])
                        slot[0], slot[1] = d.id or slot[0], d.name or slot[1]
                        slot[2] += d.arguments
                got_calls = [(i, n, json.loads(a) if a else {}) for _, (i, n, a) in sorted(calls.items())]
                assert got_calls == exp.calls
                usages = [
                    (u.usage.input_tokens, u.usage.output_tokens, u.usage.cached_tokens)
                    for u in deltas
                    if isinstance(u, UsageDelta)
                ]
                assert usages == ([exp.usage] if exp.usage else [])
                assert deltas[-1] == FinishDelta(exp.finish or "stop")
                if request.logprobs:
                    tokens = [
                        (lp.token, lp.logprob) for d in deltas if isinstance(d, TextDelta) for lp in d.logprobs or []
                    ]
                    want = [
                        (lp["token"], lp["logprob"])
                        for ev in data_events(raw)
                        for c in ev.get("choices") or []
                        for lp in (c.get("logprobs") or {}).get("content") or []
                    ]
                    assert tokens == want and tokens
        else:
            exp = expect_json(provider_name, json.loads(raw))
            provider = create_provider(config)
            if exp.error is not None:
                with pytest.raises(ProviderError) as info:
                    await provider.complete(request)
                check_error(info.value, exp, provider_name, status)
                _, err = await run_stream(create_provider(config), request)
                check_error(err, exp, provider_name, status)
            else:
                result = await provider.complete(request)
                await provider.aclose()
                assert result.model == exp.model and result.text == exp.text
                assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == exp.calls
                assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.cached_tokens) == exp.usage
                assert result.finish_reason == exp.finish
        assert cassette.all_played
