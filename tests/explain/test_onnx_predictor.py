"""LIME's in-process ONNX Runtime path: same answers as the PyTorch model, never stale weights."""

import numpy as np
import torch

from medxai.explain import lime
from medxai.explain.base import predict_probabilities
from medxai.explain.onnx_predictor import onnx_predictor
from medxai.models import build_model

SIZE = 64


def small_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("resnet18_attention", 3).eval()


def nhwc(images: torch.Tensor) -> np.ndarray:
    return images.permute(0, 2, 3, 1).numpy()


def test_onnx_predictions_match_pytorch_fp32():
    model, images = small_model(), torch.rand(5, 3, SIZE, SIZE)
    expected = predict_probabilities(model, images, precision="fp32").numpy()
    np.testing.assert_allclose(onnx_predictor(model, batch_size=2)(nhwc(images)), expected, atol=1e-4)


def test_changed_weights_are_exported_again():
    model, images = small_model(), torch.rand(2, 3, SIZE, SIZE)
    before = onnx_predictor(model)(nhwc(images))
    with torch.no_grad():
        model.head.fc.bias.add_(torch.tensor([5.0, 0.0, -5.0]))  # in place, as a randomisation or a step does
    after = onnx_predictor(model)(nhwc(images))
    np.testing.assert_allclose(after, predict_probabilities(model, images, precision="fp32").numpy(), atol=1e-4)
    assert np.abs(after - before).max() > 0.1


def test_lime_in_fp32_on_the_cpu_runs_onnx_and_agrees_with_the_pytorch_path():
    smooth = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 8), size=SIZE, mode="bilinear")  # SLIC needs regions
    model, images, targets = small_model(), smooth, torch.tensor([1])
    settings = {"segmentation": "slic", "n_segments": 30, "max_samples": 150, "seed": 0, "precision": "fp32"}
    default = lime.explain(model, images, targets, **settings)
    eager = lime.explain(model, images, targets, predict=lime.torch_predictor(model, "fp32"), **settings)
    assert lime.default_predictor(model, "fp32").__qualname__.startswith("onnx_predictor")
    np.testing.assert_allclose(default.unscaled.numpy(), eager.unscaled.numpy(), atol=1e-3)
    assert default.diagnostics[0]["segments"] >= 10  # SLIC honours the requested count, whatever the size
