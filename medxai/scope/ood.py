"""Out-of-distribution scores from a classifier's own outputs and pooled features; higher = further from the
training images. One function per method, so `medxai bench scope` can measure them side by side:

- maximum softmax probability (Hendrycks & Gimpel, ICLR 2017), the field's baseline: 1 - max p;
- energy (Liu, Wang, Owens & Li, NeurIPS 2020): -T logsumexp(logits / T), T = 1;
- Mahalanobis distance on pooled features (Lee, Lee, Lee & Shin, NeurIPS 2018): the distance to the nearest class
  mean under one covariance shared by the classes (estimated with Ledoit-Wolf shrinkage: a 2048-dim covariance
  from a few hundred images is singular without it);
- k-th nearest neighbour on L2-normalised features (Sun, Ming, Zhu & Li, ICML 2022).

The served method is Mahalanobis (`MahalanobisDetector`), chosen by measurement (docs/concepts/out-of-scope.md): it runs in
the exported graph as two small matrix products.
"""

import numpy as np
import torch
from torch import nn


def max_softmax_score(probabilities: np.ndarray) -> np.ndarray:
    """[N,C] probabilities -> [N] 1 - max p (Hendrycks & Gimpel 2017)."""
    return 1.0 - np.asarray(probabilities, dtype=np.float64).max(axis=1)


def energy_score(logits: np.ndarray) -> np.ndarray:
    """[N,C] logits -> [N] energy -logsumexp(logits) (Liu et al. 2020, T = 1)."""
    logits = np.asarray(logits, dtype=np.float64)
    top = logits.max(axis=1, keepdims=True)
    return -(top[:, 0] + np.log(np.exp(logits - top).sum(axis=1)))


def knn_score(train_features: np.ndarray, features: np.ndarray, k: int = 10) -> np.ndarray:
    """[N,D] features -> [N] distance to the k-th nearest of `train_features` [M,D], both L2-normalised
    (Sun et al. 2022; k = 10 of a few thousand training images is their small-data setting)."""
    def unit(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    distances = np.sqrt(np.maximum(2.0 - 2.0 * unit(features) @ unit(train_features).T, 0.0))
    return np.sort(distances, axis=1)[:, min(k, distances.shape[1]) - 1]


class MahalanobisDetector(nn.Module):
    """Pooled features [N,D] -> [N] squared Mahalanobis distance to the nearest class mean (Lee et al. 2018,
    without their input pre-processing and layer ensemble: one layer, no gradients, so it traces into ONNX)."""

    def __init__(self, class_means: torch.Tensor, precision: torch.Tensor):
        super().__init__()
        self.register_buffer("class_means", class_means.float())  # [C,D]
        self.register_buffer("precision", precision.float())  # [D,D], the shared covariance's inverse

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray) -> "MahalanobisDetector":
        """Class means and the Ledoit-Wolf shrunk precision of the class-centred features [N,D] with labels [N]
        (single-label class indices; multi-label data passes one label 0 for all: one mean)."""
        features, labels = np.asarray(features, dtype=np.float64), np.asarray(labels)
        classes = np.unique(labels)
        means = np.stack([features[labels == c].mean(axis=0) for c in classes])
        centred = features - means[np.searchsorted(classes, labels)]
        from sklearn.covariance import LedoitWolf  # imported when fitting: scikit-learn costs every command 1 s
        precision = LedoitWolf(assume_centered=True).fit(centred).precision_
        return cls(torch.from_numpy(means), torch.from_numpy(precision))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        difference = features.float()[:, None, :] - self.class_means[None]  # [N,C,D]
        distances = ((difference @ self.precision) * difference).sum(dim=-1)  # [N,C]
        return distances.min(dim=1).values


def detection_figures(in_scores: np.ndarray, out_scores: np.ndarray) -> dict[str, float]:
    """How well a score separates out-of-distribution images (positives, higher score) from in-distribution ones:
    AUROC, and the share of out-of-distribution images still accepted at the threshold that accepts 95 % of
    in-distribution ones ("FPR at 95 % TPR", in-distribution the positive class, as Liu et al. 2020 report it)."""
    in_scores, out_scores = np.asarray(in_scores, dtype=np.float64), np.asarray(out_scores, dtype=np.float64)
    truth = np.r_[np.zeros(len(in_scores)), np.ones(len(out_scores))]
    threshold = np.quantile(in_scores, 0.95)
    from sklearn.metrics import roc_auc_score
    return {"auroc": float(roc_auc_score(truth, np.r_[in_scores, out_scores])),
            "fpr_at_95_tpr": float(np.mean(out_scores <= threshold))}
