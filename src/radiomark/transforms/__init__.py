"""Intensity and spatial transforms (MONAI-based) used by training and inference."""
