"""components/training (rendered in overlays/prod-training): the runner's identity and token,
the shared claim, and the admission policy, whose CEL is evaluated here (cel-python) against
the Job mlapi's own runner renders and against Jobs it must refuse."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml

from mlapi.training.runners.base import RunSpec
from mlapi.training.runners.kubernetes import load_template, render_job
from tests.k8s.conftest import find

Docs = dict[str, list[dict[str, Any]]]
RUNNER = "system:serviceaccount:mlapi:mlapi-train-runner"


def docs(rendered: Docs) -> list[dict[str, Any]]:
    return rendered["prod-training"]


def settings(rendered: Docs) -> dict[str, str]:
    return dict(find(docs(rendered), "ConfigMap", "mlapi-train")["data"])


def runner_job(rendered: Docs, tmp_path: Path) -> dict[str, Any]:
    """The Job mlapi's kubernetes runner creates from the mounted template and its settings."""
    generated = next(
        d
        for d in docs(rendered)
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("mlapi-trainer-job")
    )
    path = tmp_path / "trainer-job.yaml"
    path.write_text(generated["data"]["trainer-job.yaml"])
    train_dir = Path(settings(rendered)["MLAPI_TRAIN_DIR"])
    template = load_template(path, train_dir)  # the claim is mounted above MLAPI_TRAIN_DIR
    spec = RunSpec("0123abcd", ("--output=/work/train/0123abcd/model",), train_dir, train_dir)
    image = settings(rendered)["MLAPI_TRAIN_IMAGE"]
    return render_job(template, spec, image=image, backoff_limit=1, ttl_s=60, deadline_s=600)


class Policy:
    """The ValidatingAdmissionPolicy's matchConditions, variables and validations, in CEL."""

    def __init__(self, policy: dict[str, Any], params: dict[str, Any]) -> None:
        self.spec = policy["spec"]
        self.params = params
        self.env = celpy.Environment()

    def _eval(self, expression: str, activation: dict[str, Any]) -> Any:
        return self.env.program(self.env.compile(expression)).evaluate(activation)

    def _activation(self, job: dict[str, Any], user: str) -> dict[str, Any]:
        request = {"namespace": "mlapi", "userInfo": {"username": user}}
        activation: dict[str, Any] = {
            "object": celpy.json_to_cel(job),
            "params": celpy.json_to_cel(self.params),
            "request": celpy.json_to_cel(request),
        }
        variables: dict[Any, Any] = {}
        for variable in self.spec.get("variables", []):
            activation["variables"] = celpy.celtypes.MapType(variables)
            value = self._eval(variable["expression"], activation)
            variables[celpy.celtypes.StringType(variable["name"])] = value
        activation["variables"] = celpy.celtypes.MapType(variables)
        return activation

    def applies(self, job: dict[str, Any], user: str = RUNNER) -> bool:
        activation = self._activation(job, user)
        return all(
            bool(self._eval(c["expression"], activation)) for c in self.spec["matchConditions"]
        )

    def refusals(self, job: dict[str, Any], user: str = RUNNER) -> list[str]:
        activation = self._activation(job, user)
        return [
            v.get("message") or v["messageExpression"]
            for v in self.spec["validations"]
            if not bool(self._eval(v["expression"], activation))
        ]


@pytest.fixture
def policy(rendered: Docs) -> Policy:
    vap = find(docs(rendered), "ValidatingAdmissionPolicy", "mlapi-train-jobs")
    return Policy(vap, find(docs(rendered), "ConfigMap", "mlapi-train"))


def pod(job: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = job["spec"]["template"]["spec"]
    return spec


def test_the_runners_job_is_admitted(rendered: Docs, policy: Policy, tmp_path: Path) -> None:
    job = runner_job(rendered, tmp_path)
    assert policy.applies(job)
    assert policy.refusals(job) == []


def mutations() -> dict[str, Any]:
    secret_volume = {"name": "s", "secret": {"secretName": "mlapi-redis"}}
    token = {"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}
    secret_env = {"name": "X", "valueFrom": {"secretKeyRef": {"name": "mlapi-redis", "key": "k"}}}

    def container(job: dict[str, Any]) -> dict[str, Any]:
        first: dict[str, Any] = pod(job)["containers"][0]
        return first

    return {
        "another image": lambda j: container(j).update(image="busybox:1.36"),
        "an init container": lambda j: pod(j).update(
            initContainers=[{**container(j), "name": "init", "image": "busybox:1.36"}]
        ),
        "a Secret volume": lambda j: pod(j)["volumes"].append(secret_volume),
        "a projected token": lambda j: pod(j)["volumes"].append(token),
        "a hostPath": lambda j: pod(j)["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
        "a secretKeyRef": lambda j: container(j)["env"].append(secret_env),
        "an envFrom Secret": lambda j: container(j).update(envFrom=[{"secretRef": {"name": "x"}}]),
        "privileged": lambda j: container(j)["securityContext"].update(privileged=True),
        "escalation": lambda j: container(j)["securityContext"].update(
            allowPrivilegeEscalation=True
        ),
        "root": lambda j: container(j)["securityContext"].update(runAsNonRoot=False),
        "a capability": lambda j: container(j)["securityContext"]["capabilities"].update(
            add=["SYS_ADMIN"]
        ),
        "host network": lambda j: pod(j).update(hostNetwork=True),
        "the runner's account": lambda j: pod(j).update(serviceAccountName="mlapi-train-runner"),
        "a token": lambda j: pod(j).update(automountServiceAccountToken=True),
        # The attacks of issue #36 from model code holding the runner's token:
        "a command": lambda j: container(j).update(command=["sh", "-c", "cat /work/*"]),
        "an argument that is no flag": lambda j: container(j)["args"].append("/tmp/evil.py"),
        "the Redis claim": lambda j: pod(j)["volumes"].append(
            {"name": "r", "persistentVolumeClaim": {"claimName": "mlapi-redis-data"}}
        ),
        "a model claim as the work volume": lambda j: pod(j)["volumes"][0].update(
            persistentVolumeClaim={"claimName": "models"}
        ),
        "a ConfigMap volume": lambda j: pod(j)["volumes"].append(
            {"name": "c", "configMap": {"name": "mlapi"}}
        ),
        "an NFS volume": lambda j: pod(j)["volumes"].append(
            {"name": "n", "nfs": {"server": "10.0.0.1", "path": "/"}}
        ),
        "a hostPort": lambda j: container(j).update(
            ports=[{"containerPort": 8080, "hostPort": 8080}]
        ),
        "Unconfined seccomp": lambda j: pod(j)["securityContext"].update(
            seccompProfile={"type": "Unconfined"}
        ),
        "Unconfined seccomp in the container": lambda j: container(j)["securityContext"].update(
            seccompProfile={"type": "Unconfined"}
        ),
        "no seccomp profile": lambda j: pod(j)["securityContext"].pop("seccompProfile"),
    }


@pytest.mark.parametrize("change", sorted(mutations()))
def test_a_job_that_reaches_further_is_refused(
    rendered: Docs, policy: Policy, tmp_path: Path, change: str
) -> None:
    job = copy.deepcopy(runner_job(rendered, tmp_path))
    mutations()[change](job)
    assert policy.applies(job)
    assert policy.refusals(job), change


def test_the_policy_applies_only_to_the_runners_identity(
    rendered: Docs, policy: Policy, tmp_path: Path
) -> None:
    job = runner_job(rendered, tmp_path)
    assert not policy.applies(job, "kubernetes-admin")
    assert not policy.applies(job, "system:serviceaccount:other:mlapi-train-runner")
    binding = find(docs(rendered), "ValidatingAdmissionPolicyBinding", "mlapi-train-jobs")
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert binding["spec"]["paramRef"] == {"name": "mlapi-train", "parameterNotFoundAction": "Deny"}
    namespace = find(docs(rendered), "Namespace", "mlapi")["metadata"]["labels"]
    assert binding["spec"]["matchResources"]["namespaceSelector"]["matchLabels"].items() <= (
        namespace.items()
    )
    for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"):
        assert "namespace" not in find(docs(rendered), kind, "mlapi-train-jobs")["metadata"]


def test_the_token_is_mounted_only_in_the_mlapi_container(rendered: Docs) -> None:
    deployment = find(docs(rendered), "Deployment", "mlapi")
    spec = deployment["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "mlapi-train-runner"
    assert spec["automountServiceAccountToken"] is False
    tokens = [
        v["name"]
        for v in spec["volumes"]
        if any("serviceAccountToken" in s for s in v.get("projected", {}).get("sources", []))
    ]
    assert len(tokens) == 1
    source = next(
        s["serviceAccountToken"]
        for v in spec["volumes"]
        for s in v.get("projected", {}).get("sources", [])
        if "serviceAccountToken" in s
    )
    assert source["expirationSeconds"] <= 3600
    mounting = [
        c["name"]
        for c in spec["containers"] + spec.get("initContainers", [])
        if any(m["name"] in tokens for m in c.get("volumeMounts", []))
    ]
    assert mounting == ["mlapi"]
    mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["name"] in tokens)
    assert (
        mount["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount"
    )  # in-cluster config
    for account in ("mlapi-train-runner", "mlapi-trainer", "mlapi"):
        assert (
            find(docs(rendered), "ServiceAccount", account)["automountServiceAccountToken"] is False
        )


def test_trainer_and_serving_share_the_claim_at_one_path(rendered: Docs, tmp_path: Path) -> None:
    job_pod = pod(runner_job(rendered, tmp_path))
    job_claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in job_pod["volumes"]
        if "persistentVolumeClaim" in v
    }
    job_mounts = {
        m["mountPath"]: job_claims[m["name"]]
        for m in job_pod["containers"][0]["volumeMounts"]
        if m["name"] in job_claims
    }
    serving = find(docs(rendered), "Deployment", "mlapi")["spec"]["template"]["spec"]
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in serving["volumes"]
        if "persistentVolumeClaim" in v
    }
    mounts = {
        m["mountPath"]: claims[m["name"]]
        for m in serving["containers"][0]["volumeMounts"]
        if m["name"] in claims
    }
    assert job_mounts == mounts == {"/work": "mlapi-train"}
    claim = find(docs(rendered), "PersistentVolumeClaim", "mlapi-train")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # every replica loads the output
    template = next(
        m["mountPath"]
        for m in serving["containers"][0]["volumeMounts"]
        if m["name"] == "train-job-template"
    )
    assert settings(rendered)["MLAPI_TRAIN_JOB_TEMPLATE"].startswith(template + "/")
    env_from = serving["containers"][0]["envFrom"]
    assert {"configMapRef": {"name": "mlapi-train"}} in env_from


def test_the_template_is_the_one_in_the_repository(rendered: Docs) -> None:
    generated = next(
        d
        for d in docs(rendered)
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("mlapi-trainer-job")
    )
    job = yaml.safe_load(generated["data"]["trainer-job.yaml"])
    assert job["kind"] == "Job" and pod(job)["serviceAccountName"] == "mlapi-trainer"


def test_only_the_training_overlay_grants_any_rights(rendered: Docs) -> None:
    for overlay in ("dev", "prod"):
        kinds = {d["kind"] for d in rendered[overlay]}
        assert not kinds & {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}


def test_the_runners_job_uses_only_what_the_policy_allows(rendered: Docs, tmp_path: Path) -> None:
    """The admitted Job is the narrow one: the image's entrypoint, flags, the claim, emptyDirs."""
    spec = pod(runner_job(rendered, tmp_path))
    [trainer] = spec["containers"]
    assert "command" not in trainer and all(a.startswith("--") for a in trainer["args"])
    assert {next(k for k in v if k != "name") for v in spec["volumes"]} == {
        "persistentVolumeClaim",
        "emptyDir",
    }
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_trainers_have_no_network_at_all(rendered: Docs, tmp_path: Path) -> None:
    policy = find(docs(rendered), "NetworkPolicy", "mlapi-trainer")["spec"]
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    assert "egress" not in policy and "ingress" not in policy  # deny all, DNS included
    labels = runner_job(rendered, tmp_path)["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    env = {
        e["name"]: e.get("value")
        for e in pod(runner_job(rendered, tmp_path))["containers"][0]["env"]
    }
    assert env["HF_HUB_OFFLINE"] == "1"  # fails at once rather than waiting on the hub


def test_only_the_training_overlay_mounts_a_token(rendered: Docs) -> None:
    """The runner runs in the serving process, so prod-training projects the runner's token
    into the mlapi container; every other pod of every overlay has none."""
    for overlay in ("dev", "prod", "prod-training"):
        for doc in (d for d in rendered[overlay] if d["kind"] == "Deployment"):
            spec = doc["spec"]["template"]["spec"]
            assert spec["automountServiceAccountToken"] is False
            tokens = [
                v
                for v in spec.get("volumes", [])
                if any(
                    "serviceAccountToken" in s for s in v.get("projected", {}).get("sources", [])
                )
            ]
            expected = 1 if (overlay, doc["metadata"]["name"]) == ("prod-training", "mlapi") else 0
            assert len(tokens) == expected, (overlay, doc["metadata"]["name"])
