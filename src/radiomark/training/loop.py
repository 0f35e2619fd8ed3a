"""The one epoch loop of radiomark's trainers (segmenter, image classifier, joint tuning, fusion
classifier).

Each trainer says what one epoch is (``step``: train, validate, return the epoch's record) and
which epoch to keep (a :class:`Selection`: a named validation metric, lowest or highest). The
loop does the rest the same way for all of them: it resumes after the last recorded epoch, times
each epoch, keeps the weights of the best epoch (``best.pt`` through ``save_best``), saves the
resumable state and ``history.json`` after every epoch, and reports progress.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: progress(description, completed, total)
TrainingProgress = Callable[[str, int, int], None]
#: One epoch's record: ``epoch``, ``train_loss``, validation results and ``seconds``.
EpochRecord = dict[str, Any]


@dataclass(frozen=True)
class Selection:
    """Which epoch's weights are kept: the one whose ``value(record)`` is lowest (or highest with
    ``higher_is_better``); epochs whose value is None (not validated) never count. Ties keep the
    earlier epoch."""

    name: str
    value: Callable[[EpochRecord], float | None]
    higher_is_better: bool = False

    def better(self, value: float, best: float | None) -> bool:
        """Whether ``value`` beats ``best`` (None: nothing to beat yet)."""
        if best is None:
            return True
        return value > best if self.higher_is_better else value < best

    def best(self, history: list[EpochRecord]) -> EpochRecord:
        """The kept epoch of ``history`` (which holds at least one scored epoch)."""
        chosen: EpochRecord | None = None
        for record in history:
            value = self.value(record)
            if value is not None and (chosen is None or self.better(value, self.value(chosen))):
                chosen = record
        if chosen is None:
            raise ValueError(f"no epoch has a {self.name}")
        return chosen


#: The validation loss (every trainer records one): lowest is best.
VALIDATION_LOSS = Selection("validation_loss", lambda record: record.get("validation_loss"))


def run_epochs(history_file: Path | None, epochs: int, history: list[EpochRecord], step: Callable[[int], EpochRecord],
               selection: Selection, save_best: Callable[[], None], describe: Callable[[EpochRecord], str],
               save_state: Callable[[list[EpochRecord]], None] | None = None,
               after_epoch: Callable[[EpochRecord], None] | None = None,
               progress: TrainingProgress | None = None) -> list[EpochRecord]:
    """Run epochs after the last one in ``history`` up to ``epochs``; returns the whole history.

    ``step(epoch)`` trains and validates one epoch and returns its record without ``epoch`` and
    ``seconds`` (the loop adds them). ``save_best`` is called whenever an epoch beats every earlier
    one by ``selection``; ``save_state(history)`` (resumable state) and ``history_file`` (JSON; None
    when the caller records the history itself) follow every epoch; ``after_epoch`` sees each
    finished record (e.g. for TensorBoard).
    """
    scored = any(selection.value(record) is not None for record in history)
    best = selection.value(selection.best(history)) if scored else None
    first = history[-1]["epoch"] + 1 if history else 1
    for epoch in range(first, epochs + 1):
        started = time.perf_counter()
        record = {"epoch": epoch, **step(epoch)}
        record["seconds"] = time.perf_counter() - started
        history.append(record)
        value = selection.value(record)
        if value is not None and selection.better(value, best):
            best = value
            save_best()
        if save_state is not None:
            save_state(history)
        if history_file is not None:
            history_file.write_text(json.dumps(history, indent=1))
        if after_epoch is not None:
            after_epoch(record)
        if progress is not None:
            progress(describe(record), epoch, epochs)
    return history
