# roboz-collection for GPU servers and Ray workers: renders (`build`, `render`, `--executor ray`).
# CUDA runtime base; torch's pip wheels bring the CUDA libraries they were built with, the host
# brings the NVIDIA driver (run with `--gpus all`, NVIDIA Container Toolkit). Installs the exact
# versions this project tests with (constraints.txt). See README "GPU servers and Ray workers".
#
#   docker build -t roboz-collection .
#   docker run --gpus all -v roboz-models:/models roboz-collection models fetch
#   docker run --gpus all -v roboz-models:/models -v "$PWD/my-roboz:/work" roboz-collection build /work/manifest.yaml
#   docker run --gpus all --network host -v roboz-models:/models roboz-collection ray start --address HEAD:6379 --block
FROM nvidia/cuda:13.0.2-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 \
    ROBOZ_HOME=/models VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
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
RUN pip install --no-cache-dir -c constraints.txt ".[ray]" \
 && roboz-collection --help >/dev/null

# Weights live in a volume: fetched once (`models fetch`), hash-checked on every load.
VOLUME /models
WORKDIR /work
ENTRYPOINT ["roboz-collection"]
CMD ["--help"]
