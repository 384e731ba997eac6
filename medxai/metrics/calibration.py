"""Calibration: expected calibration error, reliability-diagram data and temperature scaling.

Source: Guo, Pleiss, Sun and Weinberger, "On Calibration of Modern Neural Networks", ICML 2017 (§2 for ECE
and the reliability diagram, §4.2 for temperature scaling). A clinician reads 0.9 as 90 %; ECE says by how
much, on average over the predictions, the model's confidence differs from how often it is right.

Single-label (softmax) models: confidence is the top-label probability, correct means the top label is the
true class (Guo et al.'s definition). Multi-label (sigmoid) models: every (image, finding) output is its own
binary prediction of "finding present", so confidence is that probability and the outcome is the label
(uncertain labels, -1, are left out); one temperature is fitted on the sigmoid NLL of all of them. One T for
all findings keeps the model's rankings and the graph unchanged in shape; per-finding T would fit better but
needs per-finding validation positives that CheXpert-sized folds do have and phantoms do not.
"""

import math
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_expit, log_softmax

DEFAULT_BINS = 15
TEMPERATURE_BOUNDS = (0.05, 20.0)  # wider than any T Guo et al. report (about 1 to 4); a fit at a bound says so


def _confidence_and_outcome(probabilities: np.ndarray, targets: np.ndarray, multi_label: bool
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Per prediction: its confidence in [0, 1] and whether it came true (0/1)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if multi_label:
        targets = np.asarray(targets, dtype=np.float64)
        known = targets >= 0
        return probabilities[known], targets[known]
    targets = np.asarray(targets, dtype=np.int64)
    return probabilities.max(axis=1), (probabilities.argmax(axis=1) == targets).astype(np.float64)


def reliability_bins(probabilities: np.ndarray, targets: np.ndarray, multi_label: bool = False,
                     bins: int = DEFAULT_BINS) -> list[dict]:
    """The reliability diagram's data: for each of `bins` equal-width confidence bins ((lo, hi], the first
    also holding 0), its bounds, count, mean confidence and accuracy (nan when empty).

    probabilities: [N, C]; targets: [N] class indices, or [N, C] multi-hot (-1 = uncertain) when multi_label.
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    confidence, outcome = _confidence_and_outcome(probabilities, targets, multi_label)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        chosen = index == b
        count = int(chosen.sum())
        rows.append({"lower": float(edges[b]), "upper": float(edges[b + 1]), "count": count,
                     "confidence": float(confidence[chosen].mean()) if count else math.nan,
                     "accuracy": float(outcome[chosen].mean()) if count else math.nan})
    return rows


def expected_calibration_error(probabilities: np.ndarray, targets: np.ndarray, multi_label: bool = False,
                               bins: int = DEFAULT_BINS) -> float:
    """ECE = sum over bins of (n_b / n) * |accuracy_b - confidence_b| (Guo et al. 2017, eq. 3), in [0, 1];
    nan when there is no prediction. Shapes as `reliability_bins`."""
    rows = reliability_bins(probabilities, targets, multi_label, bins)
    total = sum(row["count"] for row in rows)
    if total == 0:
        return math.nan
    return float(sum(row["count"] / total * abs(row["accuracy"] - row["confidence"]) for row in rows if row["count"]))


def negative_log_likelihood(logits: np.ndarray, targets: np.ndarray, temperature: float = 1.0,
                            multi_label: bool = False) -> float:
    """Mean NLL of softmax(logits / T) (or of each known sigmoid(logits / T) output when multi_label), in nats."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    if multi_label:
        targets = np.asarray(targets, dtype=np.float64)
        known = targets >= 0
        y, z = targets[known], scaled[known]
        return float(-(y * log_expit(z) + (1 - y) * log_expit(-z)).mean())
    targets = np.asarray(targets, dtype=np.int64)
    return float(-log_softmax(scaled, axis=1)[np.arange(len(targets)), targets].mean())


def fit_temperature(logits: np.ndarray, targets: np.ndarray, multi_label: bool = False) -> float:
    """The single T > 0 that minimises the mean NLL of logits / T on held-out (validation) data.

    logits: [N, C] raw model outputs; targets as `reliability_bins`. Raises ValueError without a prediction.
    Why scipy's bounded Brent search on log T (`minimize_scalar(method="bounded")`) rather than Guo et al.'s
    L-BFGS: the problem has one scalar, the NLL is convex in 1/T so one minimum lies inside the bounds, and a
    derivative-free bounded search needs no autograd, no learning rate and no start point, and cannot step to
    T <= 0. The fit does not change the argmax, so accuracy is unchanged.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or len(logits) == 0:
        raise ValueError(f"need logits of shape [N, C] with N >= 1, got {logits.shape}")
    low, high = (math.log(bound) for bound in TEMPERATURE_BOUNDS)
    result = minimize_scalar(lambda log_t: negative_log_likelihood(logits, targets, math.exp(log_t), multi_label),
                             bounds=(low, high), method="bounded", options={"xatol": 1e-5})
    return float(math.exp(result.x))


def separable(logits: np.ndarray, targets: np.ndarray, multi_label: bool = False) -> bool:
    """Whether every prediction is right with a margin (every known sigmoid output on its label's side of 0 when
    multi_label). Then each image's NLL term falls as T -> 0, so the NLL of logits / T has no minimum; one wrong
    prediction makes its term grow without bound as T -> 0, and a minimum exists. Shapes as `fit_temperature`."""
    logits = np.asarray(logits, dtype=np.float64)
    if multi_label:
        targets = np.asarray(targets, dtype=np.float64)
        known = targets >= 0
        return bool(np.all(np.where(targets[known] == 1, logits[known], -logits[known]) > 0))
    rows, targets = np.arange(len(logits)), np.asarray(targets, dtype=np.int64)
    margins = logits[rows, targets][:, None] - logits  # the true class's logit over each other's
    margins[rows, targets] = np.inf
    return bool(np.all(margins > 0))


def applied_temperature(logits: np.ndarray, targets: np.ndarray, multi_label: bool = False
                        ) -> tuple[float, float, str | None]:
    """The temperature a model should carry, the one `fit_temperature` found, and why they differ (or None).

    On a `separable` fold (every validation image right with a margin) temperature scaling has no minimum to
    find: the search runs towards its lower bound, where every probability becomes 0 or 1, a certainty the fold
    cannot show (a model right on all of 20 validation images is not right on all of the next 48). Guo et al.
    fit T on folds with errors. So T = 1 is kept there, and the reason returned. A fit at the upper bound (a
    model near chance on the fold) is applied, with a note: it flattens the probabilities, which claims less."""
    fitted = fit_temperature(logits, targets, multi_label)
    if separable(logits, targets, multi_label):
        return 1.0, fitted, ("not applied: every validation image is right with a margin, so the NLL keeps falling "
                             "as T -> 0 and the fold cannot say how confident to be; T = 1 kept")
    if fitted >= TEMPERATURE_BOUNDS[1] * 0.999:
        return fitted, fitted, f"the fit ran to the upper bound T = {TEMPERATURE_BOUNDS[1]}: the model is near chance"
    return fitted, fitted, None


def plot_reliability(bins: list[dict], path: str | Path, title: str = "Reliability") -> Path:
    """The reliability diagram (accuracy per confidence bin against the diagonal) as a PNG, from
    `reliability_bins`' rows; the bar shade says how many predictions each bin holds."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    total = max(sum(row["count"] for row in bins), 1)
    figure, axis = plt.subplots(figsize=(5, 5))
    for row in bins:
        if row["count"]:
            axis.bar(row["lower"], row["accuracy"], width=row["upper"] - row["lower"], align="edge",
                     color="tab:blue", alpha=0.3 + 0.7 * row["count"] / total, edgecolor="black", linewidth=0.5)
    axis.plot([0, 1], [0, 1], "k--", linewidth=0.8, label="perfect calibration")
    axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy", title=title)
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)
