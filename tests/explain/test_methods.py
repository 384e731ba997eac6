"""Each method against a known answer: IG of a linear model is input x weight; every CAM variant and LIME of a
model that looks only at the top-left quadrant peak there; a CAM of only negative evidence is dead."""

import numpy as np
import pytest
import torch
from torch import nn

from medxai.explain import cam, gradcam, integrated_gradients, lime
from medxai.explain.base import log_odds, normalise
from medxai.metrics.faithfulness import blurred
from tests.explain.toys import SIZE, grid_segments, in_quadrant_share, quadrant_model, textured_images


class Linear(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(3 * SIZE * SIZE, 3)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc(images.flatten(1))


@pytest.mark.parametrize("baseline", ["zero", "blur"])
def test_ig_of_a_linear_model_is_input_times_weight(baseline):
    model, images, targets = Linear(), textured_images(), torch.tensor([0, 2])
    explanation = integrated_gradients.explain(model, images, targets, steps=4, baseline=baseline, precision="fp32")
    reference = images - (blurred(images) if baseline == "blur" else 0)
    expected = reference * model.fc.weight[targets].view(-1, 3, SIZE, SIZE)
    torch.testing.assert_close(explanation.raw, expected.detach(), rtol=1e-4, atol=1e-6)
    assert all(d["completeness_gap"] < 1e-3 and d["steps"] == 4 for d in explanation.diagnostics)
    smoothed = integrated_gradients.smoothed(expected.sum(dim=1).detach(), integrated_gradients.SMOOTHING)
    torch.testing.assert_close(explanation.maps, normalise(smoothed))


def test_ig_smoothing_keeps_the_total_and_spreads_the_speckle():
    model, images, targets = Linear(), textured_images(), torch.tensor([0, 2])
    raw = integrated_gradients.explain(model, images, targets, steps=4, precision="fp32", smoothing=0.0)
    smooth = integrated_gradients.explain(model, images, targets, steps=4, precision="fp32", smoothing=0.1)
    torch.testing.assert_close(smooth.raw, raw.raw)  # the attributions are the same; only the map is blurred
    assert smooth.unscaled.std() < 0.5 * raw.unscaled.std()
    assert smooth.diagnostics[0]["smoothing"] == 0.1 and raw.diagnostics[0]["smoothing"] == 0.0


def test_ig_in_bf16_stays_close_to_fp32():
    model, images, targets = Linear(), textured_images(), torch.tensor([0, 2])
    fast = integrated_gradients.explain(model, images, targets, steps=4, precision="bf16").raw
    exact = integrated_gradients.explain(model, images, targets, steps=4, precision="fp32").raw
    assert torch.corrcoef(torch.stack([fast.flatten(), exact.flatten()]))[0, 1] > 0.99


def test_gradcam_peaks_in_the_quadrant_the_model_looks_at():
    explanation = gradcam.explain(quadrant_model(), textured_images(), torch.tensor([1, 1]), precision="fp32")
    assert explanation.maps.shape == (2, SIZE, SIZE)
    assert in_quadrant_share(explanation.maps) > 0.95
    assert explanation.dead == [False, False] and explanation.diagnostics[0]["layer"] == "features.2"


@pytest.mark.parametrize("variant", list(cam.VARIANTS))
def test_every_cam_variant_peaks_in_the_quadrant_batched(variant):
    explanation = cam.explain(quadrant_model(), textured_images(3), torch.tensor([1, 1, 1]), variant=variant)
    assert explanation.method == variant and explanation.maps.shape == (3, SIZE, SIZE)
    assert in_quadrant_share(explanation.maps) > 0.95 and explanation.dead == [False] * 3
    assert explanation.raw.shape == (3, SIZE, SIZE)  # the layer's resolution: this toy keeps the input's


def test_a_cam_with_only_negative_evidence_is_dead_and_says_how_much_the_relu_removed():
    # Class 0's logit falls with the quadrant's texture: Grad-CAM's channel weights are all negative.
    explanation = gradcam.explain(quadrant_model(), textured_images(), torch.tensor([0, 0]))
    assert explanation.dead == [True, True] and torch.all(explanation.maps == 0)
    assert all(d["relu_removed"] == 1.0 for d in explanation.diagnostics)
    # The log-probability of class 0 is the same evidence, seen from the other side: still no positive part.
    assert cam.explain(quadrant_model(), textured_images(), torch.tensor([0, 0]), variant="gradcam",
                       score="log_probability").dead == [True, True]


def test_cam_refuses_unknown_variants_scores_and_layers():
    model, images, targets = quadrant_model(), textured_images(), torch.tensor([1, 1])
    for options, message in (({"variant": "scorecam"}, "unknown CAM variant"), ({"score": "margin"}, "unknown explained"),
                             ({"layer": "features.9"}, "no layer 'features.9'")):
        with pytest.raises(ValueError, match=message):
            cam.explain(model, images, targets, **options)


def test_lime_peaks_in_the_quadrant_with_a_pluggable_predict():
    model = quadrant_model()

    def predict(batch: np.ndarray) -> np.ndarray:  # NHWC numpy in, probabilities out: no PyTorch needed by LIME
        with torch.no_grad():
            return model.probabilities(model(torch.from_numpy(batch).permute(0, 3, 1, 2))).numpy()

    segments = [grid_segments(SIZE)] * 2
    explanation = lime.explain(None, textured_images(), torch.tensor([1, 1]), predict=predict, segments=segments,
                               max_samples=300, min_samples=100, chunk=50)
    assert in_quadrant_share(explanation.maps) > 0.9
    for diagnostics in explanation.diagnostics:
        assert diagnostics["r2"] > 0.5 and diagnostics["samples"] <= 300 and diagnostics["segments"] == 16


def test_log_odds_survive_where_the_probability_rounds_to_one():
    logits = torch.tensor([[60.0, 0.0], [0.0, 3.0], [2.0, 1.0]])
    probabilities = torch.softmax(logits, dim=1)
    assert probabilities[0, 0] == 1.0  # fp32: the other class's 1e-26 is lost in 1 - p
    expected = torch.tensor([[60.0, -60.0], [-3.0, 3.0], [1.0, -1.0]], dtype=torch.float64)
    torch.testing.assert_close(log_odds(probabilities), expected, atol=1e-5, rtol=1e-5)
    sigmoid = torch.sigmoid(torch.tensor([[2.0, -1.0]]))
    torch.testing.assert_close(log_odds(sigmoid, multi_label=True), torch.tensor([[2.0, -1.0]], dtype=torch.float64),
                               atol=1e-6, rtol=1e-6)


def test_lime_of_a_confident_model_explains_the_log_odds_where_the_probability_does_not_move():
    """Issue 17: the demo model's probabilities are 1.0 in fp32, and LIME's map of the probability (lime's
    default) was all zero on half its phantoms. Its log-odds still move when evidence is hidden."""
    model, images, targets = quadrant_model(), textured_images(), torch.tensor([1, 1])
    with torch.no_grad():
        model.head.fc.weight.mul_(100)  # logit margins of 15-25: probabilities of 1.0 in fp32
    segments = [grid_segments(SIZE)] * 2
    probability = lime.explain(model, images, targets, segments=segments, max_samples=300, score="probability",
                               hide="mean")
    assert any(d["r2"] is None and "explained probability varies by only" in d["undefined"]["r2"]
               for d in probability.diagnostics)
    for hide in lime.HIDES:
        explanation = lime.explain(model, images, targets, segments=segments, max_samples=300, hide=hide)
        assert not any(explanation.dead) and in_quadrant_share(explanation.maps) > 0.85
        assert all(d["r2"] > 0.9 and d["score"] == "log_odds" and d["hide"] == hide for d in explanation.diagnostics)
    with pytest.raises(ValueError, match="unknown hide"):
        lime.explain(model, images, targets, segments=segments, hide="noise")
    with pytest.raises(ValueError, match="unknown explained score"):
        lime.explain(model, images, targets, segments=segments, score="logit")


def test_lime_sample_count_stops_at_convergence_or_the_cap():
    model, images, targets = quadrant_model(), textured_images(1), torch.tensor([1])
    segments = [grid_segments(SIZE)]
    converged = lime.explain(model, images, targets, segments=segments, max_samples=400, min_samples=100, chunk=50)
    fixed = lime.explain(model, images, targets, segments=segments, max_samples=400, convergence=1.0, chunk=50)
    assert converged.diagnostics[0]["samples"] < 400
    assert fixed.diagnostics[0]["samples"] == 400
    assert np.corrcoef(converged.raw[0][1], fixed.raw[0][1])[0, 1] > 0.9


def test_lime_segments_itself_with_lime_default_quickshift():
    images = textured_images(1)
    explanation = lime.explain(quadrant_model(), images, torch.tensor([1]), max_samples=100, min_samples=100)
    labels, weights = explanation.raw[0]
    np.testing.assert_array_equal(labels, lime.segment(images[0].permute(1, 2, 0).numpy(), "quickshift", 0))
    assert len(weights) == labels.max() + 1


def test_ig_completeness_gap_is_undefined_for_an_image_equal_to_its_baseline_or_with_no_output_change():
    model, images = Linear(), textured_images()
    images[0] = 0  # the zero baseline itself
    explanation = integrated_gradients.explain(model, images, torch.tensor([0, 2]), steps=4, max_steps=16,
                                               precision="fp32")
    black, textured = explanation.diagnostics
    assert black["completeness_gap"] is None and black["steps"] == 4  # more steps cannot help
    assert black["undefined"] == {"completeness_gap": "the image equals IG's baseline, so there is nothing to "
                                                      "attribute"}
    assert textured["completeness_gap"] < 1e-3 and "undefined" not in textured
    assert textured["converged"] is True and black["converged"] is None
    # a gap that still misses the tolerance at max_steps is flagged, not passed off as converged
    unmet = integrated_gradients.explain(model, textured_images(1), torch.tensor([0]), steps=2, max_steps=4,
                                         tolerance=-1.0, precision="fp32").diagnostics[0]
    assert unmet["steps"] == 4 and unmet["converged"] is False
    with torch.no_grad():
        model.fc.weight.zero_()  # the output no longer depends on the image
    flat = integrated_gradients.explain(model, textured_images(1), torch.tensor([0]), steps=4, precision="fp32")
    assert flat.diagnostics[0]["completeness_gap"] is None
    reason = flat.diagnostics[0]["undefined"]["completeness_gap"]
    assert "differs by only 0 between the image and IG's baseline" in reason


def test_lime_r2_is_undefined_when_the_probability_does_not_vary():
    def constant(batch: np.ndarray) -> np.ndarray:
        return np.tile([[0.3, 0.7]], (len(batch), 1))

    explanation = lime.explain(None, textured_images(1), torch.tensor([1]), predict=constant,
                               segments=[grid_segments(SIZE)], max_samples=200, min_samples=100, chunk=50)
    diagnostics = explanation.diagnostics[0]
    assert diagnostics["r2"] is None and "varies by only 0 over LIME's samples" in diagnostics["undefined"]["r2"]
    assert not explanation.maps.any()


def test_run_methods_reuses_a_given_explanation_and_fuses_the_same_map():
    """The experiment scores the paper's LIME and the paper's fused map over it: LIME is made once."""
    from medxai.explain.pipeline import run_methods
    model, images, targets = quadrant_model(), textured_images(), torch.tensor([1, 1])
    options = {"lime": {"max_samples": 100, "min_samples": 100}, "ig": {"steps": 4, "max_steps": 4}}
    given = lime.explain(model, images, targets, **options["lime"])
    fresh = run_methods(model, images, targets, ["fusion"], options, rule="paper")
    reused = run_methods(model, images, targets, ["fusion"], {"ig": options["ig"]}, rule="paper",
                         computed={"lime": given})
    assert reused["lime"] is given
    assert torch.equal(reused["fusion"].maps, fresh["fusion"].maps)
    default = run_methods(model, images, targets, ["fusion"], options)  # the default rule fuses the CAM and IG
    assert set(default) == {"cam", "ig", "fusion"} and "weight_lime" not in default["fusion"].diagnostics[0]
