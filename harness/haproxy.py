"""A real HAProxy in front of mlapi replicas: the stand-in for the Kubernetes Service + Istio.

Like the VirtualService's retry policy (.k8s/overlays/prod), it retries a request on another
replica when the connection fails, the response is empty (a replica killed mid-request) or a
503 comes back (a replica draining or overloaded); health checks on /ready take a draining
replica out, as the readiness probe does. Like Envoy, it holds a request's whole body before
sending it on (HAProxy retries only requests it received in full), and each request gets a
fresh connection to its replica: a request HAProxy cannot retry on a reused connection that
died ends with the client's connection closed, no status, which k6 counts as a failure.
"""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

from harness.servers import find_binary, free_port, wait_for_port

CONFIG = """\
global
    maxconn 4096
    log stdout format raw local0 info
defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch 1
    option http-buffer-request
    option http-server-close
    retry-on conn-failure empty-response response-timeout junk-response 503
frontend mlapi
    bind 127.0.0.1:{port}
    default_backend replicas
frontend stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /stats
backend replicas
    balance leastconn
    option httpchk GET /ready
    http-check expect status 200
    default-server inter 300ms fall 1 rise 2
{servers}
"""


class HAProxy:
    def __init__(self, backends: list[int], workdir: Path) -> None:
        self.port = free_port()
        self.stats_port = free_port()
        servers = "\n".join(
            f"    server r{i} 127.0.0.1:{port} check" for i, port in enumerate(backends)
        )
        self.config = workdir / "haproxy.cfg"
        self.config.write_text(
            CONFIG.format(port=self.port, stats_port=self.stats_port, servers=servers)
        )
        self.log = workdir / "haproxy.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = find_binary("haproxy")
        subprocess.run([binary, "-c", "-q", "-f", str(self.config)], check=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [binary, "-db", "-f", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_for_port(self.port)

    def backend_stats(self) -> dict[str, int]:
        """The backend's counters: requests retried on the same replica (`retries`) or on
        another (`redispatches`), connection and response errors, as HAProxy counts them."""
        import httpx

        text = httpx.get(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=5).text
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        backend = next(r for r in rows if r["svname"] == "BACKEND")
        names = {"wretr": "retries", "wredis": "redispatches", "econ": "connection_errors"}
        names["eresp"] = "response_errors"
        return {label: int(backend[key] or 0) for key, label in names.items()}

    def errors(self) -> list[str]:
        """HAProxy's log: requests that did not end normally (retried ones included), and its
        alerts (a server going DOWN or UP)."""
        return self.log.read_text(errors="replace").splitlines() if self.log.exists() else []

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
