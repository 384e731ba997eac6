"""Pixel-value rules every decoder shares: non-finite values are refused with their count, high-depth values
are stretched to [0, 1], and a file a viewer would still show is shown with a `DecodeWarning`."""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from medxai.errors import UserError


class DecodeWarning(UserWarning):
    """A file a viewer would still show, shown the way viewers do (e.g. an out-of-standard window ignored)."""


_collected: ContextVar[list[str] | None] = ContextVar("decode_warnings", default=None)


def warn(message: str) -> None:
    """A `DecodeWarning` about the file being decoded: kept for the caller inside `collected_warnings()`,
    otherwise issued through `warnings` (the CLI shows it as one line)."""
    notes = _collected.get()
    if notes is None:
        warnings.warn(message, DecodeWarning, stacklevel=3)
    else:
        notes.append(message)


@contextmanager
def collected_warnings() -> Iterator[list[str]]:
    """The decode warnings issued inside the block, as a list of messages, for a caller that reports them with
    its answer (the service's response, the dashboard's notes). Per thread and context, unlike
    `warnings.catch_warnings`, which swaps process-wide state and would mix concurrent requests' warnings."""
    token = _collected.set([])
    try:
        yield _collected.get()
    finally:
        _collected.reset(token)


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
