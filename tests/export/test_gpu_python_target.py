"""The gpu-python target's model file (PyTorch in Triton's Python backend, DLPack tensors) served by the real
tritonserver. No GPU here: the test serves the exported config with its instance kind set to KIND_CPU, the
one line a CUDA machine does not need changed, so everything else the GPU path runs is exercised."""

import numpy as np
import pytest
from tritonclient.grpc import model_config_pb2 as pb

from export.release import export_checkpoint
from export.spec import GPU_PYTHON_CONFIG_FILE
from export.triton_config import config_text, parse_config
from medxai.triton_client import TritonClient
from medxai.triton_server import TritonServer, free_port


@pytest.mark.slow
def test_gpu_python_model_serves_the_torchscript_graph(tmp_path, make_checkpoint, pixels, torch_reference):
    checkpoint, repository = make_checkpoint(1), tmp_path / "repository"
    export_checkpoint(checkpoint, repository, "chest", target="gpu-python", enforce_gate=False, samples=4,
                      gpu_precision="fp32")
    config_path = repository / "chest" / GPU_PYTHON_CONFIG_FILE
    config = parse_config(config_path.read_text())
    assert config.instance_group[0].kind == pb.ModelInstanceGroup.KIND_GPU
    config.instance_group[0].kind = pb.ModelInstanceGroup.KIND_CPU
    config_path.write_text(config_text(config))
    server = TritonServer(repository, http_port=free_port(), grpc_port=free_port(), metrics_port=free_port(),
                          config_name="gpu-python", log_path=tmp_path / "triton.log")
    with server, TritonClient(server.grpc_url, "chest") as client:
        served = client.infer(pixels.numpy())
    reference = torch_reference(checkpoint, pixels).numpy()
    assert np.abs(served - reference).max() <= 1e-4
    assert (served.argmax(axis=1) == reference.argmax(axis=1)).all()
