"""Extractive question answering (SQuAD 1.1 and 2.0)."""

from headstart.tasks.question_answering.task import QuestionAnswering

__all__ = ["QuestionAnswering"]
