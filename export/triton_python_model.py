"""Triton Python-backend model (copied into each version folder as `model.py`): runs the version's
`model.onnx` with ONNX Runtime, so the CPU config serves the very file the GPU config serves.

Triton's dynamic batcher hands `execute` several requests at once; they are concatenated into one
ONNX Runtime call, which is where batching pays off. Runs inside Triton's stub, not in medxai.
"""

import json
import os

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        parameters = {key: value["string_value"] for key, value in config.get("parameters", {}).items()}
        providers = parameters.get("onnxruntime_providers", "CPUExecutionProvider").split(",")
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        self.session = ort.InferenceSession(path, providers=providers)
        if self.session.get_providers()[0] != providers[0]:
            raise RuntimeError(f"ONNX Runtime could not use {providers[0]} (has {self.session.get_providers()}); "
                               f"on CUDA machines install medxai[gpu]")
        self.input_name = config["input"][0]["name"]
        self.output_names = [output["name"] for output in config["output"]]  # probabilities (and ood_score)

    def execute(self, requests: list) -> list:
        arrays = [pb_utils.get_input_tensor_by_name(request, self.input_name).as_numpy() for request in requests]
        outputs = self.session.run(self.output_names, {self.input_name: np.concatenate(arrays)})
        ends = np.cumsum([len(array) for array in arrays])[:-1]
        parts = [np.split(output, ends) for output in outputs]
        return [pb_utils.InferenceResponse([pb_utils.Tensor(name, part[i])
                                            for name, part in zip(self.output_names, parts)])
                for i in range(len(arrays))]
