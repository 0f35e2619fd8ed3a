"""Inference: trained models applied to images, results brought back to the source grid."""
