"""The clinical recipes radiomark ships. This module imports no torch, so listing is instant."""

from __future__ import annotations

from enum import StrEnum


class RecipeName(StrEnum):
    """Names of the five clinical recipes (see DESIGN.md)."""

    BRAIN_GWR = "brain-gwr"
    SARCOPENIA = "sarcopenia"
    NEONATAL_RDS = "neonatal-rds"
    NIGRA = "nigra"
    DISC_HERNIATION = "disc-herniation"
