#!/usr/bin/env bash
# `pip install ARGS` into $PYTHON's environment with the CPU build of torch, never the CUDA
# one (torch from PyPI pulls ~17 nvidia-* packages and triton on Linux x86-64). PyTorch's CPU
# index ($TORCH_INDEX) is added as an extra index when it answers within a few seconds; else
# pip goes on as configured (pip.conf, PIP_* variables: a local CPU wheel, a mirror), without
# waiting on pip's retries. `make run` and `make install` (scripts/install-deps.sh) both install
# through this script; tests/ops/test_install.py resolves their commands with --dry-run.
#   PYTHON=.venv/bin/python bash scripts/pip-install.sh -e ".[serve]"
#   TORCH_INDEX=https://mirror.example.com/whl/cpu ...   (TORCH_INDEX= : pip's configuration only)
set -euo pipefail
PYTHON=${PYTHON:-python3}
TORCH_INDEX=${TORCH_INDEX-https://download.pytorch.org/whl/cpu}
PROBE_S=${TORCH_INDEX_PROBE_S:-5}

# The index page pip would read for torch; `timeout` also bounds the DNS lookup.
answers() {
  timeout "$PROBE_S" "$PYTHON" -c 'import sys, urllib.request
urllib.request.urlopen(sys.argv[1].rstrip("/") + "/torch/", timeout=float(sys.argv[2])).close()' \
    "$1" "$PROBE_S" 2>/dev/null
}

index=()
if [ -n "$TORCH_INDEX" ] && answers "$TORCH_INDEX"; then
  index=(--extra-index-url "$TORCH_INDEX")
elif [ -n "$TORCH_INDEX" ]; then
  echo "pip-install: $TORCH_INDEX does not answer; torch comes from pip's configuration" \
    "(a CPU wheel: PIP_FIND_LINKS=DIR, or TORCH_INDEX=a mirror of that index)" >&2
fi
exec "$PYTHON" -m pip install "${index[@]}" "$@"
