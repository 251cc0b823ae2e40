"""The HTTP API's part for generation: a text (or ``{"input"}``) in, ``{"generated_text"}`` out.

Imported only by ``Task.serving()``: pydantic comes with the ``serve`` extra.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: str = Field(min_length=1)


class Written(BaseModel):
    generated_text: str = Field(description="The text the model wrote for the input (the prompt left out).")


WRITTEN = """
const STREAM = true;  // the page shows the text as /v1/generate streams it
const FIELDS = { first: "Input", second: "", needsSecond: () => false };
function toInput(text) { return text; }

function render(text, prediction) {
  const box = document.createElement("div");
  box.className = "written";
  box.style.whiteSpace = "pre-wrap";
  box.textContent = prediction.generated_text;
  return box;
}
"""


class GenerationServing:
    input_type: Any = str | Input
    prediction_type: Any = Written
    page_script = WRITTEN
    input_help = 'a text, or an {"input": text} object'

    def inputs(self, items: list[Any], info: Any) -> list[Any]:
        out = []
        for i, item in enumerate(items):
            text = item.input if isinstance(item, Input) else item
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"inputs.{i}: this model takes a non-empty text; see GET /v1/model")
            out.append(text)
        return out

    def predict(self, run: Any, items: list[Any], batch_size: int) -> list[Any]:
        return run.predict(items, batch_size=batch_size)

    def stream(self, run: Any, item: Any, max_new_tokens: int | None) -> Iterator[str]:
        """The text for one input as it is written (``POST /v1/generate``)."""
        return run.task.stream(run, item, max_new_tokens=max_new_tokens)

    def trim(self, predictions: list[Any], all_scores: bool) -> list[Any]:
        return predictions

    def facts(self, info: Any) -> dict[str, Any]:
        return {"decoder_only": bool(info.settings.decoder_only), "prompt_template": info.settings.prompt_template}
