"""Parity of exported graphs with PyTorch on the same inputs: max absolute difference and top-1 agreement.

An exported model that disagrees with the checkpoint it came from would silently serve other answers than
the ones we validated and explain; the release gate refuses it.
"""

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from export.graphs import load_torchscript
from medxai.serving_graph import ServingGraph

DEFAULT_TOLERANCE = 1e-4
"""On probabilities in [0, 1]; fp32 graphs differ from eager PyTorch by ~1e-6."""


@dataclass
class ParityReport:
    runtime: str
    images: int
    max_abs_diff: float
    top1_agreement: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance and self.top1_agreement == 1.0

    def line(self) -> str:
        verdict = "ok" if self.passed else "FAILED"
        return (f"{self.runtime} parity {verdict}: max |diff| {self.max_abs_diff:.2e} "
                f"(tolerance {self.tolerance:.0e}), top-1 agreement {self.top1_agreement:.1%} on {self.images} images")

    def as_dict(self) -> dict:
        return asdict(self) | {"passed": self.passed}


def compare(runtime: str, reference: np.ndarray, candidate: np.ndarray, tolerance: float) -> ParityReport:
    """Compare [N,C] outputs of one runtime with the PyTorch reference."""
    diff = float(np.abs(reference.astype(np.float64) - candidate.astype(np.float64)).max())
    agreement = float((reference.argmax(axis=1) == candidate.argmax(axis=1)).mean())
    return ParityReport(runtime, len(reference), diff, agreement, tolerance)


def onnx_outputs(path: Path, inputs: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: inputs})[0]


def first(outputs: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The probabilities of a graph's outputs (the OOD score, where there is one, comes second)."""
    return outputs[0] if isinstance(outputs, tuple) else outputs


def check_parity(graph: ServingGraph, onnx_path: Path, torchscript_path: Path, pixels: torch.Tensor,
                 tolerance: float = DEFAULT_TOLERANCE) -> list[ParityReport]:
    """ONNX Runtime and TorchScript against eager PyTorch, on `pixels` (float [N,3,S,S] in [0, 1])."""
    inputs = graph.as_input(pixels)
    with torch.no_grad():
        reference = first(graph(inputs)).numpy()
        scripted = first(load_torchscript(torchscript_path)(inputs)).numpy()
    return [compare("onnxruntime", reference, onnx_outputs(onnx_path, inputs.numpy()), tolerance),
            compare("torchscript", reference, scripted, tolerance)]
