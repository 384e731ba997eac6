"""The training-time (differentiable) Grad-CAM and IG agree with the serving ones, and L_exp can be trained down."""

import torch
from torch.nn import functional as F

from medxai.explain import consistency, gradcam, integrated_gradients
from medxai.models import build_model
from tests.explain.toys import tiny_cnn


def small_model(seed: int = 0):
    torch.manual_seed(seed)
    return build_model("resnet18_attention", 2).eval()


def images_and_targets(count: int = 2, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    return torch.rand(count, 3, size, size, generator=generator), torch.arange(count) % 2


def test_differentiable_gradcam_equals_captum_gradcam():
    model, (images, targets) = small_model(), images_and_targets()
    serving = gradcam.explain(model, images, targets, precision="fp32").unscaled
    torch.testing.assert_close(consistency.gradcam_maps(model, images, targets).detach(), serving)


def test_differentiable_ig_equals_captum_ig_with_the_same_steps():
    model, (images, targets) = small_model(), images_and_targets()
    for baseline in ("zero", "blur"):
        serving = integrated_gradients.explain(model, images, targets, steps=8, max_steps=8, baseline=baseline,
                                               precision="fp32", smoothing=0.0).unscaled
        training = consistency.ig_maps(model, images, targets, steps=8, baseline=baseline).detach()
        torch.testing.assert_close(training, serving, rtol=1e-4, atol=1e-6)


def test_consistency_loss_has_weight_gradients_and_leaves_the_mode_and_running_stats_alone():
    model, (images, targets) = tiny_cnn(), images_and_targets()
    model.train()
    running_mean = model.features[1].running_mean.clone()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = consistency.consistency_loss(model, images, targets, ig_steps=4)
    loss.backward()
    assert loss.dim() == 0 and 0 <= loss.item() <= 1
    assert model.training
    assert model.features[0].weight.grad.abs().sum() > 0
    torch.testing.assert_close(model.features[1].running_mean, running_mean)


def l_exp_after_training(alpha: float) -> tuple[float, float]:
    """L_exp of a tiny CNN before and after 15 Adam steps of CE + alpha * L_exp on one fixed batch."""
    model, (images, targets) = tiny_cnn(), images_and_targets(count=8, size=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = consistency.consistency_loss(model, images, targets).item()
    for _ in range(15):
        model.train()
        loss = F.cross_entropy(model(images), targets) + alpha * consistency.consistency_loss(model, images, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return before, consistency.consistency_loss(model, images, targets).item()


def test_a_short_training_with_alpha_0_2_lowers_l_exp():
    before, after = l_exp_after_training(0.2)
    _, without = l_exp_after_training(0.0)
    assert after < before and after < without
