"""The HTTP API's part for the text tasks: text or pair inputs, a label-and-scores prediction, bars on the page.

Imported only by ``Task.serving()``: pydantic comes with the ``serve`` extra.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Pair(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    text_pair: str


TextInput = str | tuple[str, str] | Pair


class Prediction(BaseModel):
    label: str = Field(description="The best label (regression: the target's name).")
    score: float = Field(description="Its probability (multi-label: sigmoid; regression: the predicted number).")
    labels: list[str] | None = Field(None, description="Multi-label: every label at or above the saved threshold.")
    scores: dict[str, float] | None = None


# The page's text boxes for text inputs: one text, or a pair for a pair model.
TEXT_FIELDS = """
const FIELDS = { first: "Text", second: "Second text", needsSecond: (model) => Boolean(model && model.is_pair) };
function toInput(text, second, model) { return FIELDS.needsSecond(model) ? [text, second] : text; }
"""

BARS = (
    TEXT_FIELDS
    + """
function render(text, prediction) {
  const box = document.createElement("div");
  const scores = prediction.scores || { [prediction.label]: prediction.score };
  const names = Object.keys(scores).sort((a, b) => scores[b] - scores[a]);
  for (const name of names) {
    const row = document.createElement("div");
    row.className = "bar-row" + (name === prediction.label ? " best" : "");
    row.dataset.label = name;
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    const track = document.createElement("div");
    track.className = "bar-track";
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = (100 * scores[name]).toFixed(1) + "%";
    track.appendChild(bar);
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = (100 * scores[name]).toFixed(1) + "%";
    row.append(label, track, score);
    box.appendChild(row);
  }
  return box;
}
"""
)


class TextServing:
    """Texts in (pairs for a pair model), ``{"label", "score", "scores"}`` out, a bar per label on the page."""

    input_type: Any = TextInput
    prediction_type: Any = Prediction
    page_script = BARS
    input_help = 'a text, a [text, text_pair] pair, a {"text", "text_pair"} object'

    def inputs(self, items: list[Any], info: Any) -> list[Any]:
        is_pair = bool(info.settings.is_pair)
        out: list[Any] = []
        for i, item in enumerate(items):
            if isinstance(item, Pair):
                item = (item.text, item.text_pair)
            if isinstance(item, (tuple, list)) != is_pair:
                want = '[text, text_pair] pairs or {"text", "text_pair"} objects' if is_pair else "plain texts"
                raise ValueError(f"inputs.{i}: this model takes {want}; see GET /v1/model")
            out.append(tuple(item) if isinstance(item, list) else item)
        return out

    def predict(self, run: Any, items: list[Any], batch_size: int) -> list[Any]:
        return run.predict(items, batch_size=batch_size, all_scores=True)

    def trim(self, predictions: list[Any], all_scores: bool) -> list[Any]:
        if all_scores:
            return predictions
        return [{k: v for k, v in p.items() if k != "scores"} for p in predictions]

    def facts(self, info: Any) -> dict[str, Any]:
        return {"is_pair": bool(info.settings.is_pair)}
