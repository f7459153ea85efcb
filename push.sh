#!/usr/bin/env bash
# Build the serving image, tag it with the git SHA, push it to $REGISTRY, and pin that tag in
# the prod overlay (.k8s/overlays/prod/kustomization.yaml). Then: kubectl apply -k .k8s/overlays/prod
#
#   REGISTRY=registry.example.com/team ./push.sh              # build, push, pin
#   REGISTRY=registry.example.com/team ./push.sh --dry-run    # print the commands only
#
# ENGINE (docker|podman, default docker), BUILD_ARGS (extra build flags, e.g.
# "--build-arg MODEL_SOURCE=local --build-context local-model=/path/to/model"),
# WITH_TRAINER=1 also builds and pushes the trainer image for .k8s/jobs.
# Log in to the registry beforehand (docker login); no credentials live here.
set -euo pipefail
cd "$(dirname "$0")"

dry_run=0
case "${1:-}" in
  --dry-run) dry_run=1 ;;
  "") ;;
  *) echo "usage: REGISTRY=... $0 [--dry-run]" >&2; exit 2 ;;
esac
: "${REGISTRY:?set REGISTRY, e.g. REGISTRY=registry.example.com/team}"
engine=${ENGINE:-docker}
sha=$(git rev-parse --short=12 HEAD)
if [ -n "$(git status --porcelain --untracked-files=no)" ] && [ "${ALLOW_DIRTY:-0}" != 1 ]; then
  echo "the work tree has uncommitted changes: commit first (or ALLOW_DIRTY=1)" >&2
  exit 1
fi
image="$REGISTRY/mlapi:$sha"

run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  if [ "$dry_run" = 0 ]; then "$@"; fi
}

# shellcheck disable=SC2086 # BUILD_ARGS is a list of flags
run "$engine" build --target runtime ${BUILD_ARGS:-} -t "$image" .
run "$engine" push "$image"
if [ "${WITH_TRAINER:-0}" = 1 ]; then
  # shellcheck disable=SC2086
  run "$engine" build --target trainer ${BUILD_ARGS:-} -t "$REGISTRY/mlapi-trainer:$sha" .
  run "$engine" push "$REGISTRY/mlapi-trainer:$sha"
  run python3 scripts/set_image.py .k8s/jobs/kustomization.yaml mlapi-trainer \
    "$REGISTRY/mlapi-trainer" "$sha"
fi
run python3 scripts/set_image.py .k8s/overlays/prod/kustomization.yaml mlapi \
  "$REGISTRY/mlapi" "$sha"
echo "pinned $image in .k8s/overlays/prod; deploy: kubectl apply -k .k8s/overlays/prod"
