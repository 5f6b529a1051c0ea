"""Hand-written questions for the multi-sample answer set (bench/model_checks.py, part 3).

Each question: its kind, the prompt, a short reasoning, the right answer written several ways and
wrong answers (each written one or more ways). `draws` makes the draft and samples of a model that is
right with probability p on the question: every answer is a reasoning text ending in one of the answer
formats people and models use ("A: ...", "The answer is ...", bold, "####", a last line). Formats are
drawn independently per answer, so agreement must be read through the formats, as in real traffic.
"""

from __future__ import annotations

import random
from typing import Any

MC_ITALY = "Which city is the capital of Italy?\n(A) Paris\n(B) Rome\n(C) Madrid\n(D) Berlin"
MC_PLANET = "Which planet is the largest in the solar system?\nA) Mars\nB) Jupiter\nC) Venus\nD) Earth"
MC_GAS = "Which gas do plants absorb from the air for photosynthesis?\n(A) Oxygen\n(B) Nitrogen\n(C) Carbon dioxide\n(D) Helium"
MC_AUTHOR = "Who wrote 'Pride and Prejudice'?\nA. Charlotte Bronte\nB. Jane Austen\nC. Mary Shelley\nD. George Eliot"
MC_LEGS = "How many legs does an insect have?\n(A) 4\n(B) 6\n(C) 8\n(D) 10"

# (kind, prompt, reasoning, right forms, [wrong value forms, ...])
QUESTIONS: list[tuple[str, str, str, list[str], list[list[str]]]] = [
    ("date", "Today is 3/31/2021. What is the date tomorrow in MM/DD/YYYY?",
     "Today is March 31, 2021. March has 31 days, so the next day is in April.",
     ["04/01/2021", "4/1/2021", "April 1, 2021"], [["04/02/2021", "April 2, 2021"], ["03/32/2021"], ["04/01/2020"]]),
    ("date", "Jane was born on the last day of February in 2001. Today is her 16th birthday. What is the date yesterday "
             "in MM/DD/YYYY?",
     "2001 is not a leap year, so she was born on 02/28/2001. Her 16th birthday is 02/28/2017, so yesterday was the 27th.",
     ["02/27/2017", "February 27, 2017"], [["02/28/2017", "February 28, 2017"], ["02/27/2016"], ["02/29/2017"]]),
    ("date", "The concert was on 12/24/2019, and the rehearsal one week before. What was the date of the rehearsal in "
             "MM/DD/YYYY?",
     "One week is 7 days, and 24 - 7 = 17, so the rehearsal was in the same month.",
     ["12/17/2019", "December 17, 2019", "2019-12-17"], [["12/31/2019", "December 31, 2019"], ["12/18/2019"]]),
    ("date", "Today is 01/01/2020. What was the date 10 days ago? Answer as DD/MM/YYYY.",
     "Ten days before 1 January 2020 is in December 2019: 31 - 9 = 22.",
     ["22/12/2019", "22 December 2019"], [["21/12/2019", "21 December 2019"], ["23/12/2019"], ["22/12/2020"]]),
    ("date", "The project started on May 3, 2021 and took exactly 4 weeks. On what date did it end?",
     "Four weeks are 28 days. May 3 plus 28 days is May 31.",
     ["May 31, 2021", "2021-05-31", "31 May 2021"], [["June 1, 2021", "2021-06-01"], ["May 30, 2021"]]),
    ("time", "The meeting starts at 2:15 pm and lasts 90 minutes. What time does it end?",
     "90 minutes is 1 hour 30 minutes. 2:15 pm plus 1:30 is 3:45 pm.",
     ["3:45 pm", "15:45", "3:45 PM"], [["4:45 pm", "16:45"], ["3:15 pm", "15:15"], ["3:45 am"]]),
    ("time", "A train leaves at 10:40 am and the trip takes 2 hours 35 minutes. At what time does it arrive?",
     "10:40 plus 2 hours is 12:40 pm, plus 35 minutes is 1:15 pm.",
     ["1:15 pm", "13:15", "1:15 p.m."], [["1:15 am", "01:15"], ["12:15 pm", "12:15"], ["1:05 pm", "13:05"]]),
    ("time", "Sam went to bed at 10:30 pm and slept 8 hours. What time did he wake up?",
     "10:30 pm plus 8 hours crosses midnight: 10:30 + 8 = 18:30, minus 12 hours is 6:30 am.",
     ["6:30 am", "06:30", "6:30 a.m."], [["6:30 pm", "18:30"], ["7:30 am", "07:30"]]),
    ("time", "A movie of 2 hours and 10 minutes ends at 11:05 pm. What time did it start?",
     "11:05 pm minus 2 hours is 9:05 pm, minus 10 more minutes is 8:55 pm.",
     ["8:55 pm", "20:55"], [["9:55 pm", "21:55"], ["8:55 am"], ["9:05 pm", "21:05"]]),
    ("money", "A shirt costs $24.50 and a jacket costs three times as much. How much do both cost together?",
     "The jacket costs 3 * $24.50 = $73.50. Together 24.50 + 73.50 = 98.",
     ["$98", "$98.00", "98 dollars"], [["$73.50", "73.5 dollars"], ["$122.50"], ["$97"]]),
    ("money", "Tom earns $1,250 a week and saves 20% of it. How much does he save in 4 weeks?",
     "20% of $1,250 is $250 a week. In 4 weeks he saves 4 * 250 = 1,000.",
     ["$1,000", "$1000", "1000 dollars"], [["$250"], ["$5,000", "$5000"], ["$1,250"]]),
    ("money", "Pencils cost 35 cents each. How much do 6 pencils cost, in dollars?",
     "6 * 35 = 210 cents, which is $2.10.",
     ["$2.10", "2.1 dollars", "210 cents"], [["$2.00", "200 cents"], ["$2.45"], ["$21"]]),
    ("money", "A phone costs EUR 480 and is discounted by 25%. What is the new price?",
     "25% of 480 is 120, so the new price is 480 - 120 = 360.",
     ["EUR 360", "€360", "360 euros"], [["EUR 120", "€120"], ["€380"], ["€455"]]),
    ("number", "A recipe needs 2/3 cup of sugar per batch. How many cups are needed for 37 batches?",
     "37 * 2/3 = 74/3 cups, which is 24 and 2/3.",
     ["24 2/3", "74/3", "24 2/3 cups"], [["2/3"], ["24"], ["25 1/3", "76/3"]]),
    ("number", "A car drives at 60 km per hour for 2.5 hours. How far does it go?",
     "Distance is speed times time: 60 * 2.5 = 150.",
     ["150 km", "150 kilometers", "150,000 m"], [["150 miles"], ["120 km"], ["62.5 km"]]),
    ("number", "A class has 40 students and 30 passed. What percentage passed?",
     "30 out of 40 is 30/40 = 0.75.",
     ["75%", "75 percent", "0.75"], [["30%"], ["25%"], ["70%"]]),
    ("number", "She has 3 boxes of 4 apples and eats 0 of them. How many apples does she have?",
     "3 boxes of 4 apples is 3 * 4.",
     ["12", "twelve", "a dozen"], [["7", "seven"], ["34"], ["11", "eleven"]]),
    ("number", "A bacterium culture doubles every hour from 1,500 cells. How many cells after 3 hours?",
     "Doubling three times multiplies by 8: 1,500 * 8.",
     ["12,000", "12000", "1.2 x 10^4"], [["4,500", "4500"], ["6,000"], ["1.2 x 10^3"]]),
    ("choice", MC_ITALY, "Paris is the capital of France, Madrid of Spain and Berlin of Germany.",
     ["B", "(B)", "Rome", "(B) Rome"], [["A", "Paris"], ["C", "(C) Madrid"], ["D", "Berlin"]]),
    ("choice", MC_PLANET, "Jupiter's mass is more than twice that of all the other planets combined.",
     ["B", "B) Jupiter", "Jupiter"], [["A", "Mars"], ["D", "Earth"], ["C", "Venus"]]),
    ("choice", MC_GAS, "Photosynthesis turns carbon dioxide and water into sugar and releases oxygen.",
     ["C", "(C)", "Carbon dioxide"], [["A", "Oxygen"], ["B", "Nitrogen"]]),
    ("choice", MC_AUTHOR, "The novel was published in 1813 by the author of 'Emma'.",
     ["B", "B. Jane Austen", "Jane Austen"], [["A", "Charlotte Bronte"], ["C", "Mary Shelley"]]),
    ("choice", MC_LEGS, "Insects have three pairs of legs.",
     ["B", "(B) 6", "6"], [["C", "8"], ["A", "4"]]),
    ("yes_no", "Is 91 a prime number? Answer yes or no.", "91 = 7 * 13, so it has divisors other than 1 and itself.",
     ["No", "no", "No, it is not"], [["Yes", "yes", "Yes, it is"]]),
    ("yes_no", "Can a leap year have 366 days? Answer yes or no.", "A leap year adds February 29 to the 365 days.",
     ["Yes", "yes", "Yes, it can"], [["No", "no"]]),
    ("yes_no", "True or false: the Pacific is the largest ocean.", "The Pacific covers about a third of Earth's surface.",
     ["True", "true", "Yes"], [["False", "false"]]),
    ("short", "What is the capital of Australia?", "Sydney is the largest city, but the capital was built on purpose.",
     ["Canberra", "canberra", "The capital is Canberra"], [["Sydney", "The capital is Sydney"], ["Melbourne"]]),
    ("short", "Who painted the Mona Lisa?", "The portrait was painted in Florence in the early 1500s.",
     ["Leonardo da Vinci", "Leonardo da Vinci.", "da Vinci"], [["Michelangelo"], ["Raphael"]]),
    ("short", "Which element has the chemical symbol Fe?", "Fe comes from the Latin ferrum.",
     ["Iron", "iron"], [["Lead"], ["Fluorine"]]),
    ("set", "List all the prime numbers between 10 and 20.", "Check each number: 12, 14, 15, 16, 18 are composite.",
     ["11, 13, 17, 19", "11, 13, 17 and 19", "19, 17, 13, 11"], [["11, 13, 15, 17, 19"], ["11, 13, 17"], ["13, 17, 19"]]),
    ("set", "Name all the primary colors of paint.", "Traditional paint mixing uses three primaries.",
     ["red, yellow, blue", "blue, red and yellow"], [["red, green, blue"], ["red, yellow"]]),
    ("math", "Simplify $\\sqrt{12}$.", "12 = 4 * 3 and the square root of 4 is 2.",
     ["\\boxed{2\\sqrt{3}}", "$2\\sqrt{3}$", "2 \\sqrt{3}"], [["\\boxed{3\\sqrt{2}}"], ["\\boxed{4\\sqrt{3}}"], ["\\boxed{\\sqrt{6}}"]]),
    ("math", "Solve for x: 4x + 3 = 0.", "Subtract 3 from both sides, then divide by 4.",
     ["x = -3/4", "\\boxed{-\\frac{3}{4}}", "-0.75"], [["x = 3/4", "\\boxed{\\frac{3}{4}}"], ["x = -4/3"]]),
    ("math", "Expand $(x+1)^2$. Express your answer as a polynomial.", "Use (a+b)^2 = a^2 + 2ab + b^2.",
     ["\\boxed{x^2+2x+1}", "\\boxed{x^2 + 2x + 1}"], [["\\boxed{x^2+1}"], ["\\boxed{x^2+2x+2}"]]),
]

# How an answer ends, given the reasoning r and the answer a.
ENDINGS = [
    lambda r, a: f"{r}\nA: {a}",
    lambda r, a: f"{r} So the answer is {a}.",
    lambda r, a: f"{r}\n\n**{a}**",
    lambda r, a: f"{r}\nFinal answer: {a}",
    lambda r, a: f"{r}\n#### {a}",
    lambda r, a: f"Let's think step by step. {r}\n\nAnswer: {a}",
    lambda r, a: f"{r}\nTherefore the answer is {a}.",
    lambda r, a: f"{r}\n{a}",
]


def answer_text(rng: random.Random, reasoning: str, forms: list[str]) -> str:
    return rng.choice(ENDINGS)(reasoning, rng.choice(forms))


def draws(seed: int = 20, per_question: int = 16, k: int = 5) -> list[dict[str, Any]]:
    """Records: prompt, kind, the draft (right or wrong), k samples of the same model, draft_correct, and
    which value each text gives (`draft_value`, `sample_values`: what a perfect reader would see).

    The model is right with probability p per question instance (drawn from 0.25-0.95), and its
    wrong answers favour the first wrong value (the common mistake)."""
    rng = random.Random(seed)
    out = []
    for kind, prompt, reasoning, right, wrongs in QUESTIONS:
        for _ in range(per_question):
            p = rng.uniform(0.25, 0.95)

            def one() -> tuple[str, int]:
                """A text and which value it gives (0 the right one, i the i-th wrong one)."""
                if rng.random() < p:
                    return answer_text(rng, reasoning, right), 0
                i = 1 if rng.random() < 0.6 else rng.randrange(1, len(wrongs) + 1)
                return answer_text(rng, reasoning, wrongs[i - 1]), i

            draft, value = one()
            samples = [one() for _ in range(k)]
            out.append({"kind": kind, "prompt": prompt, "draft": draft, "draft_correct": value == 0,
                        "draft_value": value, "samples": [t for t, _ in samples],
                        "sample_values": [v for _, v in samples]})
    return out
