"""The HTTP API's part for a tagger: plain texts in, entities with character offsets out, marked on the page.

Imported only by ``Task.serving()``: pydantic comes with the ``serve`` extra.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from headstart.tasks.common.serving import TextInput


class Entity(BaseModel):
    entity_group: str
    word: str
    start: int
    end: int
    score: float


ENTITIES = """
const FIELDS = { first: "Text", second: null, needsSecond: () => false };
function toInput(text) { return text; }

function render(text, entities) {
  const box = document.createElement("div");
  box.className = "entities";
  let at = 0;
  for (const e of entities) {
    box.appendChild(document.createTextNode(text.slice(at, e.start)));
    const mark = document.createElement("mark");
    mark.dataset.label = e.entity_group;
    mark.title = e.entity_group + " " + (100 * e.score).toFixed(1) + "%";
    mark.appendChild(document.createTextNode(text.slice(e.start, e.end)));
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = e.entity_group;
    mark.appendChild(tag);
    box.appendChild(mark);
    at = e.end;
  }
  box.appendChild(document.createTextNode(text.slice(at)));
  if (!entities.length) box.appendChild(document.createTextNode("  (no entities found)"));
  return box;
}
"""


class TokenServing:
    input_type: Any = TextInput  # the common schema; anything but a plain text is refused in inputs()
    prediction_type: Any = list[Entity]
    page_script = ENTITIES
    input_help = "a text"

    def inputs(self, items: list[Any], info: Any) -> list[Any]:
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise ValueError(f"inputs.{i}: this model takes plain texts; see GET /v1/model")
        return list(items)

    def predict(self, run: Any, items: list[Any], batch_size: int) -> list[Any]:
        return run.predict(items, batch_size=batch_size)

    def trim(self, predictions: list[Any], all_scores: bool) -> list[Any]:
        return predictions

    def facts(self, info: Any) -> dict[str, Any]:
        return {"is_pair": False}
