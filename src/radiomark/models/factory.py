"""Build the recipe's MONAI network: one output channel (logit) per labelled structure."""

from __future__ import annotations

import torch

from radiomark.recipes.schema import Recipe


def build_network(recipe: Recipe, spatial_dims: int = 2) -> torch.nn.Module:
    """MONAI ``UNet`` or ``FlexibleUNet`` (EfficientNet encoder, trained from scratch)."""
    from monai.networks.nets import FlexibleUNet, UNet

    spec, outputs = recipe.network, len(recipe.labels)
    if spec.name == "flexible_unet":
        return FlexibleUNet(in_channels=1, out_channels=outputs, backbone=spec.backbone, pretrained=False,
                            spatial_dims=spatial_dims)
    return UNet(spatial_dims=spatial_dims, in_channels=1, out_channels=outputs, channels=spec.channels,
                strides=spec.strides, num_res_units=spec.num_res_units)
