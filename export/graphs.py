"""The exported graph, written as ONNX (for Triton) and TorchScript (for PyTorch-only consumers).

The graph takes raw pixels and returns probabilities, so clients never normalise and never apply softmax:
the checkpoint's normalisation and output activation travel inside the graph.
"""

import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from export.spec import INPUT_NAME, OUTPUT_NAME
from medxai.models import MedicalClassifier

MIN_OPSET = 17


class ServingGraph(nn.Module):
    """Raw pixels [N,3,S,S] (uint8 0-255, or float 0-1) to probabilities [N,C]."""

    def __init__(self, model: MedicalClassifier, input_dtype: str):
        super().__init__()
        self.model = model
        self.uint8_input = input_dtype == "uint8"
        self.eval()  # the whole graph, or exporters restore training mode (dropout) on the way out

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        pixels = image.to(torch.float32) / 255.0 if self.uint8_input else image
        return self.model.probabilities(self.model(pixels))

    def as_input(self, pixels: torch.Tensor) -> torch.Tensor:
        """Float pixels in [0, 1] in the dtype this graph takes."""
        return (pixels * 255).round().clamp(0, 255).to(torch.uint8) if self.uint8_input else pixels.float()


def export_onnx(graph: ServingGraph, example: torch.Tensor, path: Path, opset: int = MIN_OPSET) -> Path:
    """Write an ONNX graph with a dynamic batch axis, and check it with onnx's checker."""
    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} is below the supported minimum {MIN_OPSET}")
    with warnings.catch_warnings(), torch.no_grad():
        # The torch.export-based exporter needs onnxscript, which medxai does not ship; the TorchScript-based
        # one handles these CNNs and only warns that it is legacy.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(graph, (example,), str(path), dynamo=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
    onnx.checker.check_model(onnx.load(str(path)))
    return path


def export_torchscript(graph: ServingGraph, example: torch.Tensor, path: Path) -> Path:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated upstream but still the portable form
        # check_trace re-runs the model three times; the parity check verifies the saved file instead.
        torch.jit.trace(graph, example, check_trace=False).save(str(path))
    return path


def load_torchscript(path: Path) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(path), map_location="cpu").eval()
