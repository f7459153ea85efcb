"""`python -m bench --image`: the image the bundle deploys, beside the venv, in one run.

The image is built with a trained model baked in at /models/model (`scripts/image-test.sh
MODEL_DIR`, which also checks that it runs; or `--image-tag` names one already built) and
played from the prod overlay with `make kube-play`'s own code (scripts/kubeplay: Redis and
mlapi on podman with the bundle's settings, limits, API key and signing key from
scripts/make-secrets.sh). k6 runs the cold profiles against the played pod with the same
options as the venv configs, which serve the same trained model in the same run: the ratios
to the reference design compare like with like. Only the cold profiles: their sentences are
never sent twice, so the played Redis (which the bench cannot flush) holds no answer a
profile could hit.

Per config: the served variant (GET /model), requests/s, p99, sentences/s, the ratio to the
reference design, and seconds from the start of the process (venv) or the pod (image) to the
first /ready 200, polled every 0.1 s; the Deployment's own probes must then pass too.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from bench import k6, report
from bench.machine import describe, save
from bench.served import ColdText, get_json, model_stats

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ("cold", "cold-sst2")  # the only profiles an unflushed cache cannot answer
CONFIG = "image"
OVERLAY = "prod"
VenvRun = Callable[[str, list[k6.Profile]], dict[str, Any]]


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """`--image` needs a trained model, runs only the cold profiles, and builds a real image."""
    if args.image_tag and not args.image:
        parser.error("--image-tag needs --image")
    if not args.image:
        return
    if args.fidelity_model is None:
        parser.error("--image needs --fidelity-model DIR: the trained model baked into the image")
    if args.smoke:
        parser.error("--image builds and plays a real image: no --smoke")
    if args.set:
        parser.error("--image plays the overlay's settings: no --set")
    other = set((args.profiles or "cold-sst2").split(",")) - set(PROFILES)
    if other:
        parser.error(f"--image runs only {', '.join(PROFILES)}, not {', '.join(sorted(other))}")


def kubeplay() -> Any:
    """scripts/kubeplay/play.py, the module `make kube-play` plays overlays with (its Play)."""
    if str(ROOT / "scripts") not in sys.path:
        sys.path.insert(0, str(ROOT / "scripts"))
    import kubeplay.play

    return kubeplay.play


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout.strip()


def dockerfile_state() -> dict[str, Any]:
    """Which Dockerfile the image was built from: its blob and whether it differs from HEAD."""
    return {
        "blob": git("hash-object", "Dockerfile")[:12],
        "last_commit": git("log", "-1", "--format=%h", "--", "Dockerfile"),
        "uncommitted_changes": bool(git("status", "--porcelain", "--", "Dockerfile")),
    }


def build(model_dir: Path, log_path: Path) -> float:
    """scripts/image-test.sh MODEL_DIR: builds and checks the image; seconds it took."""
    started = time.monotonic()
    with log_path.open("w") as log:
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / "image-test.sh"), str(model_dir.resolve())],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    if done.returncode != 0:
        tail = log_path.read_text()[-3000:]
        raise SystemExit(f"scripts/image-test.sh failed ({done.returncode}):\n{tail}")
    return round(time.monotonic() - started, 1)


def inspect_image(tag: str) -> dict[str, Any]:
    out = subprocess.run(
        ["podman", "image", "inspect", tag, "--format", "{{.Id}} {{.Size}}"],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"no image {tag}: {out.stderr.strip()}")
    image_id, size = out.stdout.split()
    return {"tag": tag, "id": image_id[:12], "size_mb": round(int(size) / 1e6)}


def ready_after_start(play: Any, deadline_s: float = 300) -> float:
    """Seconds from the mlapi pod's start to its first /ready 200 (the probe port): from the
    pod, not the container, whose start time is its last restart's."""
    url = f"http://127.0.0.1:{play.probe_port}/ready"
    until = time.monotonic() + deadline_s
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > until:
            raise SystemExit(f"mlapi never became ready:\n{play.logs('mlapi')[-3000:]}")
        time.sleep(0.1)
    ready = time.time()
    pod = play.podman("inspect", play.container("mlapi"), "--format", "{{.Pod}}").strip()
    started = play.podman("pod", "inspect", pod, "--format", "{{.Created.UnixNano}}")
    return round(ready - int(started.strip()) / 1e9, 2)


def measure_image(
    tag: str, profiles: list[k6.Profile], timing: dict[str, str], workdir: Path, cold: ColdText
) -> dict[str, Any]:
    """The prod overlay played on podman with `tag` as its mlapi image; k6 against its pod."""
    play_module = kubeplay()
    if tag != play_module.MLAPI_IMAGE:  # the play runs the image `make kube-play` runs
        subprocess.run(["podman", "tag", tag, play_module.MLAPI_IMAGE], check=True)
    (workdir / "play").mkdir(exist_ok=True)
    play = play_module.Play(OVERLAY, workdir / "play")
    secrets = play_module.make_secrets(OVERLAY)
    key = play_module.secret_value(secrets, "mlapi-api-keys", "keys")
    result: dict[str, Any] = {"config": CONFIG}
    try:
        play.up(secrets)
        result["ready_seconds"] = ready_after_start(play)
        result["restarts_before_ready"] = play.restarts("mlapi")
        for name in ("mlapi-redis", "mlapi"):  # the Deployment's own probes agree, or it stops
            play.wait_ready(name)
        url = f"http://127.0.0.1:{play.api_port}"
        card = get_json(f"{url}/model", key) or {}
        result["variant"] = card.get("backend", "unknown")
        result["selection"] = card.get("selection")
        for profile in profiles:
            logging.info("%s: %s", CONFIG, profile.name)
            keyed = replace(profile, env={**profile.env, "API_KEY": key})
            before = model_stats(url, key)
            found = k6.run(url, keyed, workdir / f"{CONFIG}-{profile.name}.json", timing)
            after = model_stats(url, key)
            found.update(cold.figures(profile.name, found, before, after))
            result[profile.name] = found
        result["restarts_during_run"] = play.restarts("mlapi") - result["restarts_before_ready"]
    finally:
        play.close()
    return result


def measure(
    model_dir: Path,
    tag: str | None,
    venv_configs: list[str],
    profiles: list[k6.Profile],
    timing: dict[str, str],
    workdir: Path,
    cold: ColdText,
    venv_run: VenvRun,
) -> dict[str, Any]:
    """The image (built here unless `tag` names one) and the venv configs on one model."""
    shipped: dict[str, Any] = {"dockerfile": dockerfile_state(), "built_here": tag is None}
    if tag is None:
        logging.info("building the image with %s baked in (scripts/image-test.sh)", model_dir)
        shipped["build_seconds"] = build(model_dir, workdir / "image-test.log")
        tag = kubeplay().MLAPI_IMAGE
    shipped.update(inspect_image(tag))
    results = [venv_run(name, profiles) for name in venv_configs]
    results.append(measure_image(tag, profiles, timing, workdir, cold))
    return {"image": shipped, "results": results}


def ratios(results: list[dict[str, Any]], profile: str) -> dict[str, float | None]:
    """sentences/s of every config over the reference design's, on one profile."""
    reference = next((r for r in results if r["config"] == "reference"), {})
    base = reference.get(profile, {}).get("sentences_per_s")
    out: dict[str, float | None] = {}
    for result in results:
        mine = result.get(profile, {}).get("sentences_per_s")
        out[result["config"]] = round(mine / base, 2) if mine and base else None
    return out


def markdown(run: dict[str, Any]) -> str:
    """The "shipped image" section of bench/RESULTS.md for one `--image` run."""
    machine, image = run["machine"], run["image"]
    dockerfile = image["dockerfile"]
    state = f"`{dockerfile['blob']}` (last commit {dockerfile['last_commit'] or 'none'}" + (
        ", with uncommitted changes)" if dockerfile["uncommitted_changes"] else ")"
    )
    lines = [
        f"### {machine['date']} · commit `{machine['commit']}` · shipped image",
        "",
        f"Machine: {machine['nproc']} CPUs, {machine['cpu']} "
        f"({', '.join(machine.get('cpu_flags', []))}). k6 on the same machine: "
        f"{run['timing']['VUS']} VUs, ramp {run['timing']['RAMP_UP']}, hold "
        f"{run['timing']['HOLD']}, ramp down {run['timing']['RAMP_DOWN']}.",
        "",
        f"Command: `{run['command']}`. Image `{image['tag']}` ({image['id']}, "
        f"{image['size_mb']} MB), "
        + (
            f"built here in {image['build_seconds']} s from the Dockerfile blob {state} with "
            f"`{run['model_dir']}` baked in"
            if image["built_here"]
            else f"given by --image-tag (the model baked in is not checked: `{run['model_dir']}` "
            "was meant)"
        )
        + f", played from the {OVERLAY} overlay (scripts/kubeplay); the venv configs serve "
        f"`{run['model_dir']}`.",
        "",
        "| config | served variant | profile | req/s | p99 ms | sentences/s "
        "| over the reference | ready s | failed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for profile in PROFILES:
        over = ratios(run["results"], profile)
        for result in run["results"]:
            if profile not in result:
                continue
            r = result[profile]
            ratio = over[result["config"]]
            lines.append(
                f"| {result['config']} | {result.get('variant', 'pipeline fp32')} | {profile} | "
                f"{r['req_per_s']} | {r['p99_ms']} | {r['sentences_per_s'] or '—'} | "
                f"{'—' if ratio is None else f'{ratio}x'} | {result['ready_seconds']} | "
                f"{r['failed_rate']:.2%} |"
            )
    shipped: dict[str, Any] = next((r for r in run["results"] if r["config"] == CONFIG), {})
    before, during = shipped.get("restarts_before_ready"), shipped.get("restarts_during_run")
    lines += [
        "",
        "Ready s: from the start of the process (the venv) or of the pod (the image) to the "
        "first /ready 200, polled every 0.1 s; the image's Deployment probes then passed too"
        + (f" (its container restarted {before} times before)." if before else "."),
        *(
            ["", f"**The image's container restarted {during} times under load**: void."]
            if during
            else []
        ),
    ]
    return "\n".join(lines) + "\n"


def publish(
    shipped: dict[str, Any],
    args: argparse.Namespace,
    argv: list[str] | None,
    timing: dict[str, str],
    extra_env: dict[str, str],
    fidelity: dict[str, Any] | None,
) -> int:
    """bench/out/image-<stamp>.json and .md; with --write-results, bench/RESULTS.md too."""
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    run: dict[str, Any] = {
        "machine": describe(),
        "command": command.strip(),
        "timing": timing,
        "model_dir": str(args.fidelity_model),
        "auto_variants": extra_env.get("MLAPI_AUTO_VARIANTS"),
        "fidelity": fidelity,
        **shipped,
    }
    text = markdown(run)
    save(args.out, "image-", run, text)
    if args.write_results:
        report.write_shipped(text)
    print(text)
    return 0
