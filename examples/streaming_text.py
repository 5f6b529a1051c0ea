"""
Text Streaming Example
======================

Real-time text streaming with cascade events (the seed example, on cascadeflow_integrations).

Run:
    python examples/streaming_text.py            # offline: replays recorded responses
    python examples/streaming_text.py --live     # live: needs OPENAI_API_KEY

What you'll see:
    - Tokens appearing in real time
    - Draft decisions (accepted = cheap, rejected = escalate to the stronger model)
    - Cost, speed and model after each response
"""

import asyncio

from _replay import Reply, models, openai_stream, replay, say, words

from cascadeflow_integrations import CascadeAgent
# The seed API's view (`event.type`, `event.data`) still reads every typed event; examples/streaming_tools.py
# matches on the event classes instead.
from cascadeflow_integrations.streaming import StreamEventType

Q1 = "What is Python? Answer in one sentence."
Q2 = "Explain quantum computing and its implications for cryptography."


def recordings(server):
    say(server, "gpt-4o-mini", "Python is a high-level, general-purpose programming language known for its "
        "readable syntax and large ecosystem.", match="What is Python")
    # The cheap model runs out of tokens mid-answer (finish_reason "length"): the draft is rejected.
    server.add("gpt-4o-mini", Reply(events=openai_stream("gpt-4o-mini", words(
        "Quantum computing uses qubits, which can be in superpositions of states, and"), finish="length",
        usage=(25, 16)), delay=0.01), match="quantum")
    say(server, "gpt-4o", "Quantum computers use qubits and interference to solve some problems far faster than "
        "classical machines. Shor's algorithm would break RSA and elliptic-curve cryptography, so the field is "
        "moving to post-quantum schemes such as lattice-based ML-KEM.", match="quantum", usage=(25, 48))


async def main(base_url):
    agent = CascadeAgent(models=models(base_url))
    print("CascadeFlow text streaming: 2-tier cascade gpt-4o-mini -> gpt-4o\n")

    print("=" * 60)
    print("Example 1: Simple question (fast & cheap)\n")
    print(f"Q: {Q1}\nA: ", end="", flush=True)
    async for event in agent.stream(Q1, max_tokens=100):
        if event.type == StreamEventType.CHUNK:
            print(event.content, end="", flush=True)
        elif event.type == StreamEventType.DRAFT_DECISION:
            if event.data["accepted"]:
                print(f"\n✓ Draft accepted ({event.data['confidence']:.0%} confidence)")
                print("  → Verifier skipped (saved money!)")
            else:
                print("\n✗ Draft quality insufficient")
        elif event.type == StreamEventType.COMPLETE:
            result = event.data["result"]
            print(f"💰 Cost: ${result['total_cost']:.6f}")
            print(f"⚡ Speed: {result['latency_ms']:.0f}ms")
            print(f"🎯 Model: {result['model_used']}")

    print("\n" + "=" * 60)
    print("Example 2: Complex question (may cascade)\n")
    print(f"Q: {Q2}\nA: ", end="", flush=True)
    async for event in agent.stream(Q2, max_tokens=200):
        if event.type == StreamEventType.CHUNK:
            print(event.content, end="", flush=True)
        elif event.type == StreamEventType.DRAFT_DECISION:
            if event.data["accepted"]:
                print(f"\n✓ Draft accepted ({event.data['confidence']:.0%})")
            else:
                print(f"\n✗ Draft rejected ({event.data['confidence']:.0%}): {event.data['reason']}")
        elif event.type == StreamEventType.SWITCH:
            print(f"⤴️  Cascading: {event.data['from_model']} → {event.data['to_model']}"
                  f" (retract {event.data['retract_chars']} chars already shown)")
            print("A: ", end="", flush=True)
        elif event.type == StreamEventType.COMPLETE:
            result = event.data["result"]
            print(f"\n💰 Cost: ${result['total_cost']:.6f} (saved ~${result['cost_saved']:.6f}, estimate)")
            print(f"⚡ Speed: {result['latency_ms']:.0f}ms, first token after {result['ttft_ms']:.0f}ms")
            print(f"🎯 Model: {result['model_used']}")
    await agent.aclose()


if __name__ == "__main__":
    with replay(recordings) as url:
        asyncio.run(main(url))
