"""Every PromQL expression of the mlapi dashboard, apart from the panels that show them.

`SEL` is the one selector of the service's series; `$namespace` and `$__rate_interval` are
Grafana variables. K8S_ONLY names the queries that need kube-state-metrics or cAdvisor.
"""

from __future__ import annotations

SEL = 'namespace="$namespace"'
PREDICT = f'{SEL}, handler="/predict"'
W = "$__rate_interval"


def _quantile(q: float, metric: str, selector: str = SEL) -> str:
    return f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{{{selector}}}[{W}])))"


QUERIES: dict[str, str] = {
    "rps_by_status": f"sum by (status) (rate(http_requests_total{{{PREDICT}}}[{W}]))",
    "rps_all": f"sum(rate(http_requests_total{{{SEL}}}[{W}]))",
    "latency_p50": _quantile(0.5, "http_request_duration_seconds", PREDICT),
    "latency_p95": _quantile(0.95, "http_request_duration_seconds", PREDICT),
    "latency_p99": _quantile(0.99, "http_request_duration_seconds", PREDICT),
    "error_ratio": (  # `or ... * 0`: a 0 instead of no data while nothing failed
        f'(sum(rate(http_requests_total{{{SEL}, status=~"5.."}}[{W}]))'
        f" or sum(rate(http_requests_total{{{SEL}}}[{W}])) * 0)"
        f" / sum(rate(http_requests_total{{{SEL}}}[{W}]))"
    ),
    "cache_hit_ratio": (
        f"sum by (model, tier) (rate(mlapi_cache_hits_total{{{SEL}}}[{W}]))"
        f" / (sum by (model, tier) (rate(mlapi_cache_hits_total{{{SEL}}}[{W}]))"
        f" + sum by (model, tier) (rate(mlapi_cache_misses_total{{{SEL}}}[{W}])))"
    ),
    "batches_by_model": f"sum by (model) (rate(mlapi_batch_size_count{{{SEL}}}[{W}]))",
    "model_loads": (f"sum by (model, outcome) (increase(mlapi_model_loads_total{{{SEL}}}[{W}]))"),
    "worker_restarts": (
        f"sum by (model, pod) (increase(mlapi_worker_restarts_total{{{SEL}}}[{W}]))"
    ),
    "workers_alive": f"sum by (model) (mlapi_workers_alive{{{SEL}}})",
    "crashed_inputs": (
        f"sum by (model, outcome) (increase(mlapi_inputs_crashed_model_total{{{SEL}}}[{W}]))"
    ),
    "train_jobs": f"max by (state) (mlapi_train_jobs{{{SEL}}})",
    "train_finished": (f"sum by (state) (increase(mlapi_train_jobs_finished_total{{{SEL}}}[{W}]))"),
    "batch_size_avg": (
        f"sum(rate(mlapi_batch_size_sum{{{SEL}}}[{W}]))"
        f" / sum(rate(mlapi_batch_size_count{{{SEL}}}[{W}]))"
    ),
    "batch_size_p95": _quantile(0.95, "mlapi_batch_size"),
    "queue_depth": f"sum by (pod) (mlapi_queue_depth{{{SEL}}})",
    "queue_wait_p95": _quantile(0.95, "mlapi_queue_wait_seconds"),
    "batch_queue_wait_p95": _quantile(0.95, "mlapi_batch_queue_wait_seconds"),
    # The saturation signal the autoscaling components scale on (docs/deploy/autoscaling.md).
    "inflight_per_pod": f"sum by (pod) (mlapi_inflight_requests{{{SEL}}})",
    "inference_p95": _quantile(0.95, "mlapi_inference_seconds"),
    "overloads": f"sum(rate(mlapi_overload_rejections_total{{{SEL}}}[{W}]))",
    "redis_errors": f"sum by (op) (rate(mlapi_redis_errors_total{{{SEL}}}[{W}]))",
    "slo_latency_sli": f"mlapi:sli_latency:ratio_rate5m{{{SEL}}}",
    "slo_error_sli": f"mlapi:sli_errors:ratio_rate5m{{{SEL}}}",
    "ready_pods": f"sum(mlapi_ready{{{SEL}}})",
    "cpu_per_pod": f"sum by (pod) (rate(process_cpu_seconds_total{{{SEL}}}[{W}]))",
    "memory_per_pod": f"sum by (pod) (process_resident_memory_bytes{{{SEL}}})",
    "hpa_current": (
        f"kube_horizontalpodautoscaler_status_current_replicas{{{SEL}, "
        f'horizontalpodautoscaler="mlapi"}}'
    ),
    "hpa_desired": (
        f"kube_horizontalpodautoscaler_status_desired_replicas{{{SEL}, "
        f'horizontalpodautoscaler="mlapi"}}'
    ),
    "hpa_max": (
        f'kube_horizontalpodautoscaler_spec_max_replicas{{{SEL}, horizontalpodautoscaler="mlapi"}}'
    ),
    "cpu_vs_request": (
        f'sum by (pod) (rate(container_cpu_usage_seconds_total{{{SEL}, container="mlapi"}}[{W}]))'
        f' / sum by (pod) (kube_pod_container_resource_requests{{{SEL}, container="mlapi", '
        f'resource="cpu"}})'
    ),
}

K8S_ONLY = frozenset({"hpa_current", "hpa_desired", "hpa_max", "cpu_vs_request"})
