#!/usr/bin/env bash
# Prints every Secret an overlay's pods reference, as YAML, in the overlay's namespace:
#   scripts/make-secrets.sh prod | kubectl create -f -
# `create` (not `apply`) never overwrites a Secret that exists: running it again does not rotate
# the Redis password under running pods. Values come from the environment, else fresh random:
#   mlapi-redis       password     random (Redis's ACL user `mlapi`, and mlapi)
#   mlapi-signing     signing-key  random (mlapi only: signs what replicas share through Redis;
#                                  the Redis pod never mounts it)
#   mlapi-api-keys    keys       $MLAPI_API_KEYS, or one random key (prod); dev: only if set
#   mlapi-admin-keys  keys       $MLAPI_ADMIN_KEYS, or one random key
#   mlapi-sentry      dsn        $SENTRY_DSN; no Secret without it (the reference is optional)
# Read a generated key back with
#   kubectl -n NAMESPACE get secret mlapi-api-keys -o jsonpath='{.data.keys}' | base64 -d
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
overlay=${1:-}
kustomization=$root/.k8s/overlays/$overlay/kustomization.yaml
if [ -z "$overlay" ] || [ ! -f "$kustomization" ]; then
  echo "usage: $0 OVERLAY   (one of: $(ls "$root/.k8s/overlays" | tr '\n' ' '))" >&2
  exit 2
fi
namespace=$(awk '$1 == "namespace:" {print $2; exit}' "$kustomization")
[ -n "$namespace" ] || { echo "$kustomization sets no namespace" >&2; exit 1; }

random() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

secret() {  # NAME KEY VALUE [KEY VALUE ...]
  local name=$1; shift
  cat <<YAML
---
apiVersion: v1
kind: Secret
metadata:
  name: $name
  namespace: $namespace
  labels:
    app.kubernetes.io/part-of: mlapi
type: Opaque
data:
YAML
  while [ $# -gt 0 ]; do
    printf '  %s: %s\n' "$1" "$(printf '%s' "$2" | base64 | tr -d '\n')"
    shift 2
  done
}

secret mlapi-redis password "$(random)"
secret mlapi-signing signing-key "$(random)"
if [ -n "${MLAPI_API_KEYS:-}" ]; then
  secret mlapi-api-keys keys "$MLAPI_API_KEYS"
elif [ "$overlay" != dev ]; then
  secret mlapi-api-keys keys "$(random)"
fi
secret mlapi-admin-keys keys "${MLAPI_ADMIN_KEYS:-$(random)}"
if [ -n "${SENTRY_DSN:-}" ]; then
  secret mlapi-sentry dsn "$SENTRY_DSN"
fi
