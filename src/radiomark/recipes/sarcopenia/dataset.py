"""Training data the sarcopenia recipe makes itself: procedural L3 slices
(:mod:`radiomark.recipes.sarcopenia.anatomy`) as network samples, for
``radiomark train sarcopenia --synthetic N`` (alone or beside labelled cases)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import torch

from radiomark.recipes.sarcopenia.anatomy import SyntheticL3Dataset
from radiomark.recipes.schema import Recipe

#: Seeds of the procedural slices used for training start here; benchmarks draw theirs from
#: :data:`HELD_OUT_SEED` upwards, which training never uses.
FIRST_SEED = 0
HELD_OUT_SEED = 1_000_000


def _sample(job: tuple[Recipe, int]) -> dict[str, Any]:
    recipe, seed = job
    return SyntheticL3Dataset(recipe, [seed])[0]


def synthetic_samples(recipe: Recipe, count: int, progress: Callable[[int, int], None] | None = None,
                      first_seed: int = FIRST_SEED) -> list[dict[str, torch.Tensor]]:
    """``count`` procedural slices (seeds ``first_seed`` onwards) on the recipe's network grid,
    made in parallel on the machine's cores (in one process for fewer than 32) and kept in memory
    (about 1 MB each)."""
    jobs = [(recipe, first_seed + k) for k in range(count)]
    workers = max(1, min(os.cpu_count() or 1, 8, count // 16))
    samples = []
    if workers == 1:
        for job in jobs:
            samples.append(_sample(job))
            if progress is not None:
                progress(len(samples), count)
        return samples
    # spawned, not forked: a fork of a process whose torch / OpenMP threads are running can hang
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for sample in pool.map(_sample, jobs, chunksize=16):
            samples.append(sample)
            if progress is not None:
                progress(len(samples), count)
    return samples
