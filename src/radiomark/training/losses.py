"""Weighted BCE + Dice on independent sigmoid channels (one per structure).

MONAI's ``DiceCELoss(sigmoid=True)`` uses a softmax cross-entropy when there is more than one
channel, so the per-structure *binary* cross-entropy with positive weights of the seed study is
composed here from MONAI's ``DiceLoss`` and PyTorch's ``BCEWithLogitsLoss``.
"""

from __future__ import annotations

import torch
from monai.losses import DiceLoss

from radiomark.recipes.schema import Loss


class DiceBCELoss(torch.nn.Module):
    """``lambda_dice * Dice(sigmoid) + lambda_bce * BCEWithLogits(pos_weight per channel)``."""

    def __init__(self, spec: Loss, spatial_dims: int = 2) -> None:
        super().__init__()
        self.dice = DiceLoss(sigmoid=True)
        weights = torch.tensor(spec.bce_pos_weight, dtype=torch.float32).view(-1, *[1] * spatial_dims)
        self.bce = torch.nn.BCEWithLogitsLoss(pos_weight=weights)
        self.lambda_dice, self.lambda_bce = spec.lambda_dice, spec.lambda_bce

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.lambda_dice * self.dice(logits, target) + self.lambda_bce * self.bce(logits, target)
