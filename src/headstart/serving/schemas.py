"""Request and response bodies of the HTTP API (they are also its OpenAPI documentation)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model


def predict_schemas(input_type: Any, prediction_type: Any) -> tuple[type[BaseModel], type[BaseModel]]:
    """The request and response bodies of ``POST /v1/predict`` for a task's input and prediction types."""
    request = create_model(
        "PredictRequest",
        __config__=ConfigDict(
            extra="forbid",
            json_schema_extra={"examples": [{"inputs": ["a gorgeous, witty film", "a tedious mess"]}]},
        ),
        inputs=(
            input_type | list[input_type],
            Field(description='Texts; for a pair model ["first", "second"] pairs or {"text", "text_pair"} objects.'),
        ),
        all_scores=(bool, Field(False, description="Classification: every label's score, not only the best.")),
    )
    response = create_model(
        "PredictResponse",
        task=(str, ...),
        predictions=(list[prediction_type], Field(description="One per input, in input order.")),
    )
    return request, response


def generate_schema(input_type: Any, max_new_tokens: int) -> type[BaseModel]:
    """The request body of ``POST /v1/generate`` (models that write: the task's serving spec streams)."""
    return create_model(
        "GenerateRequest",
        __config__=ConfigDict(
            extra="forbid", json_schema_extra={"examples": [{"inputs": "name[Aromi], eatType[pub]"}]}
        ),
        inputs=(input_type, Field(description="One input to write for.")),
        stream=(bool, Field(True, description="Send the text as it is written, as server-sent events.")),
        max_new_tokens=(
            int | None,
            Field(None, ge=1, le=max_new_tokens, description="Fewer tokens than the model's own setting."),
        ),
    )


class GenerateResponse(BaseModel):
    task: str
    generated_text: str


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
    model_config = ConfigDict(extra="allow")  # the task's own facts (Task.serving().facts) come along
    task: str
    labels: list[str]
    is_pair: bool = False
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
