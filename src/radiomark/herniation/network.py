"""Fusion networks: an image branch and a tabular MLP, concatenated into a small head.

The seed study's image branch is five conv blocks (3 × 3 convolution, LeakyReLU, 2 × 2 max-pool)
of 32 → 512 filters and a 500-unit embedding. Batch normalisation is added in each block (recipe
``network.batch_norm``): without it this plain CNN's training loss stayed flat for 20 epochs on
the phantoms; with it the validation ROC-AUC passed 0.99 in the first epoch. The study's flattened
9 × 9 × 512 map would need a 20 M-weight dense layer (80 MB); here the last map is averaged over
space first (global average pooling), which keeps the model at about 2.6 M weights. ``mode`` trains
the ablations: ``image`` (the head sees the image embedding only), ``tabular`` (the MLP only) or
``fused`` (both, the study's model).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from radiomark.herniation.recipe import FusionNetwork

Mode = Literal["fused", "image", "tabular"]
MODES: tuple[Mode, ...] = ("fused", "image", "tabular")


class StudyCNN(nn.Module):
    """Conv blocks (3 × 3 convolution, batch normalisation when ``norm``, LeakyReLU, max-pool) →
    global average pool → ``embedding`` units."""

    def __init__(self, channels: tuple[int, ...], embedding: int, norm: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = 1
        for count in channels:
            layers += [nn.Conv2d(previous, count, 3, padding=1), *([nn.BatchNorm2d(count)] if norm else []),
                       nn.LeakyReLU(0.01), nn.MaxPool2d(2)]
            previous = count
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embed = nn.Sequential(nn.Linear(previous, embedding), nn.LeakyReLU(0.01))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.embed(self.features(image))


def _image_branch(spec: FusionNetwork) -> nn.Module:
    if spec.image_branch == "study_cnn":
        return StudyCNN(spec.image_channels, spec.embedding, spec.batch_norm)
    from monai.networks.nets import EfficientNetBN

    return nn.Sequential(EfficientNetBN(spec.image_branch, pretrained=False, spatial_dims=2, in_channels=1,
                                        num_classes=spec.embedding), nn.LeakyReLU(0.01))


class FusionNet(nn.Module):
    """``forward(image [B, 1, H, W], tabular [B, C]) -> logit [B]``."""

    def __init__(self, spec: FusionNetwork, tabular_columns: int, mode: Mode = "fused") -> None:
        super().__init__()
        self.mode = mode
        width = 0
        if mode != "tabular":
            self.image = _image_branch(spec)
            width += spec.embedding
        if mode != "image":
            self.tabular = nn.Sequential(nn.Linear(tabular_columns, spec.tabular_units), nn.LeakyReLU(0.01))
            width += spec.tabular_units
        head: list[nn.Module] = []
        for units in spec.head:
            head += [nn.Dropout(spec.dropout), nn.Linear(width, units), nn.LeakyReLU(0.01)]
            width = units
        self.head = nn.Sequential(*head, nn.Dropout(spec.dropout), nn.Linear(width, 1))

    def forward(self, image: torch.Tensor, tabular: torch.Tensor) -> torch.Tensor:
        parts = []
        if self.mode != "tabular":
            parts.append(self.image(image))
        if self.mode != "image":
            parts.append(self.tabular(tabular))
        return self.head(torch.cat(parts, dim=1))[:, 0]
