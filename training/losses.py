"""The classification loss: weighted cross-entropy with label smoothing (single-label), or weighted
binary cross-entropy with smoothed targets and uncertain findings masked out (multi-label)."""

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from medxai.data.records import DatasetSpec


def class_weights(spec: DatasetSpec) -> torch.Tensor:
    """Inverse-frequency weights (mean 1) for single-label; positive/negative ratio per finding for multi-label."""
    targets = spec.targets()
    if spec.multi_label:
        positives = (targets > 0.5).sum(axis=0)
        negatives = (targets == 0).sum(axis=0)
        return torch.tensor(np.clip(negatives / np.maximum(positives, 1), 0.1, 100.0), dtype=torch.float32)
    counts = np.bincount(targets, minlength=len(spec.class_names)).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / len(counts), 0.0)
    return torch.tensor(weights / weights[counts > 0].mean(), dtype=torch.float32)


class ClassificationLoss(nn.Module):
    def __init__(self, weights: torch.Tensor, multi_label: bool, label_smoothing: float = 0.1):
        super().__init__()
        self.register_buffer("weights", weights)
        self.multi_label = multi_label
        self.label_smoothing = label_smoothing

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        if not self.multi_label:
            return F.cross_entropy(logits, targets, weight=self.weights, label_smoothing=self.label_smoothing)
        known = (targets >= 0).float()
        smoothed = targets.clamp_min(0) * (1 - self.label_smoothing) + self.label_smoothing / 2
        loss = F.binary_cross_entropy_with_logits(logits, smoothed, pos_weight=self.weights, reduction="none")
        return (loss * known).sum() / known.sum().clamp_min(1)
