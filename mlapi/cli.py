"""The `mlapi` command: serve, export, train and bench.

Exit codes: 0 on success, 2 for usage errors (unknown options, settings that fail validation),
1 for runtime errors (a busy port, a model folder that cannot be served, a failed export).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import typing
from collections.abc import Callable, Sequence
from typing import Any

from mlapi import __version__

Command = Callable[[list[str]], int]
SUMMARY = {
    "serve": "serve the models over HTTP (the settings come from MLAPI_* variables or options)",
    "export": "write the ONNX variants and the calibration set of a model folder",
    "train": "fine-tune a text classifier (`train text`) or fit a tabular one (`train tabular`)",
    "bench": "the benchmark against the reference service (from a source checkout)",
}


class DefaultsFormatter(argparse.RawDescriptionHelpFormatter):
    """Appends `[default: X]` to options that have a default worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "[default:" not in text
            and "%(default)" not in text
            and default not in (None, False, argparse.SUPPRESS)
            and action.option_strings
        ):
            text += " [default: %(default)s]"
        return text


def _with_defaults(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """argparse shows no help line at all for an option without help: give those one."""
    for action in parser._actions:
        if action.help is None and action.default not in (None, False, argparse.SUPPRESS):
            action.help = "[default: %(default)s]"
    return parser


class UsageError(Exception):
    """A bad value: printed as `mlapi <command>: error: ...`, exit code 2."""


def _progress_bars() -> None:
    """Progress bars on a terminal only: in a log file or a pod's log they are noise."""
    if not sys.stderr.isatty():
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TQDM_DISABLE", "1")


# ---------------------------------------------------------------------------- serve


def _metavar(name: str) -> str:
    """`{a,b}` for a choice, `true|false` for a switch, else the setting's name."""
    from mlapi.settings import Settings

    annotation = Settings.model_fields[name].annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if annotation is bool or args == [bool]:
        return "true|false"
    if typing.get_origin(annotation) is typing.Literal:
        return "{" + ",".join(str(a) for a in args) + "}"
    return name.upper()


def serve_parser() -> argparse.ArgumentParser:
    from mlapi.tools.docs_config import settings_rows

    parser = argparse.ArgumentParser(
        prog="mlapi serve",
        usage="mlapi serve [--OPTION VALUE ...]",
        description="Serve the models over HTTP. Every option is also an environment variable "
        "(shown as [env: ...]); an option given here wins. The full reference: "
        "docs/configuration.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for row in settings_rows():
        flag = "--" + row.name.replace("_", "-")
        note = f" [env: {row.env}] [default: {row.default}]"
        if row.per_model:
            note += " [per model]"
        parser.add_argument(
            flag,
            dest=row.name,
            metavar=_metavar(row.name),
            default=argparse.SUPPRESS,
            help=(row.description + note).replace("%", "%%"),
        )
    return parser


def _settings(overrides: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    from mlapi.settings import Settings
    from mlapi.validation import location

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = location(error)
            where = (
                f"--{field.replace('_', '-')}"
                if field in overrides
                else f"MLAPI_{field.upper()}"
                if field
                else "settings"
            )
            problems.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
        raise UsageError("; ".join(problems)) from None


def serve(argv: list[str]) -> int:
    from mlapi.app.preflight import StartupError, check_environment, service_links

    parser = serve_parser()
    args = parser.parse_args(argv)
    for name in service_links(os.environ):  # Kubernetes' addresses of Services, not settings
        del os.environ[name]
    try:
        check_environment(os.environ)
        settings = _settings(vars(args))
    except UsageError as exc:
        if str(exc).startswith("--"):  # an option: argparse's usage line, then the error
            parser.error(str(exc))
        return _environment_error(str(exc))
    except StartupError as exc:
        return _environment_error(str(exc))
    _progress_bars()
    from mlapi.workers import early

    early.start_early(settings)  # their imports overlap the server's boot
    try:
        from mlapi.app.server import run

        run(settings)
    except StartupError:  # already logged, as one line
        return 1
    finally:
        early.stop_unused()
    return 0


def _environment_error(message: str) -> int:
    """A bad MLAPI_* variable: one line (no usage: no option was wrong), exit code 2."""
    print(f"mlapi serve: error: {message}", file=sys.stderr)
    return 2


# --------------------------------------------------------------------- export, train


def _needs(extra: str, exc: ImportError) -> int:
    print(
        f"mlapi: {exc.name or exc} is not installed: .venv/bin/pip install -e '.[{extra}]' "
        "in the source checkout (or `make install`: every extra)",
        file=sys.stderr,
    )
    return 1


def export(argv: list[str]) -> int:
    from mlapi.tools import export as exporter

    parser = _with_defaults(exporter.build_parser("mlapi export", DefaultsFormatter))
    parser.parse_args(argv)  # usage errors exit 2 before anything heavy
    _progress_bars()
    try:
        return exporter.main(argv, parser)
    except ImportError as exc:
        return _needs("export", exc)


def train(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mlapi train",
        description="Train a model folder that mlapi serves as is.\n\n"
        "  mlapi train text --help      fine-tune a text classifier (needs the train extra)\n"
        "  mlapi train tabular --help   fit the breast-cancer tabular model (tabular extra)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", choices=["text", "tabular"], help="what to train")
    if not argv or argv[0] not in ("text", "tabular"):
        parser.parse_args(argv[:1])  # --help, or a usage error (exit 2)
        return 2  # pragma: no cover - parse_args exits
    kind, rest = argv[0], argv[1:]
    _progress_bars()
    if kind == "text":
        from trainer import cli as text

        text_parser = _with_defaults(text.build_parser("mlapi train text", DefaultsFormatter))
        text_parser.parse_args(rest)
        try:  # the trainer's own status 2 is a failed run here (bad data), not bad usage
            return 1 if text.main(rest, text_parser) else 0
        except ImportError as exc:
            return _needs("train", exc)
    from trainer import tabular

    tab_parser = _with_defaults(tabular.build_parser("mlapi train tabular", DefaultsFormatter))
    tab_parser.parse_args(rest)
    try:
        return tabular.main(rest, tab_parser)
    except ImportError as exc:
        return _needs("tabular", exc)


def bench(argv: list[str]) -> int:
    if importlib.util.find_spec("bench") is None:
        print(
            "mlapi bench: the benchmark lives in the source checkout (bench/): run it from "
            "there (`make bench`)",
            file=sys.stderr,
        )
        return 1
    from bench.__main__ import main as bench_main

    return bench_main(argv, prog="mlapi bench")


COMMANDS: dict[str, Command] = {"serve": serve, "export": export, "train": train, "bench": bench}


# ----------------------------------------------------------------------------- main


def top_parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {name:<8}{text}" for name, text in SUMMARY.items())
    parser = argparse.ArgumentParser(
        prog="mlapi",
        description=f"mlapi {__version__}: a Kubernetes-native inference service.\n\n"
        f"commands:\n{lines}\n\n`mlapi COMMAND --help` lists a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="mlapi [--version] COMMAND [OPTIONS]",
    )
    parser.add_argument("--version", action="version", version=f"mlapi {__version__}")
    parser.add_argument("command", nargs="?", choices=list(COMMANDS), help=argparse.SUPPRESS)
    return parser


def _run(name: str, argv: list[str]) -> int:
    """A command's exit code; an unexpected failure is one line (its traceback at DEBUG)."""
    try:
        return COMMANDS[name](argv)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("MLAPI_LOG_LEVEL", "").upper() == "DEBUG":
            raise
        print(f"mlapi {name}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("(MLAPI_LOG_LEVEL=DEBUG shows the traceback)", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None, *, default: str | None = None) -> int:
    """Run one command; `default` is the command of a bare invocation (`python -m mlapi`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in COMMANDS:
        return _run(args[0], args[1:])
    if not args and default is not None:
        return _run(default, [])
    parser = top_parser()
    parser.parse_args(args[:1])  # --help / --version exit 0; an unknown command exits 2
    parser.print_usage(sys.stderr)
    print("mlapi: error: a command is required", file=sys.stderr)
    return 2


def entry() -> None:
    """The `mlapi` console script."""
    sys.exit(main())
