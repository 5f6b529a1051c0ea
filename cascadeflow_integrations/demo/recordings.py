"""The demo's recorded provider responses, replayed over loopback HTTP at a realistic pace.

The answer texts of the two GSM8K scenarios are real model outputs (Mixtral-8x7B and GPT-4 from
RouteLLM's published evaluation, Apache-2.0); the rest are written for the demo, including the
short-answer drafts and their samples of the model-check scenarios (no recorded samples exist in
the shared data). All are wrapped in each provider's exact wire format by `replay.wire` (samples as
one multi-choice `n` stream), so the real SDKs parse them as live.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..replay import Reply, ReplayServer
from ..replay.wire import openai_choices_stream, openai_stream, words

CHEAP = "gpt-4o-mini"
STRONG = "gpt-4o"
#: list prices, USD per 1K tokens (input, output)
PRICES = {CHEAP: (0.00015, 0.0006), STRONG: (0.0025, 0.01)}

JANET_Q = "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg. How much in dollars does she make every day at the farmers' market?"
JANET_DRAFT = "Janet starts with 16 eggs per day.\nShe eats 3 for breakfast, so she has 16 - 3 = 13 eggs left.\nShe uses 4 for baking, so she has 13 - 4 = 9 eggs left.\nShe sells these 9 eggs at the farmers' market for 9 * $2 = $<<9*2=18>>18.\n#### 18"
MARIE_Q = 'Marie ordered one chicken meal that costs $12, 5 packs of milk that costs $3 each, 4 apples that cost $1.50 each, and some boxes of pizza. Marie paid a total of $50. How many boxes of pizza did Marie order if each box costs $8.50?'
MARIE_DRAFT = 'Marie spent 12 (chicken meal) + 5 * 3 (milk) + 4 * 1.5 (apples) = $<<12+5*3+4*1.5=39>>39 before buying the pizza.\nShe bought pizza for 50 - 39 = $<<50-39=11>>11.\nSince each box costs $8.50, Marie bought 11 / 8.5 = <<11/8.5=1.3>>1.3 ≈ 1 box of pizza.\nSince the number of boxes should be a whole number, the closest reasonable value is that Marie bought 1 box of pizza.\n#### 1'
MARIE_FINAL = 'Marie spent $12 on the chicken meal.\nShe spent 5 * $3 = $<<5*3=15>>15 on milk.\nShe spent 4 * $1.50 = $<<4*1.5=6>>6 on apples.\nSo far, Marie has spent $12 + $15 + $6 = $<<12+15+6=33>>33.\n\nMarie paid a total of $50, so the amount spent on pizza is $50 - $33 = $<<50-33=17>>17.\n\nEach box of pizza costs $8.50, so the number of boxes she ordered is $17 / $8.50 = <<17/8.5=2>>2 boxes of pizza.'
WEATHER_Q = "What's the weather in Paris right now, in celsius?"
WEATHER_TOOL = {"name": "get_weather", "description": "Get current weather for a location",
                "parameters": {"type": "object", "properties": {
                    "location": {"type": "string", "description": "City name"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                    "required": ["location"]}}
REFUSAL_Q = "Summarise the plot of Hamlet in two sentences."
REFUSAL_DRAFT = ("I'm sorry, but I can't help with that request. " + "As an AI, I am unable to comply. " * 12).strip()
HAMLET = ("Prince Hamlet seeks revenge on his uncle Claudius, who murdered Hamlet's father to seize the Danish "
          "throne and marry his mother. His feigned madness, hesitation and a chain of deaths end in a final duel "
          "that kills Hamlet, Claudius, Gertrude and Laertes.")
LC_Q = "In one sentence: what does a cascade of language models do?"
LC_ANSWER = ("A cascade sends each request to a cheap model first and escalates to a stronger model only when "
             "the cheap answer fails a quality check.")
# Short answers with no worked steps and no logprobs: the free checks cannot vouch for them, so
# agreement among samples of the draft model decides.
BALL_Q = ("A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the ball. "
          "How much does the ball cost, in dollars? Answer with the number only.")
BALL_DRAFT = "0.10"
BALL_SAMPLES = ["0.05", "0.10", "0.05"]
BALL_FINAL = "0.05"
PENCIL_Q = "If 3 pencils cost 45 cents, how much do 7 pencils cost, in cents? Answer with the number only."
PENCIL_DRAFT = "105"
PENCIL_SAMPLES = ["105", "105", "105"]
LI_Q = "Which city hosts the Louvre, according to the notes?"
LI_ANSWER = "According to the notes, the Louvre is in Paris."


@dataclass
class Timing:
    """Live-like pacing: time to first token and seconds per token."""

    first: float
    per_token: float


CHEAP_PACE = Timing(0.25, 0.012)
STRONG_PACE = Timing(0.45, 0.025)


def _usage(prompt: str, answer: str) -> tuple[int, int]:
    # Token counts as a tokenizer would report them (about 4 characters a token).
    return max(len(prompt) // 4, 1) + 12, max(len(answer) // 4, 1)


def _text(server: ReplayServer, model: str, prompt: str, answer: str, pace: Timing, match: str) -> None:
    server.add(model, Reply(events=openai_stream(model, words(answer), usage=_usage(prompt, answer), logprob=None),
                            first_delay=pace.first, delay=pace.per_token), match=match)


def load(server: ReplayServer, frameworks: bool = True, pace: float = 1.0) -> None:
    """Queue every scenario's recorded replies on the server; `pace` scales the delays (0: none, as fast as
    possible; the replies and so the outcomes are the same)."""
    cheap = Timing(CHEAP_PACE.first * pace, CHEAP_PACE.per_token * pace)
    strong = Timing(STRONG_PACE.first * pace, STRONG_PACE.per_token * pace)
    _text(server, CHEAP, JANET_Q, JANET_DRAFT, cheap, "Janet")
    _text(server, CHEAP, MARIE_Q, MARIE_DRAFT, cheap, "Marie")
    _text(server, STRONG, MARIE_Q, MARIE_FINAL, strong, "Marie")
    args = json.dumps({"location": "Paris", "unit": "celsius"})
    server.add(CHEAP, Reply(events=openai_stream(CHEAP, [], tool_calls=[("call_w1", "get_weather", args)],
                                                 fragment=4, usage=(88, 18)),
                            first_delay=cheap.first, delay=0.05 * pace), match="weather in Paris")
    _text(server, CHEAP, REFUSAL_Q, REFUSAL_DRAFT, cheap, "Hamlet")
    _text(server, STRONG, REFUSAL_Q, HAMLET, strong, "Hamlet")
    for q, draft, samples, match in ((BALL_Q, BALL_DRAFT, BALL_SAMPLES, "bat and a ball"),
                                     (PENCIL_Q, PENCIL_DRAFT, PENCIL_SAMPLES, "3 pencils")):
        _text(server, CHEAP, q, draft, cheap, match)  # the draft is asked first, then the samples
        server.add(CHEAP, Reply(events=openai_choices_stream(CHEAP, samples, usage=_usage(q, "".join(samples))),
                                first_delay=cheap.first, delay=cheap.per_token), match=match)
    _text(server, STRONG, BALL_Q, BALL_FINAL, strong, "bat and a ball")
    if not frameworks:
        return
    _text(server, CHEAP, LC_Q, LC_ANSWER, cheap, "cascade of language models")
    _text(server, CHEAP, LI_Q, LI_ANSWER, cheap, "Louvre")
