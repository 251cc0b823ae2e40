"""Request and response bodies of the HTTP API (they are also its OpenAPI documentation)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Pair(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    text_pair: str


TextInput = str | tuple[str, str] | Pair


class PredictRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"inputs": ["a gorgeous, witty film", "a tedious mess"]}]},
    )
    inputs: TextInput | list[TextInput] = Field(
        description='Texts; for a pair model ["first", "second"] pairs or {"text", "text_pair"} objects.'
    )
    all_scores: bool = Field(False, description="Classification: every label's score, not only the best.")


class Prediction(BaseModel):
    label: str = Field(description="The best label (regression: the target's name).")
    score: float = Field(description="Its probability (multi-label: sigmoid; regression: the predicted number).")
    labels: list[str] | None = Field(None, description="Multi-label: every label at or above the saved threshold.")
    scores: dict[str, float] | None = None


class Entity(BaseModel):
    entity_group: str
    word: str
    start: int
    end: int
    score: float


class PredictResponse(BaseModel):
    task: str
    predictions: list[Prediction] | list[list[Entity]] = Field(
        description="One per input, in input order: a label and score, or a text's entities."
    )


class EmbedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"inputs": ["a sentence"]}]})
    inputs: str | list[str]
    pooling: Literal["mean", "cls", "max", "last"] = "mean"
    normalize: bool = False


class EmbedResponse(BaseModel):
    dim: int
    pooling: str
    embeddings: list[list[float]]


class ModelResponse(BaseModel):
    task: str
    labels: list[str]
    is_pair: bool
    max_length: int
    base_model: str | None
    created: str | None
    versions: dict[str, dict[str, str]] = Field(
        description="Versions that trained the model ('trained') and serve it ('serving')."
    )
    metrics: dict[str, Any] | None = None
    limits: dict[str, Any]


class ErrorBody(BaseModel):
    code: int
    type: str
    message: str
    details: list[Any] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
