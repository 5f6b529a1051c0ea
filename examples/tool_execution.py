"""
Tool Execution Example
======================

The complete loop: the cascade proposes tool calls, `ToolExecutor` runs them (validating the
arguments against each tool's schema first), the results go back to the model, and it answers.

Run:
    python examples/tool_execution.py            # offline: replays recorded responses
    python examples/tool_execution.py --live     # live: needs OPENAI_API_KEY
"""

import asyncio
import json

from _replay import Reply, models, openai_stream, replay, say

from cascadeflow_integrations import CascadeAgent
from cascadeflow_integrations.tools import ToolCall, ToolCallFormat, ToolConfig, ToolExecutor


def get_weather(location: str, unit: str = "celsius") -> dict:
    """Get current weather for a location (mock data)."""
    data = {"paris": 18, "tokyo": 24}.get(location.lower(), 20)
    temp = int(data * 9 / 5 + 32) if unit == "fahrenheit" else data
    return {"location": location, "temperature": temp, "unit": "°F" if unit == "fahrenheit" else "°C"}


def calculate(operation: str, x: float, y: float) -> dict:
    """Perform basic arithmetic."""
    ops = {"add": x + y, "subtract": x - y, "multiply": x * y, "divide": x / y if y else None}
    if ops.get(operation) is None:
        raise ValueError(f"cannot {operation} {x} and {y}")
    return {"operation": operation, "result": ops[operation]}


TOOL_CONFIGS = [
    ToolConfig(name="get_weather", description="Get current weather for a location", parameters={
        "type": "object", "properties": {"location": {"type": "string"},
                                         "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["location"]}, function=get_weather),
    ToolConfig(name="calculate", description="Perform basic arithmetic", parameters={
        "type": "object", "properties": {"operation": {"type": "string",
                                                       "enum": ["add", "subtract", "multiply", "divide"]},
                                         "x": {"type": "number"}, "y": {"type": "number"}},
        "required": ["operation", "x", "y"]}, function=calculate),
]
TOOLS = [{"name": t.name, "description": t.description, "parameters": t.parameters} for t in TOOL_CONFIGS]


def recordings(server):
    # Second turns first: a request that already carries tool results gets the final answer.
    say(server, "gpt-4o-mini", "It is 18°C in Paris right now.", match="call_w1")
    say(server, "gpt-4o-mini", "12.5 multiplied by 8.3 is 103.75.", match="call_c1")
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", [], tool_calls=[
        ("call_w1", "get_weather", json.dumps({"location": "Paris"}))], usage=(120, 16))), match="Paris")
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", [], tool_calls=[
        ("call_c1", "calculate", json.dumps({"operation": "multiply", "x": 12.5, "y": 8.3}))], usage=(124, 24))),
        match="12.5")


async def conversation(agent, executor, query, max_turns=5):
    print(f"\n🔍 Query: {query}")
    messages = [{"role": "user", "content": query}]
    total_cost = 0.0
    for _ in range(max_turns):
        result = await agent.run(query=query, messages=messages, tools=TOOLS, max_tokens=500, temperature=0.7)
        total_cost += result.total_cost
        if not result.tool_calls:
            print(f"✅ Final answer ({result.model_used}): {result.content}")
            break
        messages.append({"role": "assistant", "content": result.content, "tool_calls": [
            {"id": c["id"], "type": "function", "function": {"name": c["name"],
                                                             "arguments": json.dumps(c["arguments"])}}
            for c in result.tool_calls]})
        for call in result.tool_calls:
            tc = ToolCall(id=call["id"], name=call["name"], arguments=call["arguments"],
                          provider_format=ToolCallFormat.OPENAI)
            print(f"  🔧 Executing: {tc.name}({tc.arguments})")
            r = await executor.execute(tc)
            print(f"     {'✅ Result' if r.success else '❌ Error'}: {r.result if r.success else r.error}")
            messages.append(r.to_message())
    print(f"💰 Cost: ${total_cost:.6f}")
    return total_cost


async def main(base_url):
    executor = ToolExecutor(TOOL_CONFIGS)
    agent = CascadeAgent(models=models(base_url), tool_executor=executor)
    await conversation(agent, executor, "What's the weather in Paris?")
    await conversation(agent, executor, "What is 12.5 multiplied by 8.3?")
    await agent.aclose()


if __name__ == "__main__":
    with replay(recordings) as url:
        asyncio.run(main(url))
