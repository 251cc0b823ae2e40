"""Tasks: one module per task; ``TASKS`` maps the config's ``task.type`` to its implementation."""

from __future__ import annotations

from headstart.errors import ConfigError
from headstart.tasks.base import Task
from headstart.tasks.multi_label import MultiLabelClassification
from headstart.tasks.regression import Regression
from headstart.tasks.text_classification import TextClassification
from headstart.tasks.text_to_text import TextToText
from headstart.tasks.token_classification import TokenClassification

TASKS: dict[str, type[Task]] = {
    TextClassification.name: TextClassification,
    MultiLabelClassification.name: MultiLabelClassification,
    Regression.name: Regression,
    TextToText.name: TextToText,
    TokenClassification.name: TokenClassification,
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ConfigError(f"a task among {', '.join(TASKS)}", found=repr(name), fix="fix --task / task.type")
    return TASKS[name]()


__all__ = ["TASKS", "Task", "get_task"]
