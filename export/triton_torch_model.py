"""Triton Python-backend model for the `gpu-python` target (copied into each version folder as
`model_torch.py`): runs the version's TorchScript `model.pt` with PyTorch on the instance's GPU.

It makes the `tritonserver` of the nvidia-pytriton wheel (GPU-enabled, but shipping only the Python backend)
serve on any CUDA machine. Inputs and outputs cross by DLPack without host copies (the config turns
FORCE_CPU_ONLY_INPUT_TENSORS off); the requests Triton's dynamic batcher hands over are concatenated into one
forward pass; bf16 autocast where `medxai.precision` says the GPU computes it natively (the `precision` parameter).
Runs inside Triton's stub, in the stub's environment (`.venv/triton`, NumPy 1), which imports PyTorch and medxai
from medxai's environment (medxai/triton_server.py).
"""

import json
import os

import torch
import triton_python_backend_utils as pb_utils
from torch.utils.dlpack import from_dlpack, to_dlpack

from medxai.precision import resolve


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        parameters = {key: value["string_value"] for key, value in config.get("parameters", {}).items()}
        on_gpu = args["model_instance_kind"] == "GPU"
        self.device = torch.device(f"cuda:{args['model_instance_device_id']}" if on_gpu else "cpu")
        path = os.path.join(args["model_repository"], args["model_version"], "model.pt")
        self.model = torch.jit.load(path, map_location=self.device).eval()
        self.bf16 = resolve(parameters.get("precision", "auto"), self.device) == "bf16"
        self.input_name = config["input"][0]["name"]
        self.output_names = [output["name"] for output in config["output"]]  # probabilities (and ood_score)

    def execute(self, requests: list) -> list:
        parts = [from_dlpack(pb_utils.get_input_tensor_by_name(request, self.input_name).to_dlpack())
                 for request in requests]
        batch = torch.cat(parts).to(self.device, non_blocking=True)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            outputs = self.model(batch)  # autocast applies to the traced graph's ops at run time
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        sizes = [len(part) for part in parts]
        split = [output.float().split(sizes) for output in outputs]
        return [pb_utils.InferenceResponse([pb_utils.Tensor.from_dlpack(name, to_dlpack(pieces[i].contiguous()))
                                            for name, pieces in zip(self.output_names, split)])
                for i in range(len(parts))]
