"""The exported graphs: ONNX (for Triton; `medxai.serving_graph`, shared with the in-process LIME path) and
TorchScript (for PyTorch-only consumers)."""

import warnings
from pathlib import Path

import torch

from medxai.serving_graph import ServingGraph


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
