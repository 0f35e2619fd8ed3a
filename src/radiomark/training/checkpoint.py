"""Checkpoints of the trainers: ``best.pt`` (weights only) and ``last.pt`` (model, optimiser,
scheduler and the epoch history: everything needed to resume), written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from radiomark.io.atomic import atomic_file

LAST = "last.pt"


def save_checkpoint(payload: Any, path: Path) -> None:
    """``torch.save`` under a temporary name, renamed into place."""
    with atomic_file(path) as temporary:
        torch.save(payload, temporary)


def save_state(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
               history: list[dict[str, Any]]) -> None:
    """Write ``folder/last.pt``."""
    save_checkpoint({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "history": history}, folder / LAST)


def resume_state(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 scheduler: Any) -> list[dict[str, Any]]:
    """Restore model, optimiser and scheduler from ``folder/last.pt``; returns the epoch history
    (empty when there is nothing to resume)."""
    if not (folder / LAST).exists():
        return []
    state = torch.load(folder / LAST, weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return list(state["history"])
