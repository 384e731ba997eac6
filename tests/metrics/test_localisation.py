"""IoU, pointing game and energy on hand-made maps, and the two baselines."""

import numpy as np
import pytest

from medxai.metrics import localisation


def square(size: int, y0: int, x0: int, side: int) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    mask[y0:y0 + side, x0:x0 + side] = 1
    return mask


def test_every_metric_declares_its_direction():
    assert localisation.HIGHER_IS_BETTER == {"iou": True, "iou_at_threshold": True, "pointing_game": True,
                                             "energy_in_mask": True}


def test_iou_of_hand_made_maps():
    mask = square(8, 0, 0, 4)  # 16 pixels
    assert localisation.iou(mask.astype(float), mask) == 1.0
    assert localisation.iou(square(8, 4, 4, 4).astype(float), mask) == 0.0
    shifted = square(8, 0, 2, 4).astype(float)  # 8 of its 16 pixels overlap: 8 / 24
    assert localisation.iou(shifted, mask) == pytest.approx(8 / 24)
    graded = shifted * 0.4 + mask * 0.6  # top 16 pixels are the mask's (0.6 and 1.0), threshold 0.5 too
    assert localisation.iou(graded, mask) == 1.0
    assert localisation.iou_at_threshold(graded, mask, 0.5) == 1.0
    assert localisation.iou_at_threshold(graded, mask, 0.9) == pytest.approx(8 / 16)


def test_ties_select_every_tied_pixel():
    mask = square(8, 0, 0, 4)
    assert localisation.iou(localisation.whole_image((8, 8)), mask) == pytest.approx(16 / 64)
    assert localisation.pointing_game(localisation.whole_image((8, 8)), mask) == pytest.approx(16 / 64)


def test_pointing_game_and_energy():
    mask = square(8, 0, 0, 4)
    saliency = np.zeros((8, 8))
    saliency[1, 1], saliency[6, 6] = 1.0, 3.0
    assert localisation.pointing_game(saliency, mask) == 0.0
    assert localisation.energy_in_mask(saliency, mask) == pytest.approx(0.25)
    saliency[2, 2] = 5.0
    assert localisation.pointing_game(saliency, mask) == 1.0


def test_centred_disc_selects_a_centred_disc_of_the_mask_area():
    disc = localisation.top_area(localisation.centred_disc((33, 33)), 81)
    assert disc[16, 16] and not disc[0, 0] and abs(int(disc.sum()) - 81) <= 4
    assert localisation.iou(localisation.centred_disc((32, 32)), square(32, 12, 12, 8)) > 0.7
