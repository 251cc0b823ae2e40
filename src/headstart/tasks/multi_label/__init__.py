"""Multi-label classification: zero or more labels per text."""

from headstart.tasks.multi_label.task import MultiLabelClassification

__all__ = ["MultiLabelClassification"]
