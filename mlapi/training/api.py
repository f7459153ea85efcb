"""The train API (admin key): POST /train, GET /train, GET/DELETE /train/{id}."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.responses import Response

from mlapi.errors import BodyTooLarge, InvalidJob, NotReady
from mlapi.http.body import request_body
from mlapi.http.deps import ComponentsDep
from mlapi.http.schemas import ErrorBody
from mlapi.training.schemas import JobList, JobRecord, TrainRequest
from mlapi.training.service import JobService
from mlapi.validation import parse_json, problem

BODY_OVERHEAD = 64 * 1024  # the JSON around an inline dataset


async def get_jobs(request: Request, components: ComponentsDep) -> JobService:
    components.admin.check(request)
    jobs = getattr(request.app.state, "training", None)
    if not isinstance(jobs, JobService):
        raise NotReady("the training service is not started yet", headers={"Retry-After": "1"})
    return jobs


JobsDep = Annotated[JobService, Depends(get_jobs)]
router = APIRouter(prefix="/train", tags=["training"])
_errors: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (403, 404, 409, 413, 422, 503)
}
# Nested models (Hyperparameters) are referred to in the OpenAPI components, which hold them
# already through the JobRecord response model.
_train_schema = TrainRequest.model_json_schema(ref_template="#/components/schemas/{model}")
_train_schema.pop("$defs", None)
_train_body = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": _train_schema}}}
}


def parse_request(body: bytes) -> TrainRequest:
    payload = parse_json(body)
    try:
        return TrainRequest.model_validate(payload)
    except ValidationError as exc:
        raise InvalidJob("; ".join(problem(e, top="body") for e in exc.errors())) from None


@router.post(
    "",
    status_code=202,
    response_model=JobRecord,
    responses=_errors,
    openapi_extra=_train_body,
    summary="Start a training job (admin)",
)
async def train(request: Request, jobs: JobsDep) -> Response:
    """Queues a run of the trainer; poll the Location for its state and progress."""
    limit = jobs.settings.train_max_upload_bytes + BODY_OVERHEAD
    try:
        body = await request_body(request, limit)
    except BodyTooLarge as exc:
        raise BodyTooLarge(
            f"a job request is at most {limit} bytes (MLAPI_TRAIN_MAX_UPLOAD_BYTES + 64 KiB)",
            limit="train_max_upload_bytes",
            headers=exc.headers,
        ) from None
    record = await jobs.submit(parse_request(body))
    return Response(
        record.model_dump_json(),
        status_code=202,
        media_type="application/json",
        headers={"Location": f"/train/{record.id}"},
    )


@router.get("", response_model=JobList, responses=_errors, summary="Every training job (admin)")
async def list_jobs(jobs: JobsDep) -> JobList:
    return JobList(jobs=await jobs.list_jobs())


@router.get("/{job_id}", response_model=JobRecord, responses=_errors, summary="A job's state")
async def get_job(job_id: str, jobs: JobsDep) -> JobRecord:
    return await jobs.get(job_id)


@router.delete("/{job_id}", response_model=JobRecord, responses=_errors, summary="Cancel a job")
async def cancel_job(job_id: str, jobs: JobsDep) -> JobRecord:
    return await jobs.cancel(job_id)


@router.post(
    "/{job_id}/activate",
    response_model=JobRecord,
    responses=_errors,
    summary="Serve a succeeded job's model whatever its metrics (admin)",
)
async def activate_job(job_id: str, jobs: JobsDep) -> JobRecord:
    return await jobs.activate(job_id)
