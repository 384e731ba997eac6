"""Scoring maps against expert masks (medxai.explain.evaluation): per image, and the means the tables report."""

import numpy as np
import pytest
import torch

from medxai.explain.evaluation import model_predictor, per_image_metrics, score_maps
from tests.explain.toys import SIZE, quadrant_model, textured_images


@pytest.fixture(scope="module")
def scored() -> tuple:
    """Four images whose lesion is the top-left quadrant; maps: the lesion itself on two, its opposite on two."""
    images = textured_images(4)
    masks = torch.zeros(4, SIZE, SIZE)
    masks[:, :SIZE // 2, :SIZE // 2] = 1
    maps = masks.clone()
    maps[2:] = 1 - masks[2:]
    return model_predictor(quadrant_model(), "fp32"), images, maps, masks, torch.ones(4, dtype=torch.long)


def test_each_image_is_scored_on_its_own_map(scored):
    per_image = per_image_metrics(*scored, substitute="blur", steps=8, metrics=("pointing_game", "iou",
                                                                                "deletion_auc"))
    assert per_image["pointing_game"].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert per_image["iou"].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert per_image["deletion_auc"].shape == (4,) and np.all((0 <= per_image["deletion_auc"])
                                                                  & (per_image["deletion_auc"] <= 1))


def test_the_table_reports_the_mean_of_the_images(scored):
    per_image = per_image_metrics(*scored, substitute="blur", steps=8)
    means = score_maps(*scored, substitute="blur", steps=8)
    assert set(per_image) <= set(means) and means["images"] == 4
    for name, values in per_image.items():
        assert means[name] == pytest.approx(float(np.mean(values)))


def test_an_unknown_metric_is_refused(scored):
    with pytest.raises(ValueError, match="unknown metrics"):
        per_image_metrics(*scored, substitute="blur", steps=8, metrics=("accuracy",))
