"""Networks (MONAI) built from a recipe, and the bundled default models."""
