"""Channel-spatial attention (seed paper §3.3): F' = sigma(W_c * F) (x) F, channel gate then spatial gate."""

import torch
from torch import nn


class ChannelGate(nn.Module):
    """Squeeze-and-excitation style gate: one weight in (0, 1) per channel, from average and max pooling."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 8)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        avg = self.mlp(features.mean(dim=(2, 3)))
        peak = self.mlp(features.amax(dim=(2, 3)))
        return torch.sigmoid(avg + peak)[:, :, None, None]


class SpatialGate(nn.Module):
    """One weight in (0, 1) per position, from a 7x7 convolution over channel-pooled maps."""

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([features.mean(dim=1, keepdim=True), features.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(pooled))


class ChannelSpatialAttention(nn.Module):
    """Reweights a feature map by a channel gate, then a spatial gate; output shape equals input shape.

    The last spatial weights are kept in `last_spatial_weights` so callers can display where the model attends.
    """

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7):
        super().__init__()
        self.channel_gate = ChannelGate(channels, reduction)
        self.spatial_gate = SpatialGate(kernel_size)
        self.last_spatial_weights: torch.Tensor | None = None

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        features = features * self.channel_gate(features)
        spatial = self.spatial_gate(features)
        self.last_spatial_weights = spatial.detach()
        return features * spatial
