"""Small models with known answers, shared by the explanation tests."""

import torch
from torch import nn

from medxai.models.classifier import ClassificationHead, MedicalClassifier

SIZE = 32


class QuadrantMask(nn.Module):
    """Zeroes everything outside the top-left quadrant."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        mask = torch.zeros_like(features)
        mask[..., :features.shape[-2] // 2, :features.shape[-1] // 2] = 1
        return features * mask


def quadrant_model() -> MedicalClassifier:
    """Class 1's logit grows with the bright texture of the top-left quadrant, and nothing else matters.

    Bright pixels count only above a threshold (bias -0.5 before the ReLU), so hiding a superpixel behind its
    mean colour (as LIME does) removes evidence.
    """
    conv = nn.Conv2d(3, 4, 3, padding=1)
    features = nn.Sequential(conv, nn.ReLU(), QuadrantMask())
    head = ClassificationHead(4, 2, dropout=0.0)
    with torch.no_grad():
        conv.weight.fill_(1 / 27)
        conv.bias.fill_(-0.5)
        head.fc.weight.copy_(torch.tensor([[-10.0] * 4, [10.0] * 4]))
        head.fc.bias.zero_()
    model = MedicalClassifier(features, head, gradcam_layer="features.2", mean=(0, 0, 0), std=(1, 1, 1))
    return model.eval()


def grid_segments(size: int, cells: int = 4) -> torch.Tensor:
    """Superpixels as a cells x cells grid of squares, labelled 0.. row by row."""
    side = size // cells
    rows = torch.arange(size) // side
    return (rows[:, None] * cells + rows[None, :]).numpy()


def tiny_cnn(seed: int = 0) -> MedicalClassifier:
    """A few-thousand-weight CNN with batch norm, for tests that train or double-backpropagate."""
    torch.manual_seed(seed)
    features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                             nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
    return MedicalClassifier(features, ClassificationHead(16, 2, dropout=0.0), gradcam_layer="features.4").eval()


def textured_images(count: int = 2) -> torch.Tensor:
    return torch.rand(count, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


def in_quadrant_share(maps: torch.Tensor) -> float:
    """Share of the maps' mass inside the top-left quadrant."""
    return float(maps[:, :SIZE // 2, :SIZE // 2].sum() / maps.sum())
