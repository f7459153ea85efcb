"""`python -m harness.probe_timer PORT SECONDS`: probes as the kubelet makes them (a new
connection each, `Connection: close`) every 20 ms, cycling through the probe routes; prints
a JSON list of [seconds, status] pairs. Run in its own process, so that a test's other threads
do not delay the timing."""

from __future__ import annotations

import json
import socket
import sys
import time

PATHS = ("/health", "/ready", "/v2/health/live", "/v2/health/ready")


def probe(port: int, path: str) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def main(port: int, seconds: float) -> list[tuple[float, int]]:
    timed: list[tuple[float, int]] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        try:
            status = probe(port, PATHS[len(timed) % len(PATHS)])
        except OSError:
            status = 0
        timed.append((time.perf_counter() - started, status))
        time.sleep(0.02)
    return timed


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), float(sys.argv[2]))))
