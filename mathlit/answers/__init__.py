"""Answer extraction and equivalence. Pure Python, no torch: fast to import and to test."""

from mathlit.answers.equiv import Verdict, is_equiv, judge
from mathlit.answers.extract import extract

__all__ = ["Verdict", "extract", "is_equiv", "judge"]
