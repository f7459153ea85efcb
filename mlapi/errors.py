"""Domain errors: one base carrying a type and a status hint.

No HTTP here (a worker process imports this): `mlapi.http.errors` renders them.
"""

from __future__ import annotations


class MLAPIError(Exception):
    """An error that becomes `{"error": {"type", "message", "limit"?}}` with `status_code`."""

    status_code = 500
    type = "internal_error"

    def __init__(
        self, message: str, *, limit: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.limit = limit
        self.headers = headers or {}


class InvalidRequest(MLAPIError):
    status_code = 422
    type = "invalid_request"


class InvalidJSON(MLAPIError):
    status_code = 422
    type = "invalid_json"


class TooManyTexts(MLAPIError):
    status_code = 422
    type = "too_many_texts"


class TextTooLong(MLAPIError):
    status_code = 422
    type = "text_too_long"


class NotSupportedByModel(MLAPIError):
    """A protocol asked of a model that lacks its capability (`/v1/embeddings` of a classifier)."""

    status_code = 422
    type = "not_supported_by_model"


class Unauthorized(MLAPIError):
    status_code = 401
    type = "unauthorized"


class Forbidden(MLAPIError):
    status_code = 403
    type = "forbidden"


class DesiredStateUnavailable(MLAPIError):
    """The fleet's desired state (Redis) could not be written: nothing changes fleet-wide."""

    status_code = 503
    type = "desired_state_unavailable"


class WriteConflict(MLAPIError):
    """A shared record (desired state, training job) changed since this replica read it: another
    admin or replica wrote first, and nothing was overwritten. Read it again and retry."""

    status_code = 409
    type = "write_conflict"


class PathNotAllowed(MLAPIError):
    """A model folder outside MLAPI_MODEL_ROOTS."""

    status_code = 403
    type = "path_not_allowed"


class ModelNotFound(MLAPIError):
    status_code = 404
    type = "model_not_found"


class ModelInUse(MLAPIError):
    status_code = 409
    type = "model_in_use"


class ModelLoadFailed(MLAPIError):
    """A folder that could not be loaded or warmed; what was serving keeps serving."""

    status_code = 422
    type = "model_load_failed"


class JobNotFound(MLAPIError):
    status_code = 404
    type = "job_not_found"


class JobLost(MLAPIError):
    """A job id from before the job store lost its data (a Redis total loss): its record is gone."""

    status_code = 404
    type = "job_record_lost"


class InvalidJob(MLAPIError):
    """A training job that cannot run as given (bad options, missing files)."""

    status_code = 422
    type = "invalid_training_job"


class JobFinished(MLAPIError):
    status_code = 409
    type = "job_finished"


class BodyTooLarge(MLAPIError):
    status_code = 413
    type = "body_too_large"


class BodyTimeout(MLAPIError):
    """A request body that stalled past MLAPI_BODY_IDLE_TIMEOUT_S or was not complete within
    MLAPI_BODY_TIMEOUT_S (answered by the server protocol, which then closes the connection)."""

    status_code = 408
    type = "body_timeout"


class HeadersTooLarge(MLAPIError):
    """The request line and headers passed MLAPI_MAX_HEADER_BYTES (answered by the server
    protocol before the app sees the request)."""

    status_code = 431
    type = "headers_too_large"


class InputTooLong(MLAPIError):
    status_code = 413
    type = "input_too_long"


class Overloaded(MLAPIError):
    status_code = 503
    type = "overloaded"


class NotReady(MLAPIError):
    status_code = 503
    type = "not_ready"


class ModelFailure(MLAPIError):
    status_code = 500
    type = "model_error"


class InputCrashedModel(MLAPIError):
    """A text that killed the model's worker process (twice); refused, remembered by hash."""

    status_code = 422
    type = "input_crashed_model"


class ModelUnavailable(RuntimeError):
    """The model folder is missing and could not be fetched; the message says what to do."""
