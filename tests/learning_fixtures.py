"""Small, deterministic labelled records for the learning tests (made by hand, not recorded)."""

from __future__ import annotations

import functools
import json
import random
from typing import Any

CHOICES = ["Mars", "Jupiter", "Venus", "Earth"]


def number_record(i: int, rnd: random.Random, wrong_rate: float = 0.35) -> dict[str, Any]:
    a, b = rnd.randint(2, 90), rnd.randint(2, 90)
    prompt = f"Tom has {a} apples and buys {b} more at the market on day {i}. How many apples does he have now?"
    strong = f"He has {a} + {b} = {a + b} apples.\n#### {a + b}"
    r = rnd.random()
    if r < wrong_rate * 0.6:  # a slip that the consistency check sees
        draft = f"He has {a} + {b} = {a + b + 1} apples.\n#### {a + b + 1}"
        ok = False
    elif r < wrong_rate:  # a hedged, unmarked wrong answer
        draft = f"I'm not sure, but maybe it is around {a + b + 10} apples or so, it is hard to say."
        ok = False
    else:
        draft = f"{a} + {b} = {a + b}.\n#### {a + b}"
        ok = True
    return {"prompt": prompt, "draft": draft, "strong": strong, "draft_correct": ok, "strong_correct": True,
            "input_tokens": 40, "draft_tokens": 20, "strong_tokens": 25}


def choice_record(i: int, rnd: random.Random) -> dict[str, Any]:
    opts = "\n".join(f"{'ABCD'[k]}. {c}" for k, c in enumerate(CHOICES))
    prompt = f"Question {i}: which planet is the largest?\n{opts}\nAnswer:"
    ok = rnd.random() < 0.8
    draft = "B. Jupiter" if ok else "I think it could be A or maybe C."
    return {"prompt": prompt, "draft": draft, "strong": "B", "draft_correct": ok, "strong_correct": True,
            "input_tokens": 30, "draft_tokens": 5, "strong_tokens": 2}


def records(n: int = 240, seed: int = 0, choice_share: float = 0.25) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    return [choice_record(i, rnd) if rnd.random() < choice_share else number_record(i, rnd) for i in range(n)]


def prompt_only_records(n: int = 400, seed: int = 0) -> list[dict[str, Any]]:
    """No draft text (like the MMLU labels): astrology questions defeat the cheap model, geography does not."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        hard = rnd.random() < 0.4
        topic = "astrology horoscope zodiac" if hard else "geography rivers mountains"
        prompt = f"Question {i} about {topic}: pick one.\nA. one\nB. two\nC. three\nD. four\nAnswer:"
        out.append({"prompt": prompt, "draft_correct": (rnd.random() < 0.1) if hard else (rnd.random() < 0.97),
                    "strong_correct": True, "input_tokens": 30, "draft_tokens": 1, "strong_tokens": 1})
    return out


@functools.lru_cache(maxsize=1)
def _fitted_doc() -> str:
    from cascadeflow_integrations.learning import fit

    return json.dumps(fit(records(300), target_quality=0.95).to_dict())


def fitted_policy() -> Any:
    """`fit(records(300))`, fitted once per test process; each caller gets its own copy."""
    from cascadeflow_integrations.learning import Policy

    return Policy.from_dict(json.loads(_fitted_doc()))
