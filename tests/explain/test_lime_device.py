"""LIME on the model's device: the same surrogate as lime's, the same perturbations, superpixels that follow
colour, and the same answer on a model with a known one. Run on the CPU here; the code is device-agnostic."""

import numpy as np
import torch

from medxai.explain import lime, lime_device
from tests.explain.toys import SIZE, grid_segments, in_quadrant_share, quadrant_model, textured_images


def test_weighted_ridge_is_lime_surrogate():
    generator = np.random.default_rng(0)
    rows = generator.integers(0, 2, (200, 12))
    rows[0] = 1
    probabilities = generator.random((200, 3))
    expected, expected_r2 = lime.surrogate(rows, probabilities, target=2, seed=0)
    weights, r2 = lime_device.weighted_ridge(torch.from_numpy(rows), torch.from_numpy(probabilities[:, 2:3]))
    np.testing.assert_allclose(weights[0].numpy(), expected, atol=1e-8)
    assert abs(float(r2[0]) - expected_r2) < 1e-8


def test_perturbed_batch_matches_the_host_version():
    image, segments = textured_images(1)[0], grid_segments(SIZE)
    rows = np.random.default_rng(1).integers(0, 2, (5, int(segments.max()) + 1))
    for hide in lime.HIDES:
        pixels = image.permute(1, 2, 0).numpy()
        host = lime.perturbed_images(pixels, segments, rows, lime.hidden_image(pixels, segments, hide))
        device = lime_device.perturbed_batch(image, torch.from_numpy(segments), torch.from_numpy(rows), hide)
        np.testing.assert_allclose(device.permute(0, 2, 3, 1).numpy(), host, atol=1e-6)


def test_superpixels_follow_colour_and_the_requested_count():
    image = torch.zeros(3, 64, 64)
    image[0, :, 29:] = 1.0  # a red region whose edge falls between grid lines
    labels = lime_device.superpixels(image, n_segments=36)
    assert torch.equal(torch.unique(labels), torch.arange(int(labels.max()) + 1))
    assert 18 <= int(labels.max()) + 1 <= 72
    for label in torch.unique(labels):  # no superpixel straddles the colour edge
        assert image[0][labels == label].unique().numel() == 1


def test_device_lime_peaks_in_the_quadrant_the_model_looks_at():
    images = textured_images()
    explanation = lime_device.explain(quadrant_model(), images, torch.tensor([1, 1]), samples=300,
                                      segments=[torch.from_numpy(grid_segments(SIZE))] * 2)
    assert in_quadrant_share(explanation.maps) > 0.9
    assert all(d["r2"] > 0.5 and d["samples"] == 300 and d["segments"] == 16 for d in explanation.diagnostics)
