"""Build the recipe's MONAI networks: the segmenter (one logit per labelled structure) and the
optional image-level classifier (one logit)."""

from __future__ import annotations

import torch

from radiomark.recipes.schema import Classifier, Recipe


def build_network(recipe: Recipe, spatial_dims: int = 2) -> torch.nn.Module:
    """MONAI ``UNet`` or ``FlexibleUNet`` (EfficientNet encoder, trained from scratch)."""
    from monai.networks.nets import FlexibleUNet, UNet

    spec, outputs = recipe.network, len(recipe.labels)
    if spec.name == "flexible_unet":
        return FlexibleUNet(in_channels=1, out_channels=outputs, backbone=spec.backbone, pretrained=False,
                            spatial_dims=spatial_dims)
    return UNet(spatial_dims=spatial_dims, in_channels=1, out_channels=outputs, channels=spec.channels,
                strides=spec.strides, num_res_units=spec.num_res_units)


def build_classifier(spec: Classifier) -> torch.nn.Module:
    """MONAI ``EfficientNetBN`` (trained from scratch: no pretrained weights can be downloaded)
    with one grey input channel and one output logit for the positive class."""
    from monai.networks.nets import EfficientNetBN

    # Batch-norm momentum 0.1 (PyTorch's default) instead of MONAI's 0.01: trained from scratch with
    # the 0.01 running averages, the eval-mode outputs of a Kermany run collapsed to 0.92-0.93 for
    # every image after 4 epochs (train-mode outputs spread over 0-1): the averages lagged the weights.
    return EfficientNetBN(spec.backbone, pretrained=False, spatial_dims=2, in_channels=1, num_classes=1,
                          norm=("batch", {"eps": 1e-3, "momentum": 0.1}))
