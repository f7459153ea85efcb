"""The train API end to end with the local runner: a real trainer process per job."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from mlapi.observability import metrics
from tests.training.conftest import ADMIN, job_body, wait_for


def finished(state: str) -> float:
    """Jobs this process saw end in `state` (the counter is process-wide)."""
    count: float = metrics.TRAIN_FINISHED.labels(state=state)._value.get()
    return count


def trainer_processes(job_id: str) -> list[str]:
    """Live processes whose command line names the job (its output folder)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().split(") ", 1)[1][0]
        except (OSError, IndexError):
            continue
        if job_id in cmdline and "trainer" in cmdline and state != "Z":
            found.append(proc.name)
    return found


def test_a_job_trains_activates_and_serves(
    train_client: TestClient, model_dir: Path, dataset: Path
) -> None:
    succeeded_before = finished("succeeded")
    before = train_client.post("/predict", json={"text": ["fun"]}).headers["X-MLAPI-Model-Version"]
    answer = train_client.post("/train", json=job_body(model_dir, dataset), headers=ADMIN)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert answer.headers["Location"] == f"/train/{job['id']}"
    assert job["state"] == "queued" and job["model"] == "default"
    done = wait_for(train_client, job["id"], {"succeeded", "failed", "cancelled"})
    assert done["state"] == "succeeded", done
    assert done["progress"]["step"] == done["progress"]["total_steps"] == 100
    assert done["progress"]["eval_accuracy"] >= 0.7 and done["progress"]["loss"] > 0
    assert done["started_at"] >= done["created_at"] and done["finished_at"] >= done["started_at"]
    assert done["activation"]["activated"] is True, done["activation"]
    assert Path(done["output_path"], "model.safetensors").is_file()
    predicted = train_client.post("/predict", json={"text": ["great fun", "awful boring"]})
    assert predicted.headers["X-MLAPI-Model-Version"] == done["activation"]["version"] != before
    scores = [{e["label"]: e["score"] for e in row} for row in predicted.json()["predictions"]]
    assert scores[0]["POSITIVE"] > 0.5 > scores[1]["POSITIVE"]
    stats = train_client.get("/stats").json()["models"]["default"]
    assert stats["fingerprint"] == done["activation"]["fingerprint"]
    listed = train_client.get("/train", headers=ADMIN).json()["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]
    metrics = train_client.get("/metrics").text
    assert 'mlapi_train_jobs{state="succeeded"} 1.0' in metrics
    assert 'mlapi_train_jobs_finished_total{state="failed"}' in metrics
    assert finished("succeeded") == succeeded_before + 1


def test_bad_data_fails_with_the_trainers_message(
    train_client: TestClient, model_dir: Path
) -> None:
    content = "sentence\tlabel\ngood fun\t1\nbad plot\tMAYBE\n"
    body = job_body(model_dir, dataset_content=content)
    job = train_client.post("/train", json=body, headers=ADMIN).json()
    done = wait_for(train_client, job["id"], {"succeeded", "failed", "cancelled"})
    assert done["state"] == "failed"
    assert "unknown label 'MAYBE'" in done["error"] and "data.tsv:3" in done["error"]
    assert done["activation"] is None
    served = train_client.get("/models").json()["models"][0]
    assert served["version"] == "1"  # what served keeps serving


def test_a_model_below_the_threshold_is_kept_but_not_served(
    train_client: TestClient, model_dir: Path, dataset: Path
) -> None:
    hyper = {"max_steps": 1, "batch_size": 8, "max_length": 16, "eval_size": 32}
    body = job_body(model_dir, dataset, hyperparameters=hyper, min_eval_accuracy=1.0)
    job = train_client.post("/train", json=body, headers=ADMIN).json()
    done = wait_for(train_client, job["id"], {"succeeded", "failed", "cancelled"})
    assert done["state"] == "succeeded", done
    assert done["activation"]["activated"] is False
    assert "below min_eval_accuracy 1.0" in done["activation"]["reason"]
    assert train_client.get("/models").json()["models"][0]["version"] == "1"
    forced = train_client.post(f"/train/{job['id']}/activate", headers=ADMIN).json()
    assert forced["activation"]["activated"] is True
    assert train_client.get("/models").json()["models"][0]["version"] == "2"


def test_cancel_stops_a_running_job(
    train_client: TestClient, model_dir: Path, dataset: Path
) -> None:
    hyper = {"max_steps": 100_000, "batch_size": 8, "max_length": 16, "eval_size": 32}
    job = train_client.post(
        "/train", json=job_body(model_dir, dataset, hyperparameters=hyper), headers=ADMIN
    ).json()
    wait_for(train_client, job["id"], {"running"})
    cancelled = train_client.delete(f"/train/{job['id']}", headers=ADMIN)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert not trainer_processes(job["id"]), "the trainer process is stopped"
    again = train_client.delete(f"/train/{job['id']}", headers=ADMIN)
    assert again.status_code == 409 and again.json()["error"]["type"] == "job_finished"
