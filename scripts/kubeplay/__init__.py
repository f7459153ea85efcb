"""`make kube-play`: the rendered bundle on podman (scripts/kube_play.py runs it)."""
