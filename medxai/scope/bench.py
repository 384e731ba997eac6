"""`medxai bench scope`: how well each out-of-distribution score tells the model's own images from images it was
never meant for, and what the served threshold and prediction sets do on the model's validation images.

In-distribution: the data's images whose ids are in `ids` (the run's `validation_ids.txt`: never trained on).
Training features (kNN, and Mahalanobis for a checkpoint without a detector): the data's other images.
Out-of-distribution: any folder (a labelled data source, or every readable image file under it, first frame).
"""

from pathlib import Path

import numpy as np
import torch

from medxai.checkpoint import load_checkpoint
from medxai.data import ImageDataset, load_dataset, read_frames
from medxai.data.dataset import to_model_input
from medxai.errors import UserError
from medxai.scope import Scope
from medxai.scope.conformal import METHODS as CONFORMAL_METHODS, conformal_quantile, coverage
from medxai.scope.fit import MAX_FIT_IMAGES, collect, logits_and_features, ood_threshold
from medxai.scope.intended_use import tag_values
from medxai.scope.ood import (MahalanobisDetector, detection_figures, energy_score, knn_score,
                              max_softmax_score)

METHODS = ("max_softmax", "energy", "mahalanobis", "knn")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm", ".npy", ""}


def far_images(folder: Path, image_size: int, limit: int, exclude_modality: set[str] = frozenset()
               ) -> tuple[torch.Tensor, list[str]]:
    """Up to `limit` images [N,3,S,S] from `folder` (its records when it is a data source, else every readable
    image file under it, first frame) and their names; DICOM files whose Modality is in `exclude_modality` and
    files no decoder reads are skipped."""
    try:
        paths = [r.source for r in load_dataset(folder).records if isinstance(r.source, Path)]
    except UserError:
        paths = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    pixels, names = [], []
    for path in paths:
        if len(pixels) >= limit:
            break
        tags = tag_values(path.read_bytes()) if path.suffix.lower() in (".dcm", "") else None
        if tags and tags[0].upper() in exclude_modality:
            continue
        try:
            frame = read_frames(path)[0]
        except (UserError, Exception):  # noqa: BLE001 - a damaged corpus file is skipped, not fatal
            continue
        pixels.append(to_model_input(frame, image_size))
        names.append(path.name)
    if not pixels:
        raise UserError(f"no readable image in {folder}")
    return torch.stack(pixels), names


def bench_scope(checkpoint: Path, data: Path, ids: Path, far: dict[str, Path], limit: int = 200,
                exclude_modality: set[str] = frozenset()) -> dict:
    """Per out-of-distribution set and method: AUROC and FPR at 95 % TPR; for the served detector, the share of
    each set refused at the checkpoint's threshold; on the validation images, the share refused and the conformal
    coverage and mean set size."""
    model, info = load_checkpoint(checkpoint)
    scope = Scope.from_dict(info.scope)
    spec = load_dataset(data)
    chosen = set(spec.chosen(ids_file=ids))
    val_set = ImageDataset(spec.subset(sorted(chosen)), info.image_size)
    train_set = ImageDataset(spec.subset([i for i in range(len(spec.records)) if i not in chosen]), info.image_size,
                             cache=False)
    _, train_features, train_targets = collect(model, train_set, max_images=MAX_FIT_IMAGES)
    val_logits, val_features, val_targets = collect(model, val_set)
    detector = scope.detector if scope and scope.detector is not None else MahalanobisDetector.fit(
        train_features, np.zeros(len(train_targets), dtype=np.int64) if info.multi_label else train_targets)

    def scores(logits: np.ndarray, features: np.ndarray) -> dict[str, np.ndarray]:
        probabilities = model.probabilities(torch.from_numpy(logits)).numpy()
        with torch.inference_mode():
            distance = detector(torch.from_numpy(features)).numpy()
        return {"max_softmax": max_softmax_score(probabilities), "energy": energy_score(logits),
                "mahalanobis": distance, "knn": knn_score(train_features, features)}

    inside = scores(val_logits, val_features)
    threshold = scope.threshold if scope else float(np.quantile(inside["mahalanobis"], 0.99))
    report = {"checkpoint": str(checkpoint), "validation_images": len(val_targets), "threshold": threshold,
              "validation_refused": float(np.mean(inside["mahalanobis"] > threshold)),
              "split_refused": split_refused(inside["mahalanobis"], scope.accept if scope else 0.99), "sets": {}}
    if not info.multi_label and scope and scope.quantile is not None:
        probabilities = model.probabilities(torch.from_numpy(val_logits)).numpy()
        report["alpha"] = scope.alpha
        report["conformal_method"] = scope.conformal_method
        report["coverage"], report["mean_set_size"] = coverage(probabilities, val_targets, scope.quantile,
                                                               scope.conformal_method)
        report["split"] = {method: split_coverage(probabilities, val_targets, scope.alpha, method)
                           for method in CONFORMAL_METHODS}
    for name, folder in far.items():
        pixels, names = far_images(folder, info.image_size, limit, exclude_modality)
        with torch.inference_mode():
            logits, features = logits_and_features(model.eval(), pixels)
        outside = scores(logits.float().numpy(), features.float().numpy())
        report["sets"][name] = {"images": len(names), "refused": float(np.mean(outside["mahalanobis"] > threshold)),
                                **{m: detection_figures(inside[m], outside[m]) for m in METHODS}}
    return report


def split_refused(scores: np.ndarray, accept: float, repeats: int = 200, seed: int = 0) -> float:
    """Share of in-distribution images refused by a threshold fitted (`ood_threshold`) on images other than
    them: the validation images split in random halves `repeats` times (seeded)."""
    rng = np.random.default_rng(seed)
    shares = []
    for _ in range(repeats):
        order = rng.permutation(len(scores))
        fit, held = order[: len(order) // 2], order[len(order) // 2:]
        shares.append(float(np.mean(scores[held] > ood_threshold(scores[fit], accept))))
    return float(np.mean(shares))


def split_coverage(probabilities: np.ndarray, targets: np.ndarray, alpha: float, method: str, repeats: int = 200,
                   seed: int = 0) -> tuple[float, float]:
    """Coverage and mean set size on images the quantile was not fitted on: the validation images split in random
    halves `repeats` times, the quantile fitted on one half and applied to the other (seeded)."""
    rng = np.random.default_rng(seed)
    hits, sizes = [], []
    for _ in range(repeats):
        order = rng.permutation(len(targets))
        fit, held = order[: len(order) // 2], order[len(order) // 2:]
        covered, size = coverage(probabilities[held], targets[held],
                                 conformal_quantile(probabilities[fit], targets[fit], alpha, method), method)
        hits.append(covered)
        sizes.append(size)
    return float(np.mean(hits)), float(np.mean(sizes))


def markdown(report: dict) -> str:
    """The report as a table: one row per out-of-distribution set, AUROC (FPR at 95 % TPR) per method."""
    lines = ["| images | n | refused at the served threshold | " + " | ".join(METHODS) + " |",
             "|---|---|---|" + "---|" * len(METHODS)]
    for name, row in report["sets"].items():
        cells = [f"{row[m]['auroc']:.3f} ({row[m]['fpr_at_95_tpr']:.2f})" for m in METHODS]
        lines.append(f"| {name} | {row['images']} | {row['refused']:.3f} | " + " | ".join(cells) + " |")
    lines.append(f"| validation (in scope) | {report['validation_images']} | {report['validation_refused']:.3f} "
                 f"(threshold fitted on them); {report['split_refused']:.3f} fitted on one half, measured on the "
                 "other | " + " | ".join("-" for _ in METHODS) + " |")
    if "coverage" in report:
        lines.append("")
        lines.append(f"Prediction sets at alpha {report['alpha']:g} (target coverage {1 - report['alpha']:.2f}), "
                     f"{report['conformal_method']} (served): coverage {report['coverage']:.3f}, mean set size "
                     f"{report['mean_set_size']:.2f}, on the {report['validation_images']} validation images the "
                     "quantile was fitted on. Fitted on one random half and measured on the other (200 splits): "
                     + "; ".join(f"{m} coverage {c:.3f}, mean size {z:.2f}" for m, (c, z) in report["split"].items())
                     + ".")
    return "\n".join(lines)
