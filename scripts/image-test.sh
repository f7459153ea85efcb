#!/usr/bin/env bash
# Builds the image for real with podman (chroot isolation, a locally built base, a local model
# folder) and runs it: /ready, /predict and /metrics from outside, non-root, read-only root,
# clean exit on SIGTERM.   scripts/image-test.sh [MODEL_DIR]   (default: a tiny test model)
set -euo pipefail
cd "$(dirname "$0")/.."
base=localhost/mlapi-base:bookworm
tag=localhost/mlapi:image-test
name=mlapi-image-test
port=${PORT:-18080}
work=$(mktemp -d /var/tmp/mlapi-image-test.XXXXXX)
cleanup() { podman rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

model=${1:-}
if [ -z "$model" ]; then
  model=$work/model
  python3 -c "import sys; from pathlib import Path; from mlapi.tools.synthetic import tiny_distilbert; \
from mlapi.tools.export import export; export(tiny_distilbert(Path(sys.argv[1])))" "$model"
fi

bash scripts/build-base-image.sh "$base"
# This machine reaches PyPI through its own pip configuration (CA bundle, local wheels): lend
# it to the build's RUN steps without baking it into any layer. With a local wheel folder (the
# CPU torch wheel), PyPI stands in for the torch index, which this machine cannot reach.
volumes=()
for path in /etc/pip.conf /etc/ssl/certs/ca-certificates.crt /opt/wheels; do
  [ -e "$path" ] && volumes+=(-v "$path:$path:ro")
done
start=$(date +%s)
podman build --isolation chroot "${volumes[@]}" \
  --build-arg BASE_IMAGE="$base" --build-arg MODEL_SOURCE=local \
  --build-arg WITH_KUBERNETES="${WITH_KUBERNETES:-true}" \
  $( [ -d /opt/wheels ] && echo --build-arg PIP_FIND_LINKS=/opt/wheels \
      --build-arg TORCH_INDEX=https://pypi.org/simple ) \
  --build-context local-model="$model" -t "$tag" .
echo "build: $(( $(date +%s) - start )) s; size: $(podman image inspect "$tag" --format '{{.Size}}') bytes"

# The bundle's MLAPI_THREADS and MLAPI_WORKERS: the trial the build kept for them is reused.
started=$(date +%s%N)
podman --runtime runc run -d --name "$name" --network host --read-only --tmpfs /tmp \
  --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 \
  -e MLAPI_THREADS=2 -e MLAPI_WORKERS=1 \
  -e MLAPI_PORT="$port" -e MLAPI_HOST=127.0.0.1 "$tag" >/dev/null
url=http://127.0.0.1:$port
for _ in $(seq 1 600); do
  curl -sf "$url/ready" >/dev/null && break
  sleep 0.1
done
curl -sf "$url/ready"; echo
echo "ready: $(( ($(date +%s%N) - started) / 1000000 )) ms after podman run"
selection=$(curl -sf "$url/model")
python3 -c "import json, sys; s = json.loads(sys.argv[1])['selection']; \
assert s['reused'] and s['baked'], f'the trial kept at build time was not reused: {s}'; \
print('variant', s['variant'], 'from the trial kept at build time')" "$selection"
body=$(curl -sf "$url/predict" -H 'Content-Type: application/json' \
  -d '{"text": ["I hate you.", "I love you."]}')
echo "$body"
python3 -c "import json, sys; p = json.loads(sys.argv[1])['predictions']; \
assert len(p) == 2 and all(abs(sum(e['score'] for e in r) - 1) < 1e-5 for r in p), p" "$body"
# Read the whole body, then match: `curl | grep -q` fails under pipefail when grep stops early.
metrics=$(curl -sf "$url/metrics")
grep -q '^mlapi_model_info{' <<<"$metrics" || { echo "no mlapi_model_info in /metrics"; exit 1; }
# The training API's kubernetes runner (components/training) runs in this image (the CI build
# and the kube-play steps use WITH_KUBERNETES=true, as the prod-training overlay needs).
if [ "${WITH_KUBERNETES:-true}" = true ]; then
  podman exec "$name" python3 -c "import kubernetes.client" \
    || { echo "the kubernetes client is missing from the image"; exit 1; }
fi
user=$(podman exec "$name" python3 -c "import os; print(os.getuid())")
[ "$user" = 10001 ] || { echo "runs as uid $user, expected 10001"; exit 1; }
! podman exec "$name" python3 -c "open('/models/model/x', 'w')" 2>/dev/null \
  || { echo "the root filesystem is writable"; exit 1; }
podman stop -t 30 "$name" >/dev/null
code=$(podman inspect "$name" --format '{{.State.ExitCode}}')
[ "$code" = 0 ] || { echo "exit code $code after SIGTERM"; podman logs "$name" | tail; exit 1; }
echo "image-test: ok (uid $user, exit $code after SIGTERM)"
