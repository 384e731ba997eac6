"""The one scale and the fusion arithmetic."""

import pytest
import torch

from medxai.explain.base import Explanation, normalise
from medxai.explain.fusion import fuse, fuse_explanations


def test_normalise_keeps_the_positive_part_over_its_99th_percentile():
    raw = torch.arange(0, 101, dtype=torch.float32).view(1, 1, -1)  # 99th percentile of 0..100 is 99
    maps = normalise(raw)
    assert maps[0, 0, 50].item() == pytest.approx(50 / 99) and maps[0, 0, 100] == 1
    assert torch.all(normalise(-raw) == 0)
    assert torch.all(normalise(torch.full((1, 4, 4), -1.0)) == 0)


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


def test_fused_explanation_keeps_its_parts_and_their_time():
    parts = [Explanation(name, torch.ones(1, 2, 2) * value, torch.zeros(1, 2, 2), diagnostics=[{"n": value}],
                         seconds=1.0) for name, value in (("gradcam", 1.0), ("ig", 0.5), ("lime", 0.0))]
    fused = fuse_explanations(parts)
    torch.testing.assert_close(fused.maps, torch.full((1, 2, 2), 0.6))
    assert fused.seconds == 3.0 and fused.diagnostics[0]["ig"] == {"n": 0.5}
    assert set(fused.raw) == {"gradcam", "ig", "lime"}
