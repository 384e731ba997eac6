"""tritonserver's own environment (`medxai triton setup`): the Python backend's stub runs NumPy 1, which it is
built against, while medxai runs NumPy 2, and it still imports medxai's packages."""

import subprocess
import sys

import numpy as np
import pytest
import tritonclient.http as httpclient

from medxai.errors import UserError
from medxai.triton_server import TritonServer, free_port, pytriton_server_dir, setup_environment, triton_environment

ECHO_CONFIG = """name: "echo"
backend: "python"
max_batch_size: 0
input [{ name: "X", data_type: TYPE_FP32, dims: [3] }]
output [{ name: "Y", data_type: TYPE_FP32, dims: [3] }, { name: "NUMPY", data_type: TYPE_STRING, dims: [1] }]
instance_group [{ kind: KIND_CPU, count: 1 }]
"""
ECHO_MODEL = """import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "X").as_numpy()
            version = np.array([np.__version__.encode()], dtype=np.object_)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("Y", x * 2),
                                                         pb_utils.Tensor("NUMPY", version)]))
        return responses
"""


def test_medxai_runs_numpy_2():
    assert int(np.__version__.split(".")[0]) >= 2


def test_the_stub_environment_has_numpy_1_first_and_medxai_after_it(tmp_path):
    environment = setup_environment(tmp_path / "triton")
    probe = ("import numpy, medxai.triton_server, onnxruntime; "
             "print(numpy.__version__); print(medxai.triton_server.__file__)")
    lines = subprocess.run([str(environment / "bin" / "python"), "-c", probe], capture_output=True, text=True,
                           check=True).stdout.split()
    assert lines[0].startswith("1.")
    assert lines[1] == sys.modules["medxai.triton_server"].__file__
    assert (pytriton_server_dir(environment) / "bin" / "tritonserver").is_file()


def test_a_missing_environment_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDXAI_TRITON_ENV", str(tmp_path / "absent"))
    assert triton_environment() == tmp_path / "absent"
    with pytest.raises(UserError, match=r"no tritonserver in .*absent \(it does not exist\): "
                                        r"run `medxai triton setup`"):
        pytriton_server_dir()


@pytest.mark.slow
def test_a_python_backend_model_gets_its_inputs_while_medxai_runs_numpy_2(tmp_path):
    """Under NumPy 2 the wheel's stub passed every input as zeros; in its own environment it does not."""
    model = tmp_path / "repository" / "echo"
    (model / "1").mkdir(parents=True)
    (model / "config.pbtxt").write_text(ECHO_CONFIG)
    (model / "1" / "model.py").write_text(ECHO_MODEL)
    with TritonServer(tmp_path / "repository", http_port=free_port(), grpc_port=free_port(),
                      metrics_port=free_port(), log_path=tmp_path / "triton.log") as server:
        client = httpclient.InferenceServerClient(server.http_url)
        given = httpclient.InferInput("X", [3], "FP32")
        given.set_data_from_numpy(np.array([1.0, 2.5, -3.0], dtype=np.float32))
        result = client.infer("echo", [given])
        client.close()
    assert result.as_numpy("Y").tolist() == [2.0, 5.0, -6.0]
    assert result.as_numpy("NUMPY")[0].decode().startswith("1.")
