"""Out-of-distribution scores: the Mahalanobis detector's distance, and the figures that compare methods."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import mahalanobis

from medxai.scope.ood import MahalanobisDetector, detection_figures, energy_score, knn_score, max_softmax_score


def blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, 600)
    centres = rng.normal(0, 4, (3, 16))
    return centres[labels] + rng.normal(0, 1, (600, 16)), labels


def test_mahalanobis_is_the_squared_distance_to_the_nearest_class_mean():
    features, labels = blobs()
    detector = MahalanobisDetector.fit(features, labels)
    point = features[:1] + 0.5
    means, precision = detector.class_means.double().numpy(), detector.precision.double().numpy()
    expected = min(mahalanobis(point[0], mean, precision) ** 2 for mean in means)
    assert detector(torch.from_numpy(point).float()).item() == pytest.approx(expected, rel=1e-4)


def test_images_from_elsewhere_score_higher_than_the_training_distribution():
    features, labels = blobs()
    detector = MahalanobisDetector.fit(features[:400], labels[:400])
    inside = detector(torch.from_numpy(features[400:]).float()).numpy()
    outside = detector(torch.from_numpy(np.random.default_rng(1).normal(0, 4, (100, 16))).float()).numpy()
    figures = detection_figures(inside, outside)
    assert figures["auroc"] > 0.99 and figures["fpr_at_95_tpr"] < 0.05
    assert detection_figures(inside, inside)["auroc"] == pytest.approx(0.5)


def test_the_baselines_rise_with_doubt():
    assert max_softmax_score(np.array([[0.9, 0.1], [0.5, 0.5]])).tolist() == pytest.approx([0.1, 0.5])
    assert energy_score(np.array([[10.0, 0.0], [0.1, 0.0]]))[0] < energy_score(np.array([[0.1, 0.0]]))[0]
    train = np.eye(4)
    assert knn_score(train, np.array([[1.0, 0, 0, 0], [1.0, 1, 1, 1]]), k=1).tolist() == pytest.approx(
        [0.0, np.sqrt(2 - 2 * 0.5)])
