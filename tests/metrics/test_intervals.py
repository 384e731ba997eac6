"""Bootstrap intervals of a mean: they contain it, narrow with more images, and repeat on a rerun."""

import numpy as np
import pytest

from medxai.metrics.intervals import bootstrap_interval


def test_the_interval_holds_the_mean_and_narrows_with_more_images():
    rng = np.random.default_rng(0)
    few, many = rng.random(10) < 0.7, rng.random(400) < 0.7  # pointing-game hits at a 70 % rate
    low, high = bootstrap_interval(few)
    assert low < few.mean() < high
    wide = high - low
    low, high = bootstrap_interval(many)
    assert low < many.mean() < high and high - low < wide / 3


def test_the_interval_is_the_same_on_a_rerun_and_degenerate_samples_are_named():
    values = [0.1, 0.4, 0.35, 0.8, 0.2]
    assert bootstrap_interval(values) == bootstrap_interval(values)
    assert bootstrap_interval([1.0, 1.0, 1.0]) == (1.0, 1.0)
    assert bootstrap_interval([0.3]) is None and bootstrap_interval([]) is None
    narrow, wide = bootstrap_interval(values, confidence=0.5), bootstrap_interval(values)
    assert wide[0] <= narrow[0] < narrow[1] <= wide[1]
