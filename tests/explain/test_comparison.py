"""`medxai bench maps`' table (`medxai.explain.comparison`) on a model whose evidence is known."""

import numpy as np
import pytest
import torch

from medxai.explain.comparison import (FAITHFULNESS_VARIANTS, class_rows, compare, markdown_by_class, markdown_report,
                                      served_rows)
from medxai.explain.evaluation import class_means
from tests.explain.toys import SIZE, grid_segments, quadrant_model, textured_images, tiny_cnn


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
    assert table["lime"]["by_class"][1]["images"] == 2  # one explained class: its means are the whole row's
    assert table["lime"]["by_class"][1]["iou"] == pytest.approx(table["lime"]["iou"])


def test_means_per_class_show_a_map_that_finds_one_class_only():
    scores = {"pointing_game": np.array([1.0, 0.0, 1.0, 0.0]), "iou": np.array([0.5, 0.1, 0.7, 0.1]),
              "deletion_auc": np.array([0.2, 0.6, 0.4, 0.6])}
    row = class_means(scores, torch.tensor([1, 0, 1, 0]))
    assert row["pointing_game"] == 0.5 and row["images"] == 4
    malignant = row["by_class"][1]
    assert {k: malignant[k] for k in ("pointing_game", "iou", "deletion_auc", "images")} == pytest.approx(
        {"pointing_game": 1.0, "iou": 0.6, "deletion_auc": 0.3, "images": 2})
    assert row["by_class"][0]["pointing_game"] == 0.0
    # each mean has its 95 % bootstrap interval: the whole row's pointing game spans its 0/1 hits
    assert row["interval"]["pointing_game"][0] < 0.5 < row["interval"]["pointing_game"][1]
    assert malignant["interval"]["pointing_game"] == [1.0, 1.0]  # both hit: no spread to resample
    assert 0.5 <= malignant["interval"]["iou"][0] < malignant["interval"]["iou"][1] <= 0.7
    rendered = markdown_by_class({"cam": row}, ["cam"], ["benign", "malignant"])
    assert "| cam | benign | 2 | 0.000 (0.000-0.000) | 0.100 (0.100-0.100) | 0.600 (0.600-0.600) |" in rendered
    assert "| cam | malignant | 2 | 1.000 (1.000-1.000) | 0.600 (0.500-0.700) | 0.300 (0.200-0.400) |" in rendered


def test_a_candidate_cam_is_also_fused_in_place_of_the_default_and_a_failed_one_is_not():
    images, masks = textured_images(2), torch.zeros(2, SIZE, SIZE)
    masks[:, :SIZE // 2, :SIZE // 2] = 1
    options = {"segments": [grid_segments(SIZE)] * 2, "max_samples": 100}
    model = tiny_cnn()
    alternatives = ("hirescam (log-probability) @ 4", "no such row")
    table = compare(model, images, masks, torch.tensor([0, 1]), precision="fp32", steps=4, lime_options=options,
                    cam_alternatives=alternatives, log=lambda _: None)
    alternative = table["fusion: faithfulness (hirescam (log-probability) @ 4, ig)"]
    assert {"iou", "pointing_game", "deletion_auc"} <= set(alternative) and alternative["seconds"] > 0
    assert set(alternative["by_class"]) == {0, 1}
    assert not any("no such row" in name for name in table)
    names = class_rows(model, table, alternatives)  # what bench maps breaks down per class, and writes beside its JSON
    assert served_rows(model)["fusion"] in names and names[-1] == "centred disc (no skill)"
    assert "fusion: faithfulness (hirescam (log-probability) @ 4, ig)" in names
    report = markdown_report(table, names, ["benign", "malignant"], "x.json: best.pt 2 images, fp32")
    assert report.startswith("<!-- x.json: best.pt 2 images, fp32 -->\n| map | dead |")
    assert f"| {served_rows(model)['fusion']} | malignant | 1 |" in report
    assert "the alternative CAM and its fused map" in report
    plain = markdown_report(table, class_rows(model, table, ()), ["benign", "malignant"], "x.json")
    assert "Per explained class (the served maps, the centred disc):" in plain
    failed = compare(quadrant_model(), images, masks, torch.tensor([1, 1]), precision="fp32", steps=4,
                     lime_options=options, cam_alternatives=("hirescam (log-probability) @ 2",), log=lambda _: None)
    assert failed["hirescam (log-probability) @ 2"]["randomisation_spearman"] >= 0.5  # not a candidate: not fused
    assert "fusion: faithfulness (hirescam (log-probability) @ 2, ig)" not in failed
