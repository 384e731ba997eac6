"""The counterfactual images: the region kept, the region removed, and a patch of its shape moved elsewhere on
the body part."""

import numpy as np
import pytest
import torch

from medxai.metrics.counterfactual import (CONDITIONS, counterfactual_probabilities, displaced_region, grown_regions,
                                           keep_region, remove_region, replace_region)

SIZE = 64


def marked_image() -> tuple[torch.Tensor, torch.Tensor]:
    """One grey image [1,3,64,64] with a bright 16-px square at the centre (the region [1,64,64]) and a bright
    corner marker."""
    pixels = torch.full((1, 3, SIZE, SIZE), 0.5)
    pixels[:, :, 24:40, 24:40] = 1.0
    pixels[:, :, 2:6, 2:6] = 1.0
    regions = torch.zeros(1, SIZE, SIZE, dtype=torch.bool)
    regions[:, 24:40, 24:40] = True
    return pixels, regions


def test_keeping_the_region_blurs_the_marker_away_and_removing_it_leaves_the_marker():
    pixels, regions = marked_image()
    kept, removed = keep_region(pixels, regions), remove_region(pixels, regions)
    assert torch.equal(kept[:, :, 24:40, 24:40], pixels[:, :, 24:40, 24:40])
    assert float(kept[0, :, 2:6, 2:6].mean()) < 0.6  # the marker was 1.0 on a 0.5 background
    assert torch.equal(removed[:, :, 2:6, 2:6], pixels[:, :, 2:6, 2:6])
    assert float(removed[0, :, 30:34, 30:34].mean()) < 0.9  # the square's centre, blurred towards the background


def test_the_displaced_patch_has_the_region_s_shape_lies_on_the_foreground_and_misses_the_region():
    region = np.zeros((SIZE, SIZE), dtype=bool)
    region[10:20, 30:45] = True
    foreground = np.zeros((SIZE, SIZE), dtype=bool)
    foreground[8:60, 8:60] = True
    for seed in range(5):
        moved = displaced_region(region, foreground, np.random.default_rng(seed))
        ys, xs = np.nonzero(moved)
        assert moved.sum() == region.sum() and (ys.max() - ys.min(), xs.max() - xs.min()) == (9, 14)
        assert not (moved & region).any() and foreground[moved].all()
    whole = np.ones((SIZE, SIZE), dtype=bool)  # no room to move: the region itself
    assert np.array_equal(displaced_region(whole, foreground, np.random.default_rng(0)), whole)


def test_each_condition_reaches_the_model():
    pixels, regions = marked_image()
    pixels, regions = pixels.repeat(3, 1, 1, 1), regions.repeat(3, 1, 1)
    foregrounds = torch.ones_like(regions)

    def centre_and_corner(images: torch.Tensor) -> torch.Tensor:  # "probabilities": the square's and the marker's
        return torch.stack([images[:, 0, 28:36, 28:36].mean(dim=(1, 2)), images[:, 0, 2:6, 2:6].mean(dim=(1, 2))], 1)

    out = counterfactual_probabilities(centre_and_corner, pixels, regions, foregrounds, batch_size=2)
    assert tuple(out) == CONDITIONS and all(value.shape == (3, 2) for value in out.values())
    assert torch.allclose(out["as_given"], torch.ones(3, 2))
    assert torch.allclose(out["region_kept"][:, 0], torch.ones(3)) and bool((out["region_kept"][:, 1] < 0.6).all())
    assert bool((out["region_removed"][:, 0] < 0.9).all()) and torch.allclose(out["region_removed"][:, 1], torch.ones(3))
    assert torch.allclose(out["elsewhere_removed"][:, 0], torch.ones(3))  # the patch moved off the square
    assert bool((out["region_replaced"][:, 0] < 0.7).all())  # grey tissue in the square's place
    assert bool((out["all_blurred"] < 0.9).all())  # nothing left of the square or the marker


def test_a_grown_region_is_the_box_widened_on_every_side_by_the_margin_times_its_size():
    regions = torch.zeros(3, 64, 64, dtype=torch.bool)
    regions[0, 20:40, 20:40] = True  # 20 px square: margin 0.5 grows it by 10 px a side
    regions[1, 0:4, 0:16] = True  # the area of an 8 px square, at the corner: grows by 4 px, clipped to the image
    grown = grown_regions(regions, 0.5)
    assert torch.equal(grown[0], torch.nn.functional.pad(torch.ones(40, 40, dtype=torch.bool), (10, 14, 10, 14)))
    assert grown[1, 0:8, 0:20].all() and grown[1].sum() == 8 * 20
    assert not grown[2].any()  # an empty region stays empty
    assert torch.equal(grown_regions(regions, 0.0), regions)


def test_a_replaced_region_takes_the_tissue_under_its_donor_and_keeps_its_own_place():
    pixels = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    regions = torch.zeros(2, 8, 8, dtype=torch.bool)
    regions[:, 1:3, 1:4] = True
    donors = torch.zeros_like(regions)
    donors[0, 5:7, 4:7] = True  # moved 4 down, 3 right
    donors[1] = regions[1]  # no room to move: left as given
    out = replace_region(pixels, regions, donors)
    assert torch.equal(out[0][:, 1:3, 1:4], pixels[0][:, 5:7, 4:7])
    assert torch.equal(out[0][:, ~regions[0]], pixels[0][:, ~regions[0]]) and torch.equal(out[1], pixels[1])
    donors[0, 5, 4] = False
    with pytest.raises(ValueError, match="image 0: the donor patch is not a translated copy of the region"):
        replace_region(pixels, regions, donors)  # one pixel short
    donors[0, 5, 4], donors[0, 6, 6], donors[0, 4, 4] = True, False, True
    with pytest.raises(ValueError, match="not a translated copy"):
        replace_region(pixels, regions, donors)  # as many pixels, another shape
