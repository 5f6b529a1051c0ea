"""
Tool Streaming Example
======================

Watch tool calls form in real time: the name as soon as it is known, then the arguments growing
fragment by fragment (parsed progressively), then the finished call.

Run:
    python examples/streaming_tools.py            # offline: replays recorded responses
    python examples/streaming_tools.py --live     # live: needs OPENAI_API_KEY
"""

import asyncio
import json

from _replay import Reply, models, openai_stream, replay

from cascadeflow_integrations import CascadeAgent
from cascadeflow_integrations.streaming import (Complete, DraftDecision, TextChunk, ToolCallComplete, ToolCallDelta,
                                                 ToolCallStart)

# Universal format. OpenAI's {"type": "function", "function": {...}} and Anthropic's input_schema
# format are accepted too and normalised, so the seed's "wrong format" trap is gone.
WEATHER_TOOL = [{
    "name": "get_weather",
    "description": "Get current weather for a location",
    "parameters": {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "City name (e.g., 'Paris', 'Tokyo')"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"},
        },
        "required": ["location"],
    },
}]


def recordings(server):
    paris = json.dumps({"location": "Paris", "unit": "celsius"})
    tokyo = json.dumps({"location": "Tokyo", "unit": "celsius"})
    server.add("gpt-4o-mini", Reply(events=openai_stream(
        "gpt-4o-mini", [], tool_calls=[("call_p1", "get_weather", paris)], fragment=6, usage=(80, 18)),
        delay=0.01), match="weather in Paris?")
    server.add("gpt-4o-mini", Reply(events=openai_stream(
        "gpt-4o-mini", ["I'll check both cities."], tool_calls=[("call_p2", "get_weather", paris),
                                                                ("call_t2", "get_weather", tokyo)],
        fragment=6, usage=(84, 40)), delay=0.01), match="Paris and Tokyo")


async def stream(agent, query):
    print(f"Q: {query}\n")
    async for event in agent.stream_events(query, tools=WEATHER_TOOL):
        match event:  # typed events: one class per kind (docs/concepts/events.md)
            case TextChunk(content=text):
                print(text, end="", flush=True)
            case ToolCallStart(index=index, name=name):
                print(f"\n🔧 Tool call #{index} starting: {name}")
            case ToolCallDelta(arguments=arguments):
                print(f"   … arguments so far: {arguments}")
            case ToolCallComplete(tool_call=tool):
                print(f"🔧 Tool: {tool['name']}({tool['arguments']})")
            case DraftDecision(accepted=accepted, reason=reason):
                print(f"{'✓' if accepted else '✗'} draft {reason}")
            case Complete(result=result):
                print(f"✅ Streaming complete: {len(result.tool_calls)} tool call(s) from {result.model_used},"
                      f" cost ${result.total_cost:.6f}")


async def main(base_url):
    agent = CascadeAgent(models=models(base_url))
    print("=" * 60)
    print("Example 1: Tool call streaming events\n")
    await stream(agent, "What's the weather in Paris?")
    print("\n" + "=" * 60)
    print("Example 2: Multiple tool calls\n")
    await stream(agent, "Compare the weather in Paris and Tokyo. Which is warmer?")
    await agent.aclose()


if __name__ == "__main__":
    with replay(recordings) as url:
        asyncio.run(main(url))
