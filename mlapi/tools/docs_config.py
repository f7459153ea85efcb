"""The reference pages of the docs, generated from the code.

`python -m mlapi.tools.docs_config` (or `make docs-config`) rewrites docs/configuration.md (from the
settings classes) and docs/reference/http.md (routes from the OpenAPI schema, error types from
the error classes); `--check` exits 1 when a page and the code disagree. `mlapi serve --help`
shows the same setting names, defaults and descriptions.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from mlapi.app.models_file import ModelsConfig
from mlapi.serving.version import ModelVersion
from mlapi.settings import GROUPS, Settings
from mlapi.settings.per_model import MODEL_SETTINGS

DOCS = Path(__file__).resolve().parents[2] / "docs"
# When each error type is answered (else the error class's docstring; a test fails if neither).
ERROR_WHEN = {
    "unauthorized": "MLAPI_API_KEYS is set and the request carries none of the keys",
    "forbidden": "an admin route without an admin key (MLAPI_ADMIN_KEYS)",
    "model_not_found": "no model of that name (or not that version)",
    "model_in_use": "unloading the default model",
    "model_load_failed": "a folder that could not be loaded or warmed (the old version serves on)",
    "job_not_found": "no training job of that id (finished jobs expire)",
    "job_finished": "cancelling a training job that has ended",
    "invalid_training_job": "a training job that cannot run as given; the message names the field",
    "invalid_json": "a body that is not UTF-8 JSON (Latin-1, UTF-16, lone surrogates)",
    "invalid_request": "not an object, a field missing or of the wrong type",
    "not_supported_by_model": "a route of a capability the model lacks (`/v1/embeddings` "
    "of a classifier)",
    "too_many_texts": "more than MLAPI_MAX_TEXTS texts in one request",
    "text_too_long": "a text over MLAPI_MAX_TEXT_CHARS characters",
    "body_too_large": "a body over MLAPI_MAX_BODY_BYTES (or a dataset over the upload limit)",
    "input_too_long": "`/embed` with `truncate: false` and a text over the model's maximum",
    "overloaded": "the batch queue is full; `Retry-After` says when to come back",
    "not_ready": "the model is not loaded yet",
    "model_error": "the model failed on a batch (only that batch's requests fail)",
    "input_crashed_model": "a text that killed the model's worker process twice; refused by hash",
    "internal_error": "a bug: logged with its traceback (and sent to Sentry when configured)",
}
GROUP_TITLES = {
    "ServingSettings": "Serving",
    "CacheSettings": "Cache",
    "TrainingSettings": "Training",
}
DYNAMIC_DEFAULTS = {
    "threads": "CPUs available (affinity mask, capped by the container's CPU limit)",
}


@dataclass(frozen=True)
class Row:
    """One setting as the docs and `--help` show it."""

    name: str
    env: str
    default: str
    per_model: bool
    description: str
    group: str


def default_text(name: str, field: FieldInfo) -> str:
    """How a default reads: `unset` for None, the value otherwise; factories are described."""
    if name in DYNAMIC_DEFAULTS:
        return DYNAMIC_DEFAULTS[name]
    if field.default_factory is not None:
        return "computed at start"
    value: Any = field.get_default()
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == "":
        return "empty"
    if hasattr(value, "get_secret_value"):
        return "unset" if not value.get_secret_value() else "(secret)"
    return str(value)


def settings_rows() -> list[Row]:
    rows = []
    prefix = str(Settings.model_config.get("env_prefix", ""))
    for name, field in Settings.model_fields.items():
        rows.append(
            Row(
                name=name,
                env=f"{prefix}{name}".upper(),
                default=default_text(name, field),
                per_model=name in MODEL_SETTINGS,
                description=" ".join((field.description or "").split()),
                group=next(g.__name__ for g in GROUPS if name in g.model_fields),
            )
        )
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _prose(text: str) -> str:
    """Text for a page: `<` and `>` outside code spans as entities, so that a placeholder such
    as <model_id> reaches the built site instead of being taken for an HTML tag."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):  # the even parts lie outside code spans
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _model_entry_rows() -> list[str]:
    lines = []
    for cls in (ModelsConfig, ModelVersion):
        for name, field in cls.model_fields.items():
            required = field.is_required()
            default = "required" if required else default_text(name, field)
            if name == "settings":
                default = "{}"
            if name == "models":
                continue
            meaning = _cell(_prose(field.description or ""))
            lines.append(f"| `{name}` | `{_cell(default)}` | {meaning} |")
    return lines


def render_configuration() -> str:
    rows = settings_rows()
    out = [
        "# Configuration",
        "",
        "<!-- Generated by `python -m mlapi.tools.docs_config` (`make docs-config`) from",
        "     mlapi/settings/; do not edit by hand. A test fails when they disagree. -->",
        "",
        "Every setting is an environment variable with the `MLAPI_` prefix (names are",
        "case-insensitive). `mlapi serve --help` lists the same settings as command-line",
        "options (`--max-batch-size 32` is `MLAPI_MAX_BATCH_SIZE=32`); an option given on",
        "the command line wins over the environment. A value that fails validation stops",
        "the service at start with a message naming the variable, and so does an `MLAPI_*`",
        "variable that is not a setting (`MLAPI_BACKEND is not a setting; did you mean",
        "MLAPI_VARIANT?`, exit code 2); the variables Kubernetes sets for the Services",
        "`mlapi` and `mlapi-redis` (`MLAPI_SERVICE_HOST`, `MLAPI_PORT=tcp://...`) are ignored.",
        "",
        f"There are {len(rows)} settings. The **per model** column marks those a model entry",
        "of the [models config](models.md#the-models-config) may override for itself, under",
        "`settings:`; the others belong to the whole process. They come in three groups",
        "(`mlapi/settings/`): serving, cache and training.",
    ]
    for group in GROUPS:
        out += [
            "",
            f"## {GROUP_TITLES[group.__name__]}",
            "",
            _prose(" ".join((group.__doc__ or "").split())),
            "",
            "| variable | default | per model | description |",
            "|---|---|---|---|",
        ]
        for row in rows:
            if row.group == group.__name__:
                out.append(
                    f"| `{row.env}` | `{_cell(row.default)}` | {'yes' if row.per_model else ''} "
                    f"| {_cell(_prose(row.description))} |"
                )
    out += [
        "",
        "## Models config entries",
        "",
        "The file named by `MLAPI_MODELS` (YAML) has a `default` (the model `/predict`",
        "serves; default: the first) and a list of `models`, each with these keys:",
        "",
        "| key | default | meaning |",
        "|---|---|---|",
        *_model_entry_rows(),
        "",
        "When `MLAPI_MODELS` is set, `MLAPI_MODEL_DIR` and `MLAPI_MODEL_ID` are not used:",
        "the file alone says what is served.",
        "",
    ]
    return "\n".join(out)


def error_classes() -> list[tuple[int, str, str]]:
    """(status, type, when) of every typed error, by status. `when` is the line of
    ERROR_WHEN, else the class's own docstring (empty if neither: a test fails)."""
    from mlapi.errors import MLAPIError

    found: dict[str, tuple[int, str, str]] = {}
    pending: list[type[MLAPIError]] = [MLAPIError]
    while pending:
        cls = pending.pop()
        doc = " ".join((cls.__dict__.get("__doc__") or "").split())
        when = ERROR_WHEN.get(cls.type) or doc
        found[cls.type] = (cls.status_code, cls.type, when)
        pending.extend(cls.__subclasses__())
    return sorted(found.values())


def render_http() -> str:
    from mlapi.app.factory import create_app

    # model_validate: the defaults only, whatever MLAPI_* variables this shell has.
    schema = create_app(Settings.model_validate({"docs": True})).openapi()
    out = [
        "# Routes and errors",
        "",
        "<!-- Generated by `python -m mlapi.tools.docs_config` (`make docs-config`) from the",
        "     OpenAPI schema and mlapi/errors.py; do not edit by hand. -->",
        "",
        "Every route of the service, as its OpenAPI schema describes it (a running service",
        "serves the schema at `/openapi.json` and Swagger UI at `/docs`). `/metrics` (Prometheus)",
        "is left out of the schema.",
        "",
        "| method | path | what it does |",
        "|---|---|---|",
    ]
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            summary = op.get("summary", "")
            first = (op.get("description") or "").strip().split("\n")[0]
            text = f"{summary}. {first}" if first and first != summary else summary
            out.append(f"| {method.upper()} | `{path}` | {_cell(_prose(text))} |")
    out += [
        "",
        "## Error types",
        "",
        'Errors of mlapi\'s own routes are `{"error": {"type": ..., "message": ..., "limit"?:',
        '...}}`; the Open Inference Protocol routes (`/v2/...`) answer `{"error": "..."}` as the',
        "protocol asks. Unknown paths are 404 `not_found`; a wrong method 405",
        "`method_not_allowed`.",
        "",
        "| status | type | when |",
        "|---|---|---|",
    ]
    for status, kind, when in error_classes():
        out.append(f"| {status} | `{kind}` | {_cell(_prose(when))} |")
    out.append("")
    return "\n".join(out)


PAGES = {"configuration.md": render_configuration, "reference/http.md": render_http}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlapi.tools.docs_config", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a page is stale")
    parser.add_argument("--docs", type=Path, default=DOCS, help="the docs folder")
    args = parser.parse_args(argv)
    stale = []
    for name, render in PAGES.items():
        page = args.docs / name
        text = render()
        if args.check:
            if not page.is_file() or page.read_text() != text:
                stale.append(str(page))
            continue
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(text)
        print(f"wrote {page}")
    if stale:
        print(
            f"out of date with the code: {', '.join(stale)}; run `make docs-config`",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
