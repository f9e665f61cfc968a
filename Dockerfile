# roboz-collection for GPU servers and Ray workers: renders (`build`, `render`, `--executor ray`).
# CUDA runtime base; torch's pip wheels bring the CUDA 13 libraries they were built with, the host
# brings the NVIDIA driver: R580 or newer (CUDA 13.x needs >= 580; run with `--gpus all`, NVIDIA
# Container Toolkit). Installs the exact versions this project tests with (constraints.txt).
# The entry point is the CLI; a Ray worker runs the `ray` command of the same venv (--entrypoint).
# Checked without Docker by `make docker-check` (hadolint, then these steps in a fresh venv).
#
#   docker build -t roboz-collection .
#   docker run --gpus all -v roboz-models:/models roboz-collection models fetch
#   docker run --gpus all -v roboz-models:/models -v "$PWD/my-roboz:/work" roboz-collection build /work/manifest.yaml
#   docker run --gpus all --network host -v roboz-models:/models --entrypoint ray roboz-collection start --address HEAD:6379 --block
FROM nvidia/cuda:13.0.2-runtime-ubuntu24.04

LABEL org.opencontainers.image.description="roboz-collection renderer (VQGAN+CLIP); needs NVIDIA driver R580+ for CUDA 13"
ENV DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 \
    ROBOZ_HOME=/models VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
# Ubuntu 24.04's own python3 (3.12) and CA certificates, at the versions of the base image's release:
# pinning apt versions would break the build whenever the archive moves on.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv

WORKDIR /opt/roboz
# Dependencies first (a layer that survives code changes), then the code.
COPY pyproject.toml constraints.txt README.md LICENSE ./
COPY buildfiles buildfiles
COPY collection collection
COPY generator generator
COPY metadata metadata
COPY contracts contracts
COPY preview preview
RUN pip install --no-cache-dir -c constraints.txt ".[ray]" \
 && roboz-collection --help >/dev/null

# Weights live in a volume: fetched once (`models fetch`), hash-checked on every load.
VOLUME /models
WORKDIR /work
ENTRYPOINT ["roboz-collection"]
CMD ["--help"]
