"""Diagnostic metrics (seed paper §3.5), macro-averaged: accuracy, one-vs-rest AUC, precision, recall, F1,
per-class AUC and the confusion matrix. Multi-label targets may hold UNCERTAIN (-1), which is left out."""

import math
from pathlib import Path

import numpy as np

HIGHER_IS_BETTER = {"accuracy": True, "auc": True, "precision": True, "recall": True, "f1": True, "loss": False}


# scikit-learn is imported in the functions that use it: at module level it cost every command that imports this
# one (predict, evaluate, train) about a second. (LIME imports it anyway: explain and the service pay it there.)


def _auc_or_nan(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else math.nan


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def classification_metrics(probabilities: np.ndarray, targets: np.ndarray, class_names: list[str],
                           multi_label: bool = False) -> dict:
    """Metrics of [N, C] probabilities against [N] class indices or [N, C] multi-hot targets."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if multi_label:
        return _multi_label_metrics(probabilities, np.asarray(targets, dtype=np.float64), class_names)
    targets = np.asarray(targets, dtype=np.int64)
    predictions = probabilities.argmax(axis=1)
    labels = list(range(len(class_names)))
    precision, recall, f1, _ = precision_recall_fscore_support(targets, predictions, labels=labels,
                                                               average="macro", zero_division=0)
    per_class = {name: _auc_or_nan((targets == i).astype(int), probabilities[:, i])
                 for i, name in enumerate(class_names)}
    return {
        "accuracy": float((predictions == targets).mean()),
        "auc": _nanmean(list(per_class.values())),
        "precision": float(precision), "recall": float(recall), "f1": float(f1),
        "per_class_auc": per_class,
        "confusion_matrix": confusion_matrix(targets, predictions, labels=labels).tolist(),
        "n": int(len(targets)),
    }


def _multi_label_metrics(probabilities: np.ndarray, targets: np.ndarray, class_names: list[str]) -> dict:
    """Per finding, over the images where it is known; accuracy is the mean per-finding accuracy at 0.5."""
    from sklearn.metrics import precision_recall_fscore_support
    per_class, accuracy, precision, recall, f1 = {}, [], [], [], []
    for i, name in enumerate(class_names):
        known = targets[:, i] >= 0
        truth, scores = targets[known, i].astype(int), probabilities[known, i]
        per_class[name] = _auc_or_nan(truth, scores) if known.any() else math.nan
        if known.any():
            p, r, f, _ = precision_recall_fscore_support(truth, scores >= 0.5, average="binary", zero_division=0)
            accuracy.append(float(((scores >= 0.5) == truth).mean()))
            precision.append(p), recall.append(r), f1.append(f)
    return {"accuracy": _nanmean(accuracy), "auc": _nanmean(list(per_class.values())),
            "precision": _nanmean(precision), "recall": _nanmean(recall), "f1": _nanmean(f1),
            "per_class_auc": per_class, "n": int(len(targets))}


def plot_roc(probabilities: np.ndarray, targets: np.ndarray, class_names: list[str], multi_label: bool,
             path: str | Path, title: str = "ROC") -> Path:
    """One-vs-rest ROC curve per class in one PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    figure, axis = plt.subplots(figsize=(5, 5))
    for i, name in enumerate(class_names):
        if multi_label:
            known = targets[:, i] >= 0
            truth, scores = targets[known, i].astype(int), probabilities[known, i]
        else:
            truth, scores = (np.asarray(targets) == i).astype(int), probabilities[:, i]
        if 0 < truth.sum() < len(truth):
            fpr, tpr, _ = roc_curve(truth, scores)
            axis.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(truth, scores):.3f})")
    axis.plot([0, 1], [0, 1], "k--", linewidth=0.8)
    axis.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)
