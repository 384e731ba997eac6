"""Deletion and insertion on a hand-made model whose output is the brightness of one region."""

import numpy as np
import pytest
import torch

from medxai.metrics import faithfulness

REGION = (slice(0, 4), slice(0, 4))  # 16 of 64 pixels


def region_brightness(images: torch.Tensor) -> torch.Tensor:
    score = images[:, :, REGION[0], REGION[1]].mean(dim=(1, 2, 3))
    return torch.stack([score, 1 - score], dim=1)


def test_every_metric_declares_its_direction():
    assert faithfulness.HIGHER_IS_BETTER == {"deletion_auc": False, "insertion_auc": True}


def test_deletion_and_insertion_areas_of_a_right_and_a_wrong_map():
    images = torch.ones(1, 3, 8, 8)
    right = torch.zeros(1, 8, 8)
    right[0, REGION[0], REGION[1]] = 1
    wrong = 1 - right
    targets = torch.tensor([0])
    curve = faithfulness.curves(region_brightness, images, right, targets, "deletion", "zero", steps=4)
    np.testing.assert_allclose(curve, [[1, 0, 0, 0, 0]])
    assert faithfulness.deletion_auc(region_brightness, images, right, targets, "zero", 4)[0] == pytest.approx(0.125)
    assert faithfulness.deletion_auc(region_brightness, images, wrong, targets, "zero", 4)[0] == pytest.approx(0.875)
    assert faithfulness.insertion_auc(region_brightness, images, right, targets, "zero", 4)[0] == pytest.approx(0.875)
    assert faithfulness.insertion_auc(region_brightness, images, wrong, targets, "zero", 4)[0] == pytest.approx(0.125)


def test_the_gap_from_inner_points_is_insertion_minus_deletion_in_fewer_passes():
    right = torch.zeros(8, 8)
    right[REGION[0], REGION[1]] = 1
    maps = torch.stack([right, 1 - right, torch.rand(8, 8, generator=torch.Generator().manual_seed(0))])
    images, targets = torch.ones(3, 3, 8, 8), torch.tensor([0, 0, 0])
    passes = []

    def counting(batch: torch.Tensor) -> torch.Tensor:
        passes.append(len(batch))
        return region_brightness(batch)
    gap = faithfulness.insertion_deletion_gap(counting, images, maps, targets, "zero", steps=4)
    assert sum(passes) == 3 * 2 * 3  # the curves' two ends are left out
    full = (faithfulness.insertion_auc(region_brightness, images, maps, targets, "zero", 4)
            - faithfulness.deletion_auc(region_brightness, images, maps, targets, "zero", 4))
    np.testing.assert_allclose(gap, full, atol=1e-6)
    np.testing.assert_allclose(gap[:2], [0.75, -0.75], atol=1e-6)  # 0.875 - 0.125 for the right map, and back


def test_blur_substitute_keeps_the_mean_colour_and_bad_options_are_refused():
    images = torch.rand(2, 3, 32, 32)
    assert faithfulness.substitute_images(images, "blur").mean().item() == pytest.approx(images.mean().item(), abs=0.02)
    with pytest.raises(ValueError):
        faithfulness.substitute_images(images, "noise")
    with pytest.raises(ValueError):
        faithfulness.curves(region_brightness, images, images[:, 0], torch.tensor([0, 0]), "both")
