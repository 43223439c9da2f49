"""The task layout: every task has train and report, and no task imports another (shared steps live elsewhere)."""

import ast
import importlib

import pytest

from mathlit.config import Task
from tests.conftest import ROOT


@pytest.mark.parametrize("name", [t.value for t in Task])
def test_a_task_has_train_and_report_and_imports_no_other_task(name):
    tree = ast.parse((ROOT / "mathlit" / "tasks" / f"{name}.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {m for m in imported if m and m.startswith("mathlit.tasks.")}
    task = importlib.import_module(f"mathlit.tasks.{name}")
    assert callable(task.train) and callable(task.report)
