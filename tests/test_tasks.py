"""The task layout: every task has train and report, and no task imports another (shared steps live elsewhere)."""

import ast
import importlib

import pytest

from mathlit.config import Task
from mathlit.errors import ConfigError
from tests.conftest import ROOT, make_cfg


@pytest.mark.parametrize("name", [t.value for t in Task])
def test_a_task_has_train_and_report_and_imports_no_other_task(name):
    tree = ast.parse((ROOT / "mathlit" / "tasks" / f"{name}.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {m for m in imported if m and m.startswith("mathlit.tasks.")}
    task = importlib.import_module(f"mathlit.tasks.{name}")
    assert callable(task.train) and callable(task.report)


def test_a_fallback_without_math_verify_installed_fails_at_start_up(monkeypatch):
    import mathlit.startup

    monkeypatch.setattr(mathlit.startup, "find_spec", lambda name: None if name == "math_verify" else object())
    with pytest.raises(ConfigError, match="answers.fallback=math_verify .* need math-verify"):
        mathlit.startup.check_grading(make_cfg())
    mathlit.startup.check_grading(make_cfg("answers.fallback=none"))  # mathlit's verdict alone needs nothing
