"""Build the recipe's MONAI networks: the segmenter (one logit per labelled structure) and the
optional image-level classifier (one logit)."""

from __future__ import annotations

import torch

from radiomark.errors import RecipeError
from radiomark.recipes.schema import Classifier, Recipe


def build_network(recipe: Recipe) -> torch.nn.Module:
    """The recipe's segmenter: MONAI ``UNet``, ``FlexibleUNet`` (EfficientNet encoder, trained from
    scratch), ``VNet`` or ``DynUNet``, with one input channel per recipe input and one output logit
    per structure.

    MONAI's VNet adds its input to 16 feature maps and so takes 1, 2, 4, 8 or 16 channels; other
    counts (the three echoes of the nigra recipe) pass through a learned 1×1×1 convolution to 4
    channels first.
    """
    from monai.networks.nets import DynUNet, FlexibleUNet, UNet, VNet

    spec, outputs = recipe.network, len(recipe.labels)
    dims, inputs = recipe.preprocessing.spatial_dims, len(recipe.inputs.echoes)
    if spec.strides is None:
        raise RecipeError(f"recipe {recipe.name}: network.strides are not planned yet (train the recipe first)")
    if spec.name == "flexible_unet":
        return FlexibleUNet(in_channels=inputs, out_channels=outputs, backbone=spec.backbone, pretrained=False,
                            spatial_dims=dims)
    if spec.name == "vnet":
        width = inputs if 16 % inputs == 0 else 4
        vnet = VNet(spatial_dims=dims, in_channels=width, out_channels=outputs, dropout_prob_down=spec.dropout,
                    dropout_prob_up=(spec.dropout, spec.dropout))
        if width == inputs:
            return vnet
        return torch.nn.Sequential(torch.nn.Conv3d(inputs, width, kernel_size=1), vnet)
    if spec.name == "dynunet":
        if len(spec.channels) != len(spec.strides) + 1:
            raise RecipeError(f"recipe {recipe.name}: dynunet needs one more channels entry than strides")
        strides = [1, *spec.strides]
        return DynUNet(spatial_dims=dims, in_channels=inputs, out_channels=outputs, kernel_size=[3] * len(strides),
                       strides=strides, upsample_kernel_size=strides[1:], filters=list(spec.channels),
                       res_block=spec.num_res_units > 0)
    return UNet(spatial_dims=dims, in_channels=inputs, out_channels=outputs, channels=spec.channels,
                strides=[int(s) for s in spec.strides],  # type: ignore[arg-type]  # UNet strides are ints
                num_res_units=spec.num_res_units)


def build_classifier(spec: Classifier) -> torch.nn.Module:
    """MONAI ``EfficientNetBN`` (trained from scratch: no pretrained weights can be downloaded)
    with one grey input channel and one output logit for the positive class."""
    from monai.networks.nets import EfficientNetBN

    # Batch-norm momentum 0.1 (PyTorch's default) instead of MONAI's 0.01: trained from scratch with
    # the 0.01 running averages, the eval-mode outputs of a Kermany run collapsed to 0.92-0.93 for
    # every image after 4 epochs (train-mode outputs spread over 0-1): the averages lagged the weights.
    return EfficientNetBN(spec.backbone, pretrained=False, spatial_dims=2, in_channels=1, num_classes=1,
                          norm=("batch", {"eps": 1e-3, "momentum": 0.1}))
