"""Split conformal prediction sets with Adaptive Prediction Sets scores (APS; Romano, Sesia & Candes, NeurIPS
2020; as in Angelopoulos, Bates, Malik & Jordan, ICLR 2021, without randomisation): on exchangeable images the
set contains the true class with probability >= 1 - alpha.

Written here, not taken from MAPIE: the served model needs one number (the calibrated quantile) that travels in
the checkpoint and Triton's config and is applied by every front end in a line, while MAPIE keeps its state in a
fitted estimator object around a scikit-learn model.
"""

import math

import numpy as np

DEFAULT_ALPHA = 0.1


def aps_scores(probabilities: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """[N,C] probabilities, [N] true classes -> [N] the mass of the classes ranked at or above the true one."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    true = probabilities[np.arange(len(targets)), targets]
    return np.where(probabilities > true[:, None], probabilities, 0.0).sum(axis=1) + true


def aps_quantile(probabilities: np.ndarray, targets: np.ndarray, alpha: float = DEFAULT_ALPHA) -> float:
    """The conformal quantile of the calibration images' APS scores: the ceil((n+1)(1-alpha))-th smallest
    (Angelopoulos & Bates 2021, §1); 1.0 (every class) when n is too small for the guarantee."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    scores = np.sort(aps_scores(probabilities, targets))
    rank = math.ceil((len(scores) + 1) * (1 - alpha))
    return 1.0 if rank > len(scores) else float(scores[rank - 1])


def prediction_set(probabilities: np.ndarray, quantile: float) -> list[int]:
    """[C] probabilities -> the class indices, most probable first, whose APS score (the mass ranked at or above
    them) is at most `quantile`: the true class is in the set exactly when its score is, which is what the
    quantile guarantees. Never empty: the top class always enters (which only adds coverage)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    order = np.argsort(-probabilities, kind="stable")
    mass = np.cumsum(probabilities[order])
    return [int(k) for k, m in zip(order, mass) if m <= quantile + 1e-9 or k == order[0]]


def coverage(probabilities: np.ndarray, targets: np.ndarray, quantile: float) -> tuple[float, float]:
    """Share of images whose set holds the true class, and the mean set size."""
    sets = [prediction_set(row, quantile) for row in probabilities]
    hits = [int(t) in s for s, t in zip(sets, targets)]
    return float(np.mean(hits)), float(np.mean([len(s) for s in sets]))
