"""The HTTP API's part for question answering: ``{"question", "context"}`` in, the answer span out.

Imported only by ``Task.serving()``: pydantic comes with the ``serve`` extra.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1)
    context: str


class Answer(BaseModel):
    answer: str = Field(description='The answer, a span of the context ("" where there is none).')
    start: int | None = Field(description="Its first character in the context.")
    end: int | None = Field(description="The character after it.")
    score: float = Field(description="Its probability (of no answer, where there is none).")


ANSWER = """
const FIELDS = { first: "Question", second: "Context", needsSecond: () => true };
function toInput(question, context) { return { question: question, context: context }; }

function render(text, prediction, input) {
  const box = document.createElement("div");
  box.className = "entities answer";
  if (prediction.start === null || prediction.start === undefined) {
    box.textContent = "(no answer in the context)";
    return box;
  }
  const context = input.context;
  box.appendChild(document.createTextNode(context.slice(0, prediction.start)));
  const mark = document.createElement("mark");
  mark.title = (100 * prediction.score).toFixed(1) + "%";
  mark.textContent = context.slice(prediction.start, prediction.end);
  box.appendChild(mark);
  box.appendChild(document.createTextNode(context.slice(prediction.end)));
  return box;
}
"""


class QAServing:
    input_type: Any = Question
    prediction_type: Any = Answer
    page_script = ANSWER
    input_help = 'a {"question", "context"} object'

    def inputs(self, items: list[Any], info: Any) -> list[Any]:
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, Question):
                raise ValueError(f'inputs.{i}: this model takes {{"question": ..., "context": ...}}; see GET /v1/model')
            out.append({"question": item.question, "context": item.context})
        return out

    def predict(self, run: Any, items: list[Any], batch_size: int) -> list[Any]:
        return run.predict(items, batch_size=batch_size)

    def trim(self, predictions: list[Any], all_scores: bool) -> list[Any]:
        return predictions

    def facts(self, info: Any) -> dict[str, Any]:
        return {"version_2_with_negative": bool(info.settings.version_2_with_negative)}
