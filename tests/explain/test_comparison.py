"""`medxai bench maps`' table (`medxai.explain.comparison`) on a model whose evidence is known."""

import torch

from medxai.explain.comparison import FAITHFULNESS_VARIANTS, compare
from tests.explain.toys import SIZE, grid_segments, quadrant_model, textured_images


def test_every_way_of_making_a_map_is_scored_on_the_same_images():
    model = quadrant_model()
    images = textured_images(2)
    masks = torch.zeros(2, SIZE, SIZE)
    masks[:, :SIZE // 2, :SIZE // 2] = 1  # the evidence: the top-left quadrant
    segments = [grid_segments(SIZE)] * 2
    table = compare(model, images, masks, torch.tensor([1, 1]), precision="fp32", steps=8,
                    lime_options={"segments": segments, "max_samples": 200}, log=lambda _: None)
    fused = ["fusion: faithfulness (cam, ig)", "fusion: faithfulness (cam, ig, lime; the default until 2026-12-01)",
             *(f"fusion: faithfulness (cam, ig), {label}" for label, _, _ in FAITHFULNESS_VARIANTS)]
    for name in ["lime", "ig (smoothing 0.06)", *fused, "centred disc (no skill)", "whole image (no skill)"]:
        assert {"iou", "pointing_game", "deletion_auc", "insertion_auc"} <= set(table[name]), name
    for name in fused:  # the curves are shared between rows, but each row's cost includes them
        assert table[name]["seconds"] > 0
        assert table[name]["energy_in_mask"] > table["whole image (no skill)"]["energy_in_mask"], name
        assert table[name]["deletion_auc"] < table["whole image (no skill)"]["deletion_auc"], name
    assert any("randomisation_spearman" in row for row in table.values())
