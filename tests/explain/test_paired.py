"""Paired comparison of two models' served maps (medxai.explain.paired): per-image scores, Wilcoxon p."""

import numpy as np
import pytest
import torch
from torch import nn

from medxai.explain.paired import paired_comparison, per_image_scores, wilcoxon_p
from tests.explain.toys import SIZE, quadrant_model, textured_images


class BottomRightMask(nn.Module):
    """Zeroes everything outside the bottom-right quadrant."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        mask = torch.zeros_like(features)
        mask[..., features.shape[-2] // 2:, features.shape[-1] // 2:] = 1
        return features * mask


@pytest.fixture(scope="module")
def images_and_masks() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    images = textured_images(8)
    masks = torch.zeros(8, SIZE, SIZE)
    masks[:, :SIZE // 2, :SIZE // 2] = 1  # the lesion: the top-left quadrant, where the quadrant model looks
    return images, masks, torch.ones(8, dtype=torch.long)


def test_a_model_compared_with_itself_differs_nowhere(images_and_masks):
    scores = per_image_scores(quadrant_model(), *images_and_masks, precision="fp32")
    table = paired_comparison(scores, scores)
    assert set(table) == {"cam", "ig", "lime", "fusion"}
    for metrics in table.values():
        for row in metrics.values():
            assert row["difference"] == 0 and row["wilcoxon_p"] == 1.0 and row["better"] == "same"
            assert row["images"] == 8


def test_a_model_looking_beside_the_lesion_loses_on_every_image(images_and_masks):
    looking_beside = quadrant_model()
    looking_beside.features[2] = BottomRightMask()
    table = paired_comparison(per_image_scores(quadrant_model(), *images_and_masks, precision="fp32"),
                              per_image_scores(looking_beside, *images_and_masks, precision="fp32"))
    for name in ("cam", "ig"):
        pointing = table[name]["pointing_game"]
        assert pointing["first"] == 1.0 and pointing["second"] == 0.0 and pointing["better"] == "first"
        assert pointing["wilcoxon_p"] < 0.01  # 8 differences of one sign: exact two-sided p = 2 / 2**8
    assert table["ig"]["iou"]["better"] == "first" and table["ig"]["iou"]["wilcoxon_p"] < 0.01


def test_the_direction_of_each_metric_decides_which_is_better():
    lower = np.array([0.1, 0.2, 0.3, 0.4, 0.2, 0.1])
    table = paired_comparison({"fusion": {"pointing_game": lower, "iou": lower, "deletion_auc": lower}},
                              {"fusion": {"pointing_game": lower + 0.1, "iou": lower + 0.1, "deletion_auc": lower + 0.1}})
    assert table["fusion"]["pointing_game"]["better"] == "second"
    assert table["fusion"]["deletion_auc"]["better"] == "first"  # a higher deletion AUC is less faithful
    with pytest.raises(ValueError, match="shape"):
        wilcoxon_p(lower, lower[:3])
