"""Every Prometheus series of the service: HTTP requests (counted by
`mlapi.http.middleware.metrics`), the model path, training jobs."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info, Summary
from prometheus_client.metrics import MetricWrapperBase

# Fine buckets: cached answers take well under a millisecond, cold batches up to seconds.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 24, 32, 48, 64, 128, 256)

# HTTP: the names and labels that dashboards and alerts for this kind of service read (those of
# prometheus-fastapi-instrumentator). `handler` is the route template (`/models/{name}/predict`),
# `none` for paths no route matches.
HTTP_TOTAL = Counter(
    "http_requests_total",
    "Total number of requests by method, status and handler.",
    ["method", "status", "handler"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Latency with only few buckets by handler.",
    ["handler", "method"],
    buckets=LATENCY_BUCKETS,
)
HTTP_DURATION_HIGHR = Histogram(
    "http_request_duration_highr_seconds",
    "Latency with many buckets but no API specific labels.",
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUEST_SIZE = Summary(
    "http_request_size_bytes", "Content length of incoming requests by handler.", ["handler"]
)
HTTP_RESPONSE_SIZE = Summary(
    "http_response_size_bytes", "Content length of outgoing responses by handler.", ["handler"]
)

# Every model-path series carries `model`: the registry name of the model it belongs to.
M = ["model"]
QUEUE_DEPTH = Gauge("mlapi_queue_depth", "Texts waiting for the model.", M)
QUEUE_WAIT = Histogram(
    "mlapi_queue_wait_seconds",
    "Time a text waited in the batch queue.",
    M,
    buckets=LATENCY_BUCKETS,
)
BATCH_QUEUE_WAIT = Histogram(
    "mlapi_batch_queue_wait_seconds",
    "Time the oldest text of each batch waited in the queue: one observation per batch.",
    M,
    buckets=LATENCY_BUCKETS,
)
INFERENCE = Histogram(
    "mlapi_inference_seconds", "Wall time of one batch on the model.", M, buckets=LATENCY_BUCKETS
)
BATCH_SIZE = Histogram(
    "mlapi_batch_size", "Distinct texts per forward batch.", M, buckets=BATCH_BUCKETS
)
CACHE_HITS = Counter("mlapi_cache_hits", "Texts answered from a cache tier.", ["model", "tier"])
CACHE_MISSES = Counter("mlapi_cache_misses", "Texts a cache tier did not have.", ["model", "tier"])
REDIS_ERRORS = Counter("mlapi_redis_errors", "Failed or timed-out Redis calls.", ["op"])
VERSION_SKEW = Gauge(
    "mlapi_model_version_skew",
    "1 while this replica does not serve the desired version (or canary) of a model.",
    M,
)
REDIS_REJECTED = Counter(
    "mlapi_redis_records_rejected",
    "Values read from Redis and ignored: a cached answer of the wrong shape, or a shared record "
    "that fails the signature check.",
    ["what"],
)
REDIS_STALE = Counter(
    "mlapi_redis_records_stale",
    "Validly signed shared records ignored because this replica has applied a newer generation "
    "(a replay), or because their state would move backward.",
    ["what"],
)
REDIS_UNREADABLE = Counter(
    "mlapi_redis_records_unreadable",
    "Shared records skipped because their name, JSON or Redis type cannot be read.",
    ["what"],
)
DESIRED_MISSING = Gauge(
    "mlapi_desired_state_missing",
    "1 while Redis lacks (or holds an older generation of) the desired state of a model this "
    "replica applied, and this replica cannot write it back.",
    M,
)
DESIRED_REPUBLISHED = Counter(
    "mlapi_desired_republished",
    "Desired-state records this replica wrote back after Redis lost them.",
    M,
)
OVERLOADS = Counter("mlapi_overload_rejections", "Requests refused because the queue was full.", M)
MODEL_ERRORS = Counter("mlapi_model_errors", "Batches that failed in the model.", M)
MODEL_INFO = Info("mlapi_model", "The version each model name serves.", M)
MODEL_SWAPS = Counter(
    "mlapi_model_loads", "Model loads through the registry, by outcome.", ["model", "outcome"]
)
WORKER_RESTARTS = Counter(
    "mlapi_worker_restarts", "Model worker processes restarted after they died.", M
)
WORKERS_ALIVE = Gauge("mlapi_workers_alive", "Model worker processes ready to take a batch.", M)
CRASHED_INPUTS = Counter(
    "mlapi_inputs_crashed_model",
    "Texts refused because they kill the model's worker: isolated here, or refused from the "
    "shared list.",
    ["model", "outcome"],
)
READY = Gauge("mlapi_ready", "1 when /ready answers 200.")
# The saturation signal an autoscaler reads per pod (docs/deploy/autoscaling.md).
INFLIGHT = Gauge(
    "mlapi_inflight_requests", "API requests in flight (probes and scrapes not counted)."
)

# Training jobs (POST /train).
TRAIN_BUCKETS = (10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 21600, 43200)
TRAIN_JOBS = Gauge("mlapi_train_jobs", "Training job records in the store, by state.", ["state"])
TRAIN_FINISHED = Counter(
    "mlapi_train_jobs_finished", "Training jobs this replica saw end, by state.", ["state"]
)
TRAIN_SECONDS = Histogram(
    "mlapi_train_job_seconds",
    "Wall time of a training job from its start to its end, by final state.",
    ["state"],
    buckets=TRAIN_BUCKETS,
)


def forget_model(name: str) -> None:
    """Removes every series labelled `model=name` (the model was unloaded): a model that is
    gone leaves no queue depth, cache counters, info or worker gauges behind."""
    for metric in list(globals().values()):
        if not isinstance(metric, MetricWrapperBase):
            continue
        labelnames: tuple[str, ...] = tuple(getattr(metric, "_labelnames", ()))
        if "model" not in labelnames:
            continue
        stale = {
            tuple(sample.labels[label] for label in labelnames)
            for family in metric.collect()
            for sample in family.samples
            if sample.labels.get("model") == name
        }
        for values in stale:
            metric.remove(*values)
