"""Plays a rendered overlay on podman and exercises every public route through it.

    python scripts/kube_play.py dev|prod [--fail-closed] [--train] [--bench SECONDS] [--keep]

`kubectl kustomize` renders the overlay; `scripts/make-secrets.sh OVERLAY` makes its Secrets
(throwaway values), which become podman secrets. What a container runtime can run (the
Deployments, their ConfigMaps and PersistentVolumeClaims) is played with `podman kube play
--network host`, with the bundle's settings, user, read-only root and resource limits. Only
these change: the mlapi image becomes the one `make image-test` built, the Redis image a local
build tagged with the bundle's name (Debian's redis-server: no registry here), nothing is
pulled, each pod listens on a free loopback port (the Redis URL names that port on
127.0.0.1 where cluster DNS would give the Service), and a Secret volume becomes a ConfigMap
volume with the same files (podman 4.3 cannot play Secret volumes). Readiness is judged by
the Deployment's own startup and readiness probes, run from outside with their periods,
timeouts and thresholds.
Then one more pod of the mlapi Deployment is started (a scale-out, kubeplay/scaleout.py) and
timed from its container's start to ready; it must reuse the variant trial kept at build time
and pass its startup probe (reports/kube-play/new-pod-OVERLAY.json and .md).
The kinds podman cannot run (Service, HPA, NetworkPolicy, Istio, admission) are checked by
tests/k8s/.

--fail-closed: no API key Secret, an empty one, a bad ConfigMap value (kubeplay/failclosed.py).
--train: components/training's trainer Job and a serving pod on its claim (kubeplay/training.py).
--bench: load.js with k6 (10 VUs, 95% cache) against the played pod (kubeplay/bench.py).
Everything it starts it removes at the end (unless --keep).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from kubeplay.bench import bench
from kubeplay.failclosed import fail_closed
from kubeplay.play import ROOT, Play, log, make_secrets, secret_value
from kubeplay.routes import exercise
from kubeplay.scaleout import scale_out
from kubeplay.training import play_training


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "overlay", choices=sorted(p.name for p in (ROOT / ".k8s/overlays").iterdir())
    )
    parser.add_argument("--fail-closed", action="store_true", help="also play it without keys")
    parser.add_argument("--bench", type=int, default=0, metavar="SECONDS", help="k6 hold time")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "kube-play")
    parser.add_argument("--keep", action="store_true", help="leave the pods running")
    parser.add_argument(
        "--train", action="store_true", help="also play components/training's trainer Job"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kube-play-", dir="/var/tmp") as tmp:
        workdir = Path(tmp)
        (workdir / "empty-keys").mkdir()
        (workdir / "no-keys").mkdir()
        (workdir / "bad-setting").mkdir()
        (workdir / "train").mkdir()
        play = Play(args.overlay, workdir)
        try:
            secrets = make_secrets(args.overlay)
            names = {s["metadata"]["name"] for s in secrets}
            key = (
                secret_value(secrets, "mlapi-api-keys", "keys")
                if "mlapi-api-keys" in names
                else None
            )
            play.up(secrets)
            for deployment in ("mlapi-redis", "mlapi"):
                log(f"{deployment} ready after {play.wait_ready(deployment):.1f} s (its probes)")
            exercise(play, key)
            scale_out(play, key, args.out)
            if args.bench:
                bench(play, key, args.bench, args.out)
        finally:
            if not args.keep:
                play.close()
        if args.fail_closed:
            fail_closed(args.overlay, workdir)
        if args.train:
            play_training(workdir / "train")
    log(f"{args.overlay}: ok in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
