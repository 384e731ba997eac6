"""How far a mean over a few explained images can be trusted: a bootstrap confidence interval.

A pointing game of 0.767 over 30 images is one draw; over 10 images of one class the same model can score 0.3
or 0.9. Every localisation and faithfulness mean that is reported per class carries its interval beside it.
"""

from collections.abc import Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 2000
INTERVAL_METRICS = ("pointing_game", "iou", "deletion_auc")
"""The scores whose interval is reported (issue 37): where the map points, how much it overlaps the expert
region, and how fast the class falls when its evidence is deleted."""


def bootstrap_interval(values: Sequence[float], confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                       seed: int = 0) -> tuple[float, float] | None:
    """The percentile bootstrap interval [low, high] of the mean of `values` [N] (Efron & Tibshirani 1993,
    ch. 13), computed by `scipy.stats.bootstrap` with a seeded generator, so a rerun gives the same bounds.
    None for fewer than two values (one image has no spread to resample); a constant sample gives
    (value, value). The percentile method, not BCa: BCa is undefined on the 0/1 pointing-game hits of a small
    class that all agree."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return None
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    result = stats.bootstrap((values,), np.mean, confidence_level=confidence, n_resamples=resamples,
                             method="percentile", random_state=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def with_interval(row: dict, metric: str, scale: float = 1.0, digits: int = 3) -> str:
    """`row[metric]` x `scale` to `digits` decimals, followed by its interval from `row["interval"]` (as
    `evaluation.class_means` gives them) as " (low-high)" where one was computed: "0.767 (0.600-0.900)"."""
    bounds = row.get("interval", {}).get(metric)
    text = f"{row[metric] * scale:.{digits}f}"
    return text + (f" ({bounds[0] * scale:.{digits}f}-{bounds[1] * scale:.{digits}f})" if bounds else "")
