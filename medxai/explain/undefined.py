"""Trust numbers that cannot be computed are reported as undefined, with the reason, never as their best value.

IG's completeness gap |sum(attributions) - (f(x) - f(x'))| / |f(x) - f(x')| is a ratio: when the image equals
its baseline, or the model's output barely differs between them, there is nothing to attribute and the ratio
measures rounding (0 / 0 was reported as a perfect 0). LIME's R^2 compares the surrogate's fit with the
variance of the explained probability: when that probability does not vary over the samples, or the surrogate
gives every superpixel weight 0, scikit-learn's R^2 is a perfect 1.0 for a map that says nothing.

In a method's diagnostics an undefined number is None, and `diagnostics["undefined"]` maps its name to the
reason (one sentence).
"""

import numpy as np

KEY = "undefined"
MIN_OUTPUT_DIFFERENCE = 1e-3
"""|f(x) - f(x')| (the explained class's logit) below this leaves IG's completeness gap undefined: at
probability 0.5 it is a change of 0.00025, the size of the quadrature's rounding, not an effect to attribute."""
MIN_SCORE_RANGE = 1e-5
"""The explained score (probability or log-odds) must vary over LIME's samples by at least this for R^2 to mean
anything (float32 inference on the same image in different batches differs by about 1e-7)."""


def completeness_gap_reason(image_equals_baseline: bool, output_difference: float) -> str | None:
    """Why IG's completeness gap of one image is undefined, or None when it is defined."""
    if image_equals_baseline:
        return "the image equals IG's baseline, so there is nothing to attribute"
    if not abs(output_difference) >= MIN_OUTPUT_DIFFERENCE:
        return (f"the model's output differs by only {abs(output_difference):.2g} between the image and IG's "
                f"baseline (under {MIN_OUTPUT_DIFFERENCE:g}), so there is nothing to attribute")
    return None


def varies(explained: np.ndarray) -> bool:
    """Whether the explained score [N] varies over LIME's samples by at least MIN_SCORE_RANGE: if not, a
    surrogate fitted to it fits rounding noise."""
    return bool(len(explained)) and float(np.ptp(explained)) >= MIN_SCORE_RANGE


def r2_reason(explained: np.ndarray, weights: np.ndarray, score: str = "probability") -> str | None:
    """Why LIME's surrogate R^2 is undefined, or None when it is defined. `explained` [N]: the target's `score`
    (probability or log-odds) over LIME's samples."""
    if not varies(explained):
        spread = float(np.ptp(explained)) if len(explained) else 0.0
        return (f"the explained {score} varies by only {spread:.2g} over LIME's samples (under "
                f"{MIN_SCORE_RANGE:g}): hiding superpixels changes nothing the surrogate could fit")
    if not np.any(weights):
        return "the surrogate gives every superpixel weight 0: the map is all zero"
    return None


def mark(diagnostics: dict, name: str, value: float, reason: str | None) -> dict:
    """`diagnostics` with `name` set to `value`, or to None and its reason under `KEY` when `reason` is given."""
    if reason is None:
        diagnostics[name] = float(value)
    else:
        diagnostics[name] = None
        diagnostics.setdefault(KEY, {})[name] = reason
    return diagnostics
