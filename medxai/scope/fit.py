"""Fitting a model's scope after training: the OOD detector on the training images' pooled features, its threshold
and the conformal quantile on the validation fold (images the weights never saw, so both hold for new images)."""

import math

import numpy as np
import torch
from scipy.stats import norm
from torch.utils.data import DataLoader, Dataset, Subset

from medxai.models import MedicalClassifier
from medxai.scope.conformal import DEFAULT_ALPHA, DEFAULT_METHOD, conformal_quantile, coverage
from medxai.scope.intended_use import IntendedUse, colour_of
from medxai.scope.ood import MahalanobisDetector
from medxai.scope.scope import DEFAULT_ACCEPT, Scope

MAX_FIT_IMAGES = 2000
"""Training images the detector is fitted on (a seeded draw above this): the covariance of 2048 features settles
well before, and fitting stays under a minute on two cores."""


def logits_and_features(model: MedicalClassifier, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw pixels [N,3,S,S] -> logits [N,C] and the head's input, the globally average-pooled features [N,D]."""
    features = model.features(model.normalize(pixels))
    return model.head(features), features.mean(dim=(2, 3))


@torch.inference_mode()
def collect(model: MedicalClassifier, dataset: Dataset, batch_size: int = 32, max_images: int | None = None,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logits [N,C], pooled features [N,D] (float32, no autocast: as the exported graph computes them) and
    targets of a dataset whose items are dicts with `image` and `target` (`ImageDataset`)."""
    if max_images is not None and len(dataset) > max_images:
        picks = np.sort(np.random.default_rng(seed).permutation(len(dataset))[:max_images])
        dataset = Subset(dataset, picks.tolist())
    model = model.eval()
    device = next(model.parameters()).device
    logits, features, targets = [], [], []
    for batch in DataLoader(dataset, batch_size=batch_size):
        batch_logits, batch_features = logits_and_features(model, batch["image"].to(device).float())
        logits.append(batch_logits.float().cpu().numpy())
        features.append(batch_features.float().cpu().numpy())
        targets.append(batch["target"].numpy())
    return np.concatenate(logits), np.concatenate(features), np.concatenate(targets)


def ood_threshold(scores: np.ndarray, accept: float) -> float:
    """The score at or below which a share `accept` of in-distribution images falls, from validation scores [N].

    Where the fold is large enough ((N + 1)(1 - accept) >= 1: 99 images at 99 %), the ceil((N + 1) accept)-th
    smallest score: split conformal's order statistic, so a new in-distribution image is refused with
    probability at most 1 - accept (Angelopoulos & Bates 2021, §1; images exchangeable with the fold).
    On a smaller fold that rank does not exist; the `accept` quantile of a log-normal fitted to the scores
    extrapolates beyond the largest one instead. Measured: on the suite's phantom model (39 validation images)
    the largest score was 678 and 1 of 48 held-out images scored 893, while the log-normal's 99 % quantile was
    815; on the brain MRI model (455 images), whose log-scores lean left, the log-normal's 1783 lay above every
    validation score (largest 1632, order statistic 1564) and let 5 to 9 % of pydicom's non-MR images through."""
    scores = np.sort(np.asarray(scores, dtype=np.float64))
    rank = math.ceil((len(scores) + 1) * accept)
    if rank <= len(scores):
        return float(scores[rank - 1])
    logs = np.log(np.maximum(scores, 1e-12))
    return float(np.exp(logs.mean() + norm.ppf(accept) * logs.std(ddof=1))) if len(scores) > 2 else np.inf


def fit_scope(model: MedicalClassifier, train_set: Dataset, val_set: Dataset, intended_use: IntendedUse,
              accept: float = DEFAULT_ACCEPT, alpha: float = DEFAULT_ALPHA, method: str = DEFAULT_METHOD) -> Scope:
    """The scope of a trained model (with its temperature set): Mahalanobis detector on up to MAX_FIT_IMAGES
    training images, threshold from the validation images' scores (`ood_threshold`), APS quantile at error
    rate `alpha` (`method`: lac or aps) on the validation images' calibrated probabilities (single-label models only). `intended_use`
    gets its colour from the training images when not given."""
    if not 0 < accept < 1:
        raise ValueError(f"accept must be in (0, 1), got {accept}")
    _, train_features, train_targets = collect(model, train_set, max_images=MAX_FIT_IMAGES)
    val_logits, val_features, val_targets = collect(model, val_set)
    labels = np.zeros(len(train_targets), dtype=np.int64) if model.multi_label else train_targets
    detector = MahalanobisDetector.fit(train_features, labels)
    with torch.inference_mode():
        val_scores = detector(torch.from_numpy(val_features)).numpy()
    threshold = ood_threshold(val_scores, accept)
    if not intended_use.colour:
        sample = np.stack([train_set[i]["image"].numpy() for i in range(min(32, len(train_set)))])
        intended_use.colour = colour_of(sample)
    validation = {"images": len(val_targets), "accepted": float(np.mean(val_scores <= threshold))}
    quantile = None
    if not model.multi_label:
        probabilities = model.probabilities(torch.from_numpy(val_logits)).numpy()
        quantile = conformal_quantile(probabilities, val_targets, alpha, method)
        validation["coverage"], validation["mean_set_size"] = coverage(probabilities, val_targets, quantile, method)
    return Scope(intended_use, detector, threshold, accept, alpha, quantile, validation, method)


@torch.inference_mode()
def probabilities_and_ood(model: MedicalClassifier, scope: Scope | None, pixels: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Raw pixels [N,3,S,S] -> calibrated probabilities [N,C] and OOD scores [N] (None without a detector): what
    the exported graph returns, in PyTorch (under whatever autocast the caller set; the detector runs in fp32)."""
    logits, features = logits_and_features(model, pixels)
    probabilities = model.probabilities(logits.float())
    if scope is None or scope.detector is None:
        return probabilities, None
    return probabilities, scope.detector(features.float())
