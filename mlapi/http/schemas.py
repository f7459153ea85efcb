"""Typed request and response bodies (the reference's contract, kept in shape)."""

from __future__ import annotations

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


class ErrorDetail(BaseModel):
    type: str
    message: str
    limit: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
