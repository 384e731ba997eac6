# syntax=docker/dockerfile:1
# The medxai image: the explain service, the dashboard, the PACS gateway, the train/export jobs and (dev-cpu) the
# CPU Triton from the nvidia-pytriton wheel (in /opt/medxai/triton, with the NumPy 1 its stub needs). Build from the repository root:
#   docker build -f docker/medxai.Dockerfile -t registry.hospital.example/medxai:0.1.0 .
#   docker build -f docker/medxai.Dockerfile --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cpu \
#       -t medxai:0.1.0-cpu .        # CPU-only PyTorch: a much smaller image for laptops and CPU nodes
# The build stage installs everything into a virtual environment; the final stage copies only that
# environment onto the same slim Python image, with no compiler, no pip cache and no source tree.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_INDEX=https://pypi.org/simple
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/medxai
WORKDIR /src
COPY pyproject.toml README.md ./
COPY medxai medxai
COPY training training
COPY export export
COPY explain_service explain_service
COPY dashboard dashboard
COPY pacs pacs
RUN /opt/medxai/bin/pip install --extra-index-url "${TORCH_INDEX}" ".[dashboard,pacs]" \
    && /opt/medxai/bin/medxai --help > /dev/null \
    && /opt/medxai/bin/medxai triton setup

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 medxai \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin medxai
COPY --from=build /opt/medxai /opt/medxai
ENV PATH=/opt/medxai/bin:${PATH} HOME=/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib
USER 10001:10001
WORKDIR /tmp
EXPOSE 50051 9100 8501
ENTRYPOINT ["medxai"]
CMD ["--help"]
