"""The one model shape every architecture shares: raw pixels -> Normalize -> features [N,C,h,w] -> head.

Normalisation lives inside the model, so exported graphs and served models take raw pixels in [0, 1].
"""

from collections.abc import Sequence

import torch
from torch import nn


class Normalize(nn.Module):
    """(x - mean) / std per channel, with the training split's statistics stored as buffers."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32)[None, :, None, None])
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32)[None, :, None, None])

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return (pixels - self.mean) / self.std


class ClassificationHead(nn.Module):
    """Global average pooling, Dropout(p), Linear (seed paper §3.3). Returns logits."""

    def __init__(self, in_features: int, num_classes: int, dropout: float = 0.3):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(features.mean(dim=(2, 3))))


class MedicalClassifier(nn.Module):
    """Raw pixels [N,3,H,W] in [0, 1] to logits [N,C].

    `gradcam_layer` names (dotted path) the module whose 4-D output the seed paper's Grad-CAM explains;
    `cam_layer` the one the product's default class-activation map uses (chosen by measurement; default: the same).
    `multi_label` decides the output activation: sigmoid when True, softmax otherwise (see `probabilities`).
    `temperature` (T > 0, from the checkpoint; `medxai.metrics.calibration`) scales the logits before that
    activation only: `forward` returns raw logits, so explanations (which use logits and log-probabilities)
    are unchanged by calibration; T never changes the predicted class.
    """

    def __init__(self, features: nn.Module, head: ClassificationHead, gradcam_layer: str, multi_label: bool = False,
                 mean: Sequence[float] = (0.5, 0.5, 0.5), std: Sequence[float] = (0.25, 0.25, 0.25),
                 cam_layer: str | None = None):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.features = features
        self.head = head
        self.gradcam_layer = gradcam_layer
        self.cam_layer = cam_layer or gradcam_layer
        self.multi_label = multi_label
        self.temperature = 1.0  # a plain float, not a buffer: weights files stay as they were, traced as a constant

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.normalize(pixels)))

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities [N,C] of logits [N,C]: the activation of logits / temperature."""
        scaled = logits / self.temperature
        return torch.sigmoid(scaled) if self.multi_label else torch.softmax(scaled, dim=1)

    def set_normalization(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.normalize.mean.copy_(torch.tensor(list(mean))[None, :, None, None])
        self.normalize.std.copy_(torch.tensor(list(std))[None, :, None, None])

    def gradcam_module(self) -> nn.Module:
        return self.get_submodule(self.gradcam_layer)
