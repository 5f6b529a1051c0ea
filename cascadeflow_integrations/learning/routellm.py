"""Loaders for the RouteLLM evaluation outputs (GSM8K responses, MT-Bench judgements) as calibration records."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

CHEAP_MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG_MODEL = "gpt-4-1106-preview"
#: USD per 1M tokens (input, output): Mixtral-8x7B at Together/Anyscale list price, GPT-4-1106 at OpenAI's.
PRICES_PER_M = {CHEAP_MODEL: (0.24, 0.24), STRONG_MODEL: (10.0, 30.0)}


def est_tokens(text: str) -> int:
    """Token estimate when counts are missing: about 4 characters per token for English."""
    return max(1, round(len(text) / 4))


def _truthy(v: str | bool) -> bool:
    return v if isinstance(v, bool) else str(v).strip().lower() in ("true", "1", "yes")


def load_gsm8k(path: str | Path, cheap: str = CHEAP_MODEL, strong: str = STRONG_MODEL) -> list[dict[str, Any]]:
    """GSM8K rows as calibration records (prompt, draft, strong, *_correct, *_tokens; tokens estimated)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [routellm_row_to_record(r, cheap, strong) for r in rows]


def routellm_row_to_record(row: dict[str, str], cheap: str = CHEAP_MODEL, strong: str = STRONG_MODEL) -> dict[str, Any]:
    """One row of the RouteLLM CSV format (columns named after the models) as a calibration record."""
    draft, strong_text = row[f"{cheap}_response"], row[f"{strong}_response"]
    return {
        "prompt": row["prompt"],
        "draft": draft,
        "strong": strong_text,
        "draft_correct": _truthy(row[cheap]),
        "strong_correct": _truthy(row[strong]),
        "input_tokens": est_tokens(row["prompt"]),
        "draft_tokens": est_tokens(draft),
        "strong_tokens": est_tokens(strong_text),
        "draft_price": PRICES_PER_M.get(cheap, (0.0, 0.0)),
        "strong_price": PRICES_PER_M.get(strong, (0.0, 0.0)),
    }


def _answer_of(user_prompt: str) -> str:
    # Single-turn judge prompts wrap the answer in these markers.
    start = user_prompt.find("[The Start of Assistant's Answer]")
    end = user_prompt.find("[The End of Assistant's Answer]")
    if start < 0 or end < 0:
        return ""
    return user_prompt[start + len("[The Start of Assistant's Answer]") : end].strip()


def load_mtbench(directory: str | Path, cheap: str = CHEAP_MODEL, strong: str = STRONG_MODEL) -> list[dict[str, Any]]:
    """MT-Bench turn-1 records: draft = cheap model's answer, quality = GPT-4 judge score (1-10) / 10.

    The scores are scaled into [0, 1], as labels must be; `draft_grade` / `strong_grade` keep the grades."""
    d = Path(directory)
    questions = {}
    with open(d / "question.jsonl", encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            questions[q["question_id"]] = q
    by_key: dict[tuple[int, str], dict[str, Any]] = {}
    with open(d / "judgements.jsonl", encoding="utf-8") as f:
        for line in f:
            j = json.loads(line)
            if j["turn"] == 1 and j["model"] in (cheap, strong):
                by_key[(j["question_id"], j["model"])] = j
    out = []
    for qid, q in sorted(questions.items()):
        jc, js = by_key.get((qid, cheap)), by_key.get((qid, strong))
        if jc is None or js is None or jc["score"] < 0 or js["score"] < 0:
            continue
        draft, strong_text = _answer_of(jc["user_prompt"]), _answer_of(js["user_prompt"])
        out.append(
            {
                "prompt": q["turns"][0],
                "category": q.get("category", ""),
                "draft": draft,
                "strong": strong_text,
                "draft_score": float(jc["score"]) / 10,
                "strong_score": float(js["score"]) / 10,
                "draft_grade": float(jc["score"]),
                "strong_grade": float(js["score"]),
                "input_tokens": est_tokens(q["turns"][0]),
                "draft_tokens": est_tokens(draft),
                "strong_tokens": est_tokens(strong_text),
                "draft_price": PRICES_PER_M[cheap] if cheap in PRICES_PER_M else (0.0, 0.0),
                "strong_price": PRICES_PER_M[strong] if strong in PRICES_PER_M else (0.0, 0.0),
            }
        )
    return out
