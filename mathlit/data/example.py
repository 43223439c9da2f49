"""The one type every data source is read into."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Example:
    id: str
    question: str
    solution: str  # the reference chain of thought: the training target
    answer: str  # the gold final answer
    domain: str  # "gsm8k" (numeric answers) or "math" (LaTeX answers)
    meta: dict = field(default_factory=dict, hash=False, compare=False)  # level, subject, source
