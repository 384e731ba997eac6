"""`medxai bench paired`: two models' served maps on the same images, image by image, with the Wilcoxon
signed-rank test of their differences (Wilcoxon 1945; `scipy.stats.wilcoxon`).

A training change (lesion guidance, a recipe) is judged by whether it moves localisation and faithfulness
beyond what the spread over images explains: the same images, the same explained classes, the served maps
(`pipeline.DEFAULT_METHODS`) of each model, and per (map, metric) both means, the mean difference and its p.
One pair of runs measures the images' spread, not the seeds'; the README says which it reports.
"""

import numpy as np
import torch
from scipy.stats import wilcoxon
from torch import nn

from medxai.explain.evaluation import model_predictor, per_image_metrics
from medxai.explain.pipeline import DEFAULT_METHODS, run_methods

PAIRED_METRICS = {"pointing_game": True, "iou": True, "deletion_auc": False}
"""The metrics compared, and whether higher is better (Quantus's convention of declaring the direction)."""


def per_image_scores(model: nn.Module, images: torch.Tensor, masks: torch.Tensor, targets: torch.Tensor,
                     precision: str = "auto", substitute: str = "blur", steps: int = 16
                     ) -> dict[str, dict[str, np.ndarray]]:
    """{map: {metric: [N]}} for the served maps of `model` on images [N,3,H,W] in [0, 1] with masks [N,H,W]
    (nonzero = lesion), explaining classes `targets` [N]; deletion AUC from `steps` curve steps."""
    explanations = run_methods(model, images, targets, list(DEFAULT_METHODS), precision=precision)
    predict = model_predictor(model, precision)
    return {name: per_image_metrics(predict, images, explanations[name].maps, masks, targets, substitute, steps,
                                    tuple(PAIRED_METRICS))
            for name in DEFAULT_METHODS}


def wilcoxon_p(first: np.ndarray, second: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p of the paired differences; 1.0 when no pair differs (scipy refuses an
    all-zero sample). Raises ValueError when the samples differ in length."""
    if first.shape != second.shape:
        raise ValueError(f"paired samples differ in shape: {first.shape} and {second.shape}")
    if not np.any(second - first):
        return 1.0
    return float(wilcoxon(first, second).pvalue)


def paired_comparison(first: dict[str, dict[str, np.ndarray]], second: dict[str, dict[str, np.ndarray]]
                      ) -> dict[str, dict[str, dict]]:
    """{map: {metric: {first, second, difference (second - first, means), better ('first', 'second' or
    'same' by the metric's direction), wilcoxon_p, images}}} for two `per_image_scores` results."""
    table: dict[str, dict[str, dict]] = {}
    for name, metrics in first.items():
        table[name] = {}
        for metric, higher_is_better in PAIRED_METRICS.items():
            a, b = metrics[metric], second[name][metric]
            difference = float(np.mean(b - a))
            better = "same" if difference == 0 else ("second" if (difference > 0) == higher_is_better else "first")
            table[name][metric] = {"first": float(np.mean(a)), "second": float(np.mean(b)),
                                   "difference": difference, "better": better, "wilcoxon_p": wilcoxon_p(a, b),
                                   "images": len(a)}
    return table


def markdown(table: dict[str, dict[str, dict]], first: str, second: str) -> str:
    """The table as README rows: map | metric | first | second | difference | Wilcoxon p."""
    lines = [f"| map | metric | {first} | {second} | difference | Wilcoxon p |", "|---|---|---|---|---|---|"]
    for name, metrics in table.items():
        for metric, row in metrics.items():
            lines.append(f"| {name} | {metric.replace('_', ' ')} | {row['first']:.3f} | {row['second']:.3f} | "
                         f"{row['difference']:+.3f} | {row['wilcoxon_p']:.3g} |")
    return "\n".join(lines)
