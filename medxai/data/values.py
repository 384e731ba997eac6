"""Pixel-value rules every decoder shares: non-finite values are refused with their count, high-depth values
are stretched to [0, 1], and a file a viewer would still show is shown with a `DecodeWarning`."""

import numpy as np

from medxai.errors import UserError


class DecodeWarning(UserWarning):
    """A file a viewer would still show, shown the way viewers do (e.g. an out-of-standard window ignored)."""


def check_finite(values: np.ndarray, what: str = "image") -> None:
    """Refuse NaN or infinite values with their count: stretched or clipped, one of them would blank the image."""
    bad = int(values.size - np.count_nonzero(np.isfinite(values)))
    if bad:
        raise UserError(f"{what} has {bad} non-finite value{'s' if bad > 1 else ''} (NaN or infinity) among "
                        f"{values.size}: repair or remove them before sending it")


def stretch(values: np.ndarray) -> np.ndarray:
    """Finite `values` from their minimum (0) to their maximum (1); a flat image becomes 0."""
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values)
