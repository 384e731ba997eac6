"""Split conformal prediction sets (APS): coverage on images the quantile never saw, sets never empty."""

import numpy as np
import pytest

from medxai.scope.conformal import METHODS, aps_scores, conformal_quantile, coverage, prediction_set


def noisy_classifier(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities [n,4] of an imperfect classifier (right about 60 % of the time) and the true classes."""
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, 4, n)
    logits = rng.normal(0, 1.0, (n, 4))
    logits[np.arange(n), targets] += 1.2
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probabilities, targets


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2])
def test_sets_cover_the_true_class_at_the_promised_rate_on_new_images(alpha, method):
    calibration, test = noisy_classifier(1000, 0), noisy_classifier(4000, 1)
    quantile = conformal_quantile(*calibration, alpha=alpha, method=method)
    covered, size = coverage(*test, quantile, method)
    assert 1 - alpha - 0.02 <= covered <= 1 - alpha + 0.05
    assert 1 < size < 4  # an imperfect classifier needs sets, but not always every class


def test_a_confident_right_answer_is_a_set_of_one_and_a_torn_one_lists_both():
    assert prediction_set(np.array([0.97, 0.02, 0.01]), quantile=0.9, method="aps") == [0]
    assert prediction_set(np.array([0.48, 0.47, 0.05]), quantile=0.96, method="aps") == [0, 1]
    assert prediction_set(np.array([0.99, 0.01]), quantile=0.1, method="aps") == [0]  # never empty
    assert prediction_set(np.array([0.48, 0.47, 0.05]), quantile=0.6) == [0, 1]  # lac: every p >= 0.4
    assert prediction_set(np.array([0.97, 0.02, 0.01]), quantile=0.6) == [0]


def test_aps_score_is_the_mass_ranked_at_or_above_the_true_class():
    scores = aps_scores(np.array([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1]]), np.array([0, 2]))
    assert scores == pytest.approx([0.6, 1.0])


def test_too_few_calibration_images_for_the_guarantee_give_every_class():
    probabilities, targets = noisy_classifier(5, 2)
    assert conformal_quantile(probabilities, targets, alpha=0.1) == 1.0
