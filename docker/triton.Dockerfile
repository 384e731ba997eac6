# syntax=docker/dockerfile:1
# Triton with one model version baked in: an immutable alternative to the shared repository volume (roll
# back by deploying the previous image tag). The build context is a run folder holding best.pt:
#   docker build -f docker/triton.Dockerfile --build-arg MEDXAI_IMAGE=registry.hospital.example/medxai:0.1.0 \
#       --build-arg MODEL_NAME=chest_xray -t registry.hospital.example/medxai-triton:chest_xray-1 runs/chest_xray
# The export stage runs `medxai export` (ONNX, parity check, release gate) and writes the NGC GPU config;
# the final stage is NVIDIA's Triton image with only the repository added, run as its non-root user.

ARG MEDXAI_IMAGE=registry.hospital.example/medxai:0.1.0
ARG TRITON_IMAGE=nvcr.io/nvidia/tritonserver:24.10-py3

FROM ${MEDXAI_IMAGE} AS export
ARG MODEL_NAME=chest_xray
COPY best.pt /tmp/checkpoint/best.pt
RUN medxai export --checkpoint /tmp/checkpoint/best.pt --repository /tmp/repository --name "${MODEL_NAME}" \
    --target gpu

FROM ${TRITON_IMAGE}
COPY --from=export --chown=1000:1000 /tmp/repository /models
USER 1000:1000
EXPOSE 8000 8001 8002
ENTRYPOINT ["tritonserver"]
CMD ["--model-repository=/models", "--model-control-mode=none", "--http-port=8000", "--grpc-port=8001", \
     "--metrics-port=8002"]
