"""Start-up checks that run before any model loads, each failing with one line that says
what to change: the MLAPI_* variables, the port, the model folders, Redis."""

from __future__ import annotations

import difflib
import errno
import logging
import re
import socket
from collections.abc import Mapping, Sequence

from mlapi.serving.version import ModelVersion
from mlapi.settings import Settings

logger = logging.getLogger("mlapi.server")


class StartupError(RuntimeError):
    """The service cannot start as configured; the message names the setting to change."""


# Names people set that were settings once, or are in other servers: what to set instead.
RENAMED = {
    "MLAPI_BACKEND": "MLAPI_VARIANT",
    "MLAPI_RUNTIME": "MLAPI_VARIANT",
    "MLAPI_MODEL_PATH": "MLAPI_MODEL_DIR",
    "MLAPI_BATCH_SIZE": "MLAPI_MAX_BATCH_SIZE",
}
# Kubernetes sets these for every Service whose name starts with `mlapi` (the Services
# `mlapi` and `mlapi-redis`: MLAPI_SERVICE_HOST, MLAPI_REDIS_PORT_6379_TCP_ADDR, ...).
_SERVICE_LINK = re.compile(
    r"MLAPI(?:_[A-Z0-9_]+?)?_(?:SERVICE_HOST|SERVICE_PORT(?:_[A-Z0-9_]+)?"
    r"|PORT_\d+_(?:TCP|UDP|SCTP)(?:_PROTO|_PORT|_ADDR)?)"
)
_LINK_VALUE = re.compile(r"(?:tcp|udp|sctp)://")


def service_links(environ: Mapping[str, str]) -> list[str]:
    """The MLAPI_* variables that Kubernetes service links set, not the operator: the
    Service's address, and `MLAPI_PORT=tcp://10.0.0.1:8000` (not a port number)."""
    return [
        name
        for name, value in environ.items()
        if name.startswith("MLAPI_")
        and (
            _SERVICE_LINK.fullmatch(name)
            or (name.endswith("_PORT") and _LINK_VALUE.match(value) is not None)
        )
    ]


def check_environment(environ: Mapping[str, str]) -> None:
    """Every MLAPI_* variable is a setting: a misspelt or renamed one stops the start with
    one line and a suggestion, rather than being ignored."""
    prefix = str(Settings.model_config.get("env_prefix", "MLAPI_")).upper()
    known = [name.upper() for name in Settings.model_fields]
    links = set(service_links(environ))
    problems = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(prefix) or upper.removeprefix(prefix) in known or name in links:
            continue
        close = difflib.get_close_matches(upper.removeprefix(prefix), known, n=1, cutoff=0.6)
        guess = RENAMED.get(upper) or (prefix + close[0] if close else None)
        hint = f"did you mean {guess}?" if guess else "docs/configuration.md lists the settings"
        problems.append(f"{name} is not a setting; {hint}")
    if problems:
        raise StartupError("; ".join(problems))


def bind(host: str, port: int, *, setting: str = "MLAPI_PORT") -> socket.socket:
    """The listening socket, bound before anything slow so a busy port fails at once;
    `setting` is the one that names the port."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"MLAPI_HOST={host} is not an address to listen on ({exc})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"port {port} is in use: set {setting}") from None
        if exc.errno == errno.EACCES:
            raise StartupError(
                f"port {port} needs privileges: set {setting} to 1024 or above"
            ) from None
        raise StartupError(
            f"cannot listen on {host}:{port} ({exc.strerror}): set MLAPI_HOST or {setting}"
        ) from None
    sock.set_inheritable(True)
    return sock


def warn_ignored(settings: Settings) -> None:
    """MLAPI_MODELS names the models: a model folder or id set beside it is not used."""
    if settings.models is None:
        return
    ignored = [f"MLAPI_MODEL_DIR={settings.model_dir}"] if settings.model_dir else []
    if "model_id" in settings.model_fields_set:
        ignored.append(f"MLAPI_MODEL_ID={settings.model_id}")
    if ignored:
        logger.warning(
            "MLAPI_MODELS=%s names the models to serve: %s not used",
            settings.models,
            " and ".join(ignored) + (" are" if len(ignored) > 1 else " is"),
        )


def _where(spec: ModelVersion, settings: Settings) -> str:
    if settings.models is None:
        return f"MLAPI_MODEL_DIR={spec.path}"
    return f"model {spec.name!r} ({spec.path}, in MLAPI_MODELS={settings.models})"


def check_models(specs: Sequence[ModelVersion], settings: Settings) -> None:
    """Every text classifier's folder holds weights some variant can serve."""
    from mlapi.runtime.base import WEIGHT_FILES
    from mlapi.runtime.variants import AUTO_CANDIDATES, VARIANTS

    for spec in specs:
        if spec.kind != "text-classifier":
            continue
        if not spec.path.is_dir():
            raise StartupError(f"{_where(spec, settings)} does not exist")
        if not (spec.path / "config.json").is_file():
            raise StartupError(
                f"{_where(spec, settings)} has no config.json: point it at a folder written "
                "by save_pretrained"
            )
        variant = str(spec.effective_settings(settings).variant)
        names = [*AUTO_CANDIDATES, "torch-fp32"] if variant == "auto" else [variant]
        reasons = {name: VARIANTS[name].missing(spec.path) for name in names}
        if any(reason is None for reason in reasons.values()):
            continue
        has_weights = any((spec.path / name).is_file() for name in WEIGHT_FILES) or any(
            (spec.path / "onnx").glob("*.onnx")
        )
        if not has_weights:
            raise StartupError(
                f"{_where(spec, settings)} has config.json but no weights (model.safetensors, "
                "pytorch_model.bin or onnx/model.onnx): copy the whole folder written by "
                "save_pretrained"
            )
        detail = "; ".join(f"{name}: {reason}" for name, reason in reasons.items())
        raise StartupError(f"{_where(spec, settings)}: no variant can run ({detail})")


def check_redis(settings: Settings) -> bool:
    """Whether Redis answers; if not, one WARNING, and the service starts without it."""
    if not settings.redis_url:
        return True
    from redis.exceptions import RedisError

    from mlapi.shared.redis import open_sync

    timeout = max(settings.redis_timeout_ms / 1000, 1.0)
    client = open_sync(settings.redis_url, password=settings.redis_password, timeout_s=timeout)
    try:
        client.ping()
        return True
    except (RedisError, OSError) as exc:
        logger.warning(
            "Redis at MLAPI_REDIS_URL=%s does not answer (%s: %s): serving from the "
            "in-process cache; Redis is tried again every MLAPI_REDIS_RETRY_S=%gs",
            _safe_url(settings.redis_url),
            type(exc).__name__,
            exc,
            settings.redis_retry_s,
        )
        return False
    finally:
        client.close()


def _safe_url(url: str) -> str:
    """The URL without a password in it."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
