"""Tasks: one package per task behind the ``Task`` contract (``base.py``); ``TASKS`` is the registry.

Adding a task is adding its package and one line here; nothing outside ``tasks/`` names a task.
"""

from __future__ import annotations

from pathlib import Path

from headstart.artifacts import ModelInfo, info_error, read_info_file
from headstart.config import register_task_type, unregister_task_type
from headstart.errors import ConfigError, ModelLoadError
from headstart.tasks.base import PredictOption, Task
from headstart.tasks.generation import Generation
from headstart.tasks.multi_label import MultiLabelClassification
from headstart.tasks.question_answering import QuestionAnswering
from headstart.tasks.regression import Regression
from headstart.tasks.text_classification import TextClassification
from headstart.tasks.text_to_text import TextToText
from headstart.tasks.token_classification import TokenClassification

TASKS: dict[str, type[Task]] = {}


def register(task: type[Task]) -> None:
    """Make ``task`` available: its name and aliases as ``task.type``, its configuration keys and checks.

    Adding a task is its package plus one call here (or, from outside headstart, one call anywhere
    before the config is read)."""
    TASKS[task.name] = task
    register_task_type(task.name, task.aliases, task.config_type, task.config_checks)


def unregister(name: str) -> None:
    """Remove a registered task: its name, aliases, and the configuration keys only it declared."""
    TASKS.pop(name, None)
    unregister_task_type(name)


for _task in (
    TextClassification,
    MultiLabelClassification,
    Regression,
    TextToText,
    TokenClassification,
    QuestionAnswering,
    Generation,
):
    register(_task)


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ConfigError(f"a task among {', '.join(TASKS)}", found=repr(name), fix="fix --task / task.type")
    return TASKS[name]()


def read_model_info(path: str | Path) -> ModelInfo:
    """``headstart.json`` of a saved directory, typed, with the settings of the task it names."""
    root, raw = read_info_file(path)
    if raw["task"] not in TASKS:
        raise ModelLoadError(
            f"a model of a task this headstart knows ({', '.join(TASKS)})",
            found=f"task {raw['task']!r}",
            fix="load it with the headstart release (or the plugin registering the task) that saved it",
            file=root / "headstart.json",
        )
    task = get_task(str(raw["task"]))
    try:
        return ModelInfo.parse(root, raw, task.settings_type)
    except (KeyError, TypeError, ValueError) as exc:
        raise info_error(root / "headstart.json", exc) from None


def predict_options() -> dict[str, PredictOption]:
    """Every task's own ``predict()`` options (the CLI's predict flags)."""
    out: dict[str, PredictOption] = {}
    for task in TASKS.values():
        out.update(task.predict_options)
    return out


def input_fields() -> dict[str, str]:
    """Every task's named input fields (the CLI's predict flags such as --question)."""
    out: dict[str, str] = {}
    for task in TASKS.values():
        out.update(getattr(task, "input_fields", {}))  # a task written before the hook has none
    return out


__all__ = ["TASKS", "Task", "get_task", "input_fields", "predict_options", "read_model_info", "register", "unregister"]
