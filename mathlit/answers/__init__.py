"""Answer extraction and equivalence. Pure Python, no torch: fast to import and to test."""

from mathlit.answers.equiv import is_equiv
from mathlit.answers.extract import extract

__all__ = ["extract", "is_equiv"]
