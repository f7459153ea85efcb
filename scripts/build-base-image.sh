#!/usr/bin/env bash
# Builds a local base image (Debian bookworm minbase + python3) with debootstrap and imports it
# into podman, for machines that cannot pull python:3.11-slim from a registry.
#   scripts/build-base-image.sh [TAG]        (default: localhost/mlapi-base:bookworm)
set -euo pipefail
tag=${1:-localhost/mlapi-base:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if podman image exists "$tag"; then echo "$tag exists"; exit 0; fi
rootfs=$(mktemp -d /var/tmp/mlapi-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$rootfs" "$mirror"
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
tar -C "$rootfs" -c . | podman import --change 'CMD ["python3"]' - "$tag"
podman image ls "$tag"
