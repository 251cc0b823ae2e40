"""Regression: one number per text or text pair."""

from headstart.tasks.regression.task import Regression

__all__ = ["Regression"]
