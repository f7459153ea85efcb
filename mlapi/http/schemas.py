"""Typed request and response bodies (the reference's contract, kept in shape)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PredictRequest(BaseModel):
    text: list[str] = Field(
        ...,
        description="Texts to classify; empty strings are valid.",
        examples=[["I hate you.", "I love you."]],
    )


class LabelScore(BaseModel):
    label: str
    score: float


class PredictResponse(BaseModel):
    predictions: list[list[LabelScore]] = Field(
        ..., description="One list per input text: one entry per label in id2label order."
    )


class Health(BaseModel):
    status: str


class ModelCard(BaseModel):
    model: str = Field("default", description="The registry name.")
    kind: str = "text-classifier"
    version: str = "1"
    name: str
    backend: str = Field(..., description="The served variant, e.g. onnx-int8.")
    fingerprint: str
    labels: list[str]
    max_length: int
    selection: dict[str, Any] | None = Field(
        None, description="CPU flags and the start-up trial of every candidate variant."
    )


class ErrorDetail(BaseModel):
    type: str
    message: str
    limit: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
