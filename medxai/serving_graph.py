"""The graph every inference-only path runs: raw pixels in, probabilities (and, with the checkpoint's
out-of-distribution detector, the OOD score) out, written as ONNX.

`medxai export` writes it for Triton; LIME runs the same graph in ONNX Runtime in process
(`medxai.explain.onnx_predictor`), so both describe one model. The checkpoint's normalisation, calibration
temperature and output activation travel inside the graph: clients never normalise, never scale and never apply
softmax.
"""

import io
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from medxai.models import MedicalClassifier

INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
OOD_OUTPUT_NAME = "ood_score"
"""[N,1] squared Mahalanobis distance of the pooled features to the nearest class mean (`medxai.scope.ood`)."""
MIN_OPSET = 17


class ServingGraph(nn.Module):
    """Raw pixels [N,3,S,S] (uint8 0-255, or float 0-1) to calibrated probabilities [N,C] (the model's
    `probabilities`: softmax or sigmoid of logits / T, T traced as a constant) and, with a `detector` (pooled
    features [N,D] -> [N]), the OOD score [N,1] beside them: the same features feed both, in one pass."""

    def __init__(self, model: MedicalClassifier, input_dtype: str = "float32", detector: nn.Module | None = None):
        super().__init__()
        self.model = model
        self.detector = detector
        self.uint8_input = input_dtype == "uint8"
        self.eval()  # the whole graph, or exporters restore training mode (dropout) on the way out

    @property
    def output_names(self) -> list[str]:
        return [OUTPUT_NAME] + ([OOD_OUTPUT_NAME] if self.detector is not None else [])

    def forward(self, image: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        pixels = image.to(torch.float32) / 255.0 if self.uint8_input else image
        features = self.model.features(self.model.normalize(pixels))
        probabilities = self.model.probabilities(self.model.head(features))
        if self.detector is None:
            return probabilities
        return probabilities, self.detector(features.mean(dim=(2, 3)))[:, None]

    def as_input(self, pixels: torch.Tensor) -> torch.Tensor:
        """Float pixels in [0, 1] in the dtype this graph takes."""
        return (pixels * 255).round().clamp(0, 255).to(torch.uint8) if self.uint8_input else pixels.float()


def export_onnx(graph: ServingGraph, example: torch.Tensor, path: Path | None = None, opset: int = MIN_OPSET
                ) -> bytes:
    """The ONNX graph (dynamic batch axis, checked by onnx's checker) as bytes, also written to `path` if given."""
    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} is below the supported minimum {MIN_OPSET}")
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The torch.export-based exporter needs onnxscript, which medxai does not ship; the TorchScript-based
        # one handles these CNNs and only warns that it is legacy.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(graph, (example.cpu(),), buffer, dynamo=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=graph.output_names,
                          dynamic_axes={name: {0: "batch"} for name in [INPUT_NAME, *graph.output_names]})
    data = buffer.getvalue()
    onnx.checker.check_model(onnx.load_from_string(data))
    if path is not None:
        Path(path).write_bytes(data)
    return data
