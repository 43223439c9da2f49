"""Procedural multi-step arithmetic word problems with GSM8K-style chains of thought (`data=arith`).

A story follows one amount through 2-3 operations (add, subtract, double/triple, halve); each step
becomes one line with a calculator annotation, and the answer ends with `#### N`, exactly as in GSM8K:

    Mia has 23 marbles. She buys 15 more marbles. Then she gives 8 marbles to a friend. How many ...?
    Mia has 23+15=<<23+15=38>>38 marbles after buying.
    Then she has 38-8=<<38-8=30>>30 marbles left.
    #### 30

Operand order of + and * varies between problems, as in human-written solutions, so a model that
learns from them samples more than one reasoning path per question (what RFT's dedup counts).
Generation is deterministic in the seed; a problem goes to the train or the test split by a hash
of its text, so the splits never share a question whatever their sizes.
"""

import hashlib
import random
from collections.abc import Callable

from mathlit.config import ArithConfig
from mathlit.data.formats import Example
from mathlit.errors import DataError

NAMES = [
    ("Mia", "she", "her"),
    ("Tom", "he", "his"),
    ("Ava", "she", "her"),
    ("Leo", "he", "his"),
    ("Zoe", "she", "her"),
    ("Sam", "he", "his"),
    ("Ivy", "she", "her"),
    ("Max", "he", "his"),
    ("Emma", "she", "her"),
    ("Noah", "he", "his"),
    ("Lily", "she", "her"),
    ("Jack", "he", "his"),
]
ITEMS = [
    "apples",
    "marbles",
    "stickers",
    "cookies",
    "books",
    "pencils",
    "coins",
    "cards",
    "shells",
    "stamps",
    "balloons",
    "candies",
    "flowers",
    "beads",
    "toys",
    "eggs",
]
COLORS = ["red", "blue", "green", "yellow", "white", "small", "big"]
FRIENDS = ["a friend", "a neighbor", "the teacher", "a cousin", "the class"]


def _eq(a: int, op: str, b: int, result: int) -> str:
    return f"{a}{op}{b}=<<{a}{op}{b}={result}>>{result}"


class _Story:
    def __init__(self, rng: random.Random, cfg: ArithConfig):
        self.rng, self.cfg = rng, cfg
        self.name, self.subj, self.poss = rng.choice(NAMES)
        self.item = rng.choice(ITEMS)
        self.sentences: list[str] = []
        self.lines: list[str] = []
        self.value = 0

    def ordered(self, a: int, op: str, b: int, result: int) -> str:
        """A commutative step written either way round."""
        return _eq(b, op, a, result) if self.rng.random() < 0.35 else _eq(a, op, b, result)

    def start(self) -> int:
        """Open with one amount (no step), or with two parts whose sum is the first step."""
        rng, n, item, top = self.rng, self.name, self.item, self.cfg.max_value
        if rng.random() < 0.4:
            a, b = rng.randint(2, top), rng.randint(2, top)
            c1, c2 = rng.sample(COLORS, 2)
            self.sentences.append(f"{n} has {a} {c1} {item} and {b} {c2} {item}.")
            self.value = a + b
            self.lines.append(f"{n} has {self.ordered(a, '+', b, self.value)} {item} in total.")
            return 1
        self.value = rng.randint(2, top)
        self.sentences.append(f"{n} has {self.value} {item}.")
        return 0

    def add(self) -> bool:
        b = self.rng.randint(2, self.cfg.max_value)
        if self.value + b > self.cfg.max_result:
            return False
        s, item, y = self.subj.capitalize(), self.item, self.value + b
        self.sentences.append(
            self.rng.choice(
                [
                    f"{s} buys {b} more {item}.",
                    f"{s} finds {b} more {item}.",
                    f"{self.rng.choice(FRIENDS).capitalize()} gives {self.name} {b} {item}.",
                ]
            )
        )
        self.lines.append(f"{self.name} now has {self.ordered(self.value, '+', b, y)} {item}.")
        self.value = y
        return True

    def subtract(self) -> bool:
        if self.value < 3:
            return False
        b = self.rng.randint(1, min(self.value - 1, self.cfg.max_value))
        s, item, y = self.subj.capitalize(), self.item, self.value - b
        self.sentences.append(
            self.rng.choice(
                [
                    f"{s} gives {b} {item} to {self.rng.choice(FRIENDS)}.",
                    f"{s} loses {b} {item}.",
                    f"{s} uses {b} of the {item}.",
                ]
            )
        )
        self.lines.append(f"Then {self.subj} has {_eq(self.value, '-', b, y)} {item} left.")
        self.value = y
        return True

    def multiply(self) -> bool:
        k = self.rng.choice([2, 3])
        if self.value * k > self.cfg.max_result:
            return False
        word = {2: "doubles", 3: "triples"}[k]
        y = self.value * k
        self.sentences.append(f"Then {self.subj} {word} the number of {self.item}.")
        self.lines.append(f"After that {self.subj} has {self.ordered(self.value, '*', k, y)} {self.item}.")
        self.value = y
        return True

    def halve(self) -> bool:
        if self.value % 2:
            return False
        y = self.value // 2
        self.sentences.append(
            f"{self.subj.capitalize()} gives half of {self.poss} {self.item} to {self.rng.choice(FRIENDS)}."
        )
        self.lines.append(f"{self.subj.capitalize()} keeps {_eq(self.value, '/', 2, y)} {self.item}.")
        self.value = y
        return True


def make_problem(rng: random.Random, cfg: ArithConfig) -> tuple[str, str, int]:
    """One (question, solution, steps) drawn from `rng`."""
    story = _Story(rng, cfg)
    steps = rng.randint(cfg.min_steps, cfg.max_steps)
    done = story.start()
    ops: list[Callable[[], bool]] = [story.add, story.subtract, story.multiply, story.halve]
    while done < steps:
        if rng.choices(ops, weights=[3, 3, 2, 1])[0]():
            done += 1
    question = " ".join(story.sentences) + f" How many {story.item} does {story.name} have now?"
    solution = "\n".join(story.lines) + f"\n#### {story.value}"
    return question, solution, steps


def _is_test(question: str) -> bool:
    return int(hashlib.sha1(question.encode()).hexdigest(), 16) % 5 == 0


def generate(cfg: ArithConfig) -> tuple[list[Example], list[Example]]:
    """(train, test) problems: deterministic in cfg.seed, unique, and disjoint by construction."""
    if not 1 <= cfg.min_steps <= cfg.max_steps:
        raise DataError(f"data.arith.min_steps={cfg.min_steps} and max_steps={cfg.max_steps} need 1 <= min <= max")
    if cfg.max_value < 3 or cfg.max_result < 2 * cfg.max_value:
        raise DataError("data.arith.max_value must be >= 3 and data.arith.max_result >= 2 * max_value")
    rng = random.Random(cfg.seed)
    splits: dict[str, list[Example]] = {"train": [], "test": []}
    wanted = {"train": cfg.num_train, "test": cfg.num_test}
    seen: set[str] = set()
    attempts = 0
    while any(len(splits[s]) < wanted[s] for s in splits):
        attempts += 1
        if attempts > 50 * (cfg.num_train + cfg.num_test) + 1000:
            raise DataError(
                f"data.arith cannot produce {cfg.num_train} + {cfg.num_test} distinct problems "
                f"with max_value={cfg.max_value}; raise data.arith.max_value or lower the counts"
            )
        question, solution, steps = make_problem(rng, cfg)
        split = "test" if _is_test(question) else "train"
        if question in seen or len(splits[split]) >= wanted[split]:
            continue
        seen.add(question)
        answer = solution.rsplit("#### ", 1)[1]
        idx = len(splits[split])
        splits[split].append(Example(f"arith/{split}/{idx}", question, solution, answer, "gsm8k", {"steps": steps}))
    return splits["train"], splits["test"]
