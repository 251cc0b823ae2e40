"""The architecture's rules, checked: layers import downwards only, and nothing outside tasks/ names a task."""

import ast
import subprocess
import sys
from pathlib import Path

from headstart.config import TASK_ALIASES, TASK_TYPES
from headstart.tasks import TASKS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "headstart"
PROBLEM_TYPES = {"single_label_classification", "multi_label_classification", "regression"}
# (module, string) pairs that name a task or problem_type outside tasks/ on purpose, and why.
ALLOWED = {
    ("config.py", "text-classification"),  # task.type's default
    ("modeling/losses.py", "single_label_classification"),  # transformers' problem_type -> loss table,
    ("modeling/losses.py", "multi_label_classification"),  # read by headstart's own heads from their
    ("modeling/losses.py", "regression"),  # saved config as transformers' heads do
}


def test_import_contracts_hold():
    """pyproject.toml's import-linter contracts: a new import cycle or upward import fails here."""
    # in a process of its own: import-linter reconfigures logging, which other tests read
    command = [
        str(Path(sys.executable).parent / "lint-imports"),
        "--no-cache",
        "--config",
        str(ROOT / "pyproject.toml"),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def _strings(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    }


def test_no_module_outside_tasks_names_a_task_or_problem_type():
    names = set(TASKS) | set(TASK_ALIASES) | PROBLEM_TYPES
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        if module.startswith("tasks/"):
            continue
        for text in _strings(path):
            if text in names and (module, text) not in ALLOWED:
                found.append(f"{module}: {text!r}")
    assert not found, "a task is named outside tasks/ (add a hook to the Task contract instead): " + ", ".join(found)


def test_every_registered_task_is_a_valid_task_type():
    assert TASK_TYPES == list(TASKS)
    assert all(TASK_ALIASES[alias] == task.name for task in TASKS.values() for alias in task.aliases)
