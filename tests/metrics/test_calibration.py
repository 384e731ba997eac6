"""ECE on hand-worked examples and temperature fitting on synthetic logits with a known temperature."""

import math

import numpy as np
import pytest

from medxai.metrics.calibration import (TEMPERATURE_BOUNDS, applied_temperature, expected_calibration_error,
                                        fit_temperature, negative_log_likelihood, plot_reliability, reliability_bins,
                                        separable)


def test_perfectly_calibrated_predictions_have_zero_ece():
    # 10 predictions at confidence 0.8 with 8 right, 5 at 0.6 with 3 right: each bin's accuracy is its confidence
    probabilities = np.array([[0.8, 0.2]] * 10 + [[0.4, 0.6]] * 5)
    targets = np.array([0] * 8 + [1] * 2 + [1] * 3 + [0] * 2)
    assert expected_calibration_error(probabilities, targets) == pytest.approx(0.0, abs=1e-12)


def test_all_confident_and_wrong_gives_the_mean_confidence():
    # every prediction wrong: accuracy 0 in every bin, so ECE is the mean confidence: (4 * 0.9 + 0.7 * 2) / 6
    probabilities = np.array([[0.9, 0.1]] * 4 + [[0.3, 0.7]] * 2)
    targets = np.array([1] * 4 + [0] * 2)
    assert expected_calibration_error(probabilities, targets) == pytest.approx((4 * 0.9 + 2 * 0.7) / 6)


def test_ece_weighs_each_bin_by_its_share():
    # bin (0.8, 0.867]: 2 at 0.85, both right -> |1 - 0.85| = 0.15 with weight 2/4; bin (0.533, 0.6]: 2 at 0.55,
    # one right -> |0.5 - 0.55| = 0.05 with weight 2/4
    probabilities = np.array([[0.85, 0.15], [0.85, 0.15], [0.55, 0.45], [0.55, 0.45]])
    targets = np.array([0, 0, 0, 1])
    assert expected_calibration_error(probabilities, targets) == pytest.approx(0.5 * 0.15 + 0.5 * 0.05)
    rows = reliability_bins(probabilities, targets)
    assert len(rows) == 15 and sum(row["count"] for row in rows) == 4
    assert [row["count"] for row in rows if row["count"]] == [2, 2]


def test_multi_label_ece_scores_every_known_output_and_skips_uncertain():
    probabilities = np.array([[0.9, 0.2], [0.9, 0.2]])
    targets = np.array([[1, 0], [0, -1]])  # outputs at 0.9: half present; the known output at 0.2: absent
    assert expected_calibration_error(probabilities, targets, multi_label=True) == pytest.approx(
        (2 * abs(0.5 - 0.9) + 1 * abs(0.0 - 0.2)) / 3)


@pytest.mark.parametrize("true_temperature", [0.5, 2.0, 3.0])
def test_fit_recovers_a_known_temperature(true_temperature):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(20000, 4))
    scaled = logits / true_temperature
    probabilities = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    targets = np.array([rng.choice(4, p=p) for p in probabilities])
    fitted = fit_temperature(logits, targets)
    assert fitted == pytest.approx(true_temperature, rel=0.05)
    assert negative_log_likelihood(logits, targets, fitted) <= negative_log_likelihood(logits, targets, 1.0)


def test_fit_recovers_a_known_temperature_for_sigmoid_outputs():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, size=(10000, 3))
    targets = (rng.random(logits.shape) < 1 / (1 + np.exp(-logits / 2.0))).astype(float)
    assert fit_temperature(logits, targets, multi_label=True) == pytest.approx(2.0, rel=0.05)


def test_a_separable_fold_keeps_t1_and_says_why():
    # every validation image right with a margin, as a label-smoothed model that gets a small fold all right:
    # the NLL keeps falling as T -> 0 (the fit heads for its lower bound) and that T would print 0 or 1 everywhere
    rng = np.random.default_rng(2)
    targets = rng.integers(0, 2, 40)
    logits = np.where(np.eye(2)[targets] == 1, 1.5, -1.5) + rng.normal(0, 0.3, (40, 2))
    assert separable(logits, targets)
    temperature, fitted, note = applied_temperature(logits, targets)
    assert temperature == 1.0 and fitted < 0.1 and "T = 1 kept" in note
    # one wrong image gives the NLL a minimum inside the bounds, and that T is applied as fitted
    logits[0] = logits[0, ::-1]
    assert not separable(logits, targets)
    temperature, fitted, note = applied_temperature(logits, targets)
    assert temperature == fitted and TEMPERATURE_BOUNDS[0] * 1.1 < fitted < 1 and note is None


def test_separable_multi_label_means_every_known_output_on_its_side():
    targets = np.array([[1, 0, -1], [0, 1, 1]], dtype=float)
    assert separable(np.array([[2.0, -1.0, -5.0], [-0.5, 0.1, 3.0]]), targets, multi_label=True)
    assert not separable(np.array([[2.0, 1.0, -5.0], [-0.5, 0.1, 3.0]]), targets, multi_label=True)


def test_a_model_near_chance_runs_the_fit_to_its_upper_bound_and_says_so():
    rng = np.random.default_rng(3)
    logits, targets = rng.normal(0, 5, (400, 2)), rng.integers(0, 2, 400)
    temperature, fitted, note = applied_temperature(logits, targets)
    assert temperature == fitted and note is not None and "upper bound" in note


def test_fit_refuses_no_data():
    with pytest.raises(ValueError):
        fit_temperature(np.zeros((0, 2)), np.zeros(0))


def test_reliability_plot_is_written(tmp_path):
    rows = reliability_bins(np.array([[0.8, 0.2], [0.3, 0.7]]), np.array([0, 0]))
    path = plot_reliability(rows, tmp_path / "reliability.png")
    assert path.stat().st_size > 1000 and not math.isnan(rows[11]["accuracy"])
