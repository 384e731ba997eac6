"""The one scale, dead maps, and the fusion rules' arithmetic."""

import time

import pytest
import torch

from medxai.explain.base import Explanation, explanation, liveness, normalise
from medxai.explain.fusion import (FAITHFULNESS_STEPS, WEIGHTS, faithfulness_gaps, fuse, fuse_explanations,
                                  image_weights, rule_passes)


def test_normalise_puts_the_99th_percentile_at_the_knee_and_keeps_the_order():
    raw = torch.arange(0, 101, dtype=torch.float32).view(1, 1, -1)  # 99th percentile of 0..100 is 99
    maps = normalise(raw)
    assert maps[0, 0, 50].item() == pytest.approx(0.9 * 50 / 99) and maps[0, 0, 99].item() == pytest.approx(0.9)
    assert maps[0, 0, 100] == 1 and (maps[0, 0, 1:] > maps[0, 0, :-1]).all()  # strictly increasing: no plateau
    assert torch.all(normalise(-raw) == 0)
    assert torch.all(normalise(torch.full((1, 4, 4), -1.0)) == 0)


def test_normalise_leaves_one_maximum_where_a_percentile_clip_made_a_plateau():
    raw = torch.rand(1, 32, 32, generator=torch.Generator().manual_seed(0))
    maps = normalise(raw)
    assert int((maps == maps.max()).sum()) == 1 and maps.argmax() == raw.argmax()


def test_liveness_flags_maps_with_nothing_positive_and_the_share_the_relu_drops():
    signed = torch.stack([torch.full((4, 4), -1.0), torch.full((4, 4), 2.0), torch.tensor([[3.0, -1.0], [0.0, 0.0]]).repeat(2, 2)])
    alive = liveness(signed)
    assert [row["dead"] for row in alive] == [True, True, False]  # all negative; constant; a real map
    assert alive[0]["relu_removed"] == 1.0 and alive[1]["relu_removed"] == 0.0
    assert alive[2]["relu_removed"] == pytest.approx(0.25)


def test_fusion_is_the_weighted_sum():
    gradcam, ig, lime = torch.rand(3, 2, 8, 8).unbind(0)
    fused = fuse({"gradcam": gradcam, "ig": ig, "lime": lime})
    torch.testing.assert_close(fused, 0.4 * gradcam + 0.4 * ig + 0.2 * lime)


def test_fusion_renormalises_weights_over_the_given_maps_and_rejects_unknown_ones():
    gradcam, ig = torch.rand(2, 1, 4, 4).unbind(0)
    torch.testing.assert_close(fuse({"gradcam": gradcam, "ig": ig}), 0.5 * gradcam + 0.5 * ig)
    weighted = fuse({"gradcam": gradcam, "ig": ig}, {"gradcam": 3, "ig": 1})
    torch.testing.assert_close(weighted, 0.75 * gradcam + 0.25 * ig)
    with pytest.raises(ValueError, match="no fusion weight"):
        fuse({"occlusion": gradcam})


def parts(dead_cam: bool) -> list[Explanation]:
    """A CAM (dead on image 0 when asked), IG and LIME maps of two images, with their liveness."""
    cam = torch.rand(2, 8, 8, generator=torch.Generator().manual_seed(1))
    if dead_cam:
        cam[0] = 0
    maps = {"cam": cam, "ig": torch.rand(2, 8, 8, generator=torch.Generator().manual_seed(2)),
            "lime": torch.rand(2, 8, 8, generator=torch.Generator().manual_seed(3))}
    return [explanation(name, values, None, [{}, {}], time.perf_counter()) for name, values in maps.items()]


def test_alive_rule_gives_a_dead_map_no_weight_on_that_image_only():
    given = parts(dead_cam=True)
    fused = fuse_explanations(given, "alive")
    first, second = fused.diagnostics
    assert (first["weight_cam"], first["weight_ig"], first["weight_lime"]) == pytest.approx((0, 2 / 3, 1 / 3), abs=1e-4)
    assert (second["weight_cam"], second["weight_ig"], second["weight_lime"]) == (0.4, 0.4, 0.2)
    maps = {part.method: part.maps for part in given}
    torch.testing.assert_close(fused.maps[0], (0.4 * maps["ig"][0] + 0.2 * maps["lime"][0]) / 0.6)
    paper = fuse_explanations(given, "paper")
    assert paper.diagnostics[0]["weight_cam"] == 0.4  # the paper's rule fuses the dead map all the same


def test_every_map_dead_gives_a_dead_fused_map():
    dead = [explanation(name, torch.zeros(1, 4, 4), None, [{}], time.perf_counter()) for name in ("cam", "ig", "lime")]
    fused = fuse_explanations(dead, "alive")
    assert fused.dead == [True] and torch.all(fused.maps == 0)


def test_faithfulness_rule_weighs_maps_by_their_own_deletion_and_insertion():
    images = torch.zeros(1, 3, 8, 8)
    images[:, :, :4] = 1  # the score is the brightness of the top half
    predict = lambda batch: torch.stack([batch[:, :, :4].mean(dim=(1, 2, 3)), 1 - batch[:, :, :4].mean(dim=(1, 2, 3))], 1)
    top, bottom = torch.zeros(1, 8, 8), torch.zeros(1, 8, 8)
    top[:, :4], bottom[:, 4:] = 1 + torch.rand(1, 4, 8), 1 + torch.rand(1, 4, 8)
    maps = [explanation("cam", top, None, [{}], 0.0), explanation("ig", bottom, None, [{}], 0.0)]
    weights = image_weights(maps, "faithfulness", images=images, targets=torch.tensor([0]), predict=predict)[0]
    assert weights["cam"] > 0.9 and weights["ig"] < 0.1  # the map on the evidence wins
    diagnostics = fuse_explanations(maps, "faithfulness", images=images, targets=torch.tensor([0]),
                                    predict=predict).diagnostics[0]  # the gaps the weights came from
    assert diagnostics["gap_cam"] > diagnostics["gap_ig"] and not diagnostics["faithfulness_undecided"]
    with pytest.raises(ValueError, match="unknown fusion rule"):
        image_weights(maps, "vote")


def test_a_higher_power_gives_the_more_faithful_map_more_of_the_weight():
    images = torch.zeros(1, 3, 8, 8)
    images[:, :, :4, ::2] = 1  # stripes in the top half: the score is their contrast, which the blur removes

    def predict(batch: torch.Tensor) -> torch.Tensor:
        score = (batch[:, :, :4, 1:] - batch[:, :, :4, :-1]).abs().mean(dim=(1, 2, 3))
        return torch.stack([score, 1 - score], 1)

    ramp = torch.linspace(0, 0.1, 8)  # no ties within a row
    top = torch.zeros(1, 8, 8)
    top[:, :4] = 1 + ramp
    mixed = torch.zeros(1, 8, 8)  # rows ranked top, bottom, top, ...: half on the evidence, so less faithful
    for rank, row in enumerate((0, 4, 1, 5, 2, 6, 3, 7)):
        mixed[:, row] = 8 - rank + ramp
    maps = [explanation("cam", top, None, [{}], 0.0), explanation("ig", mixed, None, [{}], 0.0)]
    first, second = (image_weights(maps, "faithfulness", images=images, targets=torch.tensor([0]), predict=predict,
                                   power=power)[0] for power in (1.0, 2.0))
    assert 0 < first["ig"] < first["cam"] and second["cam"] > first["cam"]
    ratio = lambda weights: weights["cam"] / weights["ig"] / (WEIGHTS["cam"] / WEIGHTS["ig"])
    assert ratio(second) == pytest.approx(ratio(first) ** 2, rel=1e-4)  # the gaps' ratio, squared
    with pytest.raises(ValueError, match="power must be positive"):
        image_weights(maps, "faithfulness", images=images, targets=torch.tensor([0]), predict=predict, power=0)


def test_gaps_computed_once_give_the_same_weights_without_a_model_pass():
    images = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    predict = lambda batch: torch.softmax(batch[:, :2].mean(dim=(2, 3)) * 10, dim=1)
    maps = [explanation(name, torch.rand(2, 8, 8, generator=torch.Generator().manual_seed(seed)), None, [{}, {}], 0.0)
            for seed, name in enumerate(("cam", "ig", "lime"))]
    targets = torch.tensor([0, 1])
    gaps = faithfulness_gaps(maps, images, targets, predict)
    assert set(gaps) == {"cam", "ig", "lime"} and all(gap.shape == (2,) for gap in gaps.values())
    for power in (1.0, 2.0):
        direct = image_weights(maps, "faithfulness", images=images, targets=targets, predict=predict, power=power)
        assert image_weights(maps, "faithfulness", power=power, gaps=gaps) == direct  # no predict needed
    with pytest.raises(ValueError, match="needs the images"):
        image_weights(maps, "faithfulness")


def test_faithfulness_rule_falls_back_to_the_live_maps_when_none_moves_the_prediction():
    images = torch.rand(1, 3, 8, 8)
    constant = lambda batch: torch.tensor([[0.7, 0.3]]).expand(len(batch), 2)  # nothing changes the score
    maps = [explanation("cam", torch.rand(1, 8, 8), None, [{}], 0.0), explanation("ig", torch.rand(1, 8, 8), None, [{}], 0.0)]
    weights = image_weights(maps, "faithfulness", images=images, targets=torch.tensor([0]), predict=constant)[0]
    assert weights == {"cam": 0.5, "ig": 0.5}  # the alive weights, not a blank fused map
    # and the fused map's diagnostics say the rule could not choose, with the gaps it saw
    diagnostics = fuse_explanations(maps, "faithfulness", images=images, targets=torch.tensor([0]),
                                    predict=constant).diagnostics[0]
    assert diagnostics["faithfulness_undecided"] and diagnostics["gap_cam"] == diagnostics["gap_ig"] == 0.0
    assert "gap_cam" not in fuse_explanations(maps, "alive").diagnostics[0]


def test_the_faithfulness_rule_costs_the_passes_the_work_budget_counts():
    images = torch.rand(2, 3, 8, 8)
    seen = []

    def counting(batch: torch.Tensor) -> torch.Tensor:
        seen.append(len(batch))
        return torch.softmax(batch.mean(dim=(2, 3))[:, :2], dim=1)
    maps = [explanation(name, torch.rand(2, 8, 8), None, [{}, {}], 0.0) for name in ("cam", "ig", "lime")]
    for steps in (FAITHFULNESS_STEPS, 4):
        seen.clear()
        fuse_explanations(maps, "faithfulness", images=images, targets=torch.tensor([0, 1]), predict=counting,
                          steps=steps)
        # LIME's base weight under the rule is 0 (RULE_WEIGHTS): it is not scored, and costs no pass
        assert sum(seen) == len(images) * rule_passes("faithfulness", 2, steps) == 2 * 2 * 2 * (steps - 1)
    assert rule_passes("alive", 3) == rule_passes("paper", 3) == 0


def test_fused_explanation_keeps_its_parts_and_its_weights():
    parts = [Explanation(name, torch.ones(1, 2, 2) * value, torch.zeros(1, 2, 2), diagnostics=[{"n": value}],
                         seconds=1.0) for name, value in (("gradcam", 1.0), ("ig", 0.5), ("lime", 0.0))]
    fused = fuse_explanations(parts, "paper")
    torch.testing.assert_close(fused.maps, torch.full((1, 2, 2), 0.6))
    assert fused.diagnostics[0]["rule"] == "paper" and fused.diagnostics[0]["weight_lime"] == 0.2
    assert set(fused.raw) == {"gradcam", "ig", "lime"}
