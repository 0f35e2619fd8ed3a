"""Patient-level splits: no patient's images ever fall on both sides (scikit-learn group splits)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from sklearn.model_selection import GroupKFold, GroupShuffleSplit, StratifiedGroupKFold

from radiomark.errors import InputError


def patient_splits(patient_ids: Sequence[str], folds: int, validation_fraction: float,
                   seed: int, validation_patients: Sequence[str] = ()) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train indices, validation indices) per fold, grouped by patient.

    ``folds == 1`` gives one random split with about ``validation_fraction`` of the patients held
    out; ``folds > 1`` gives k-fold cross-validation over patients. ``validation_patients`` fixes
    the one split instead: those patients validate, all others train.
    """
    groups = np.asarray(patient_ids)
    if validation_patients:
        unknown = sorted(set(validation_patients) - set(patient_ids))
        if unknown or folds != 1:
            raise InputError(None, f"validation patients {unknown} are not in the data" if unknown else
                                   "fixed validation patients give one split; --folds must be 1")
        held = np.isin(groups, list(validation_patients))
        if held.all():
            raise InputError(None, "every patient is a validation patient; none is left to train on")
        return [(np.flatnonzero(~held), np.flatnonzero(held))]
    patients = np.unique(groups)
    if patients.size < max(2, folds):
        raise InputError(None, f"{patients.size} patient(s) cannot be split into {max(2, folds)} groups; "
                               "more patients are needed")
    indices = np.arange(groups.size)
    if folds == 1:
        splitter = GroupShuffleSplit(n_splits=1, test_size=validation_fraction, random_state=seed)
    else:
        splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(train, valid) for train, valid in splitter.split(indices, groups=groups)]


def stratified_patient_split(patient_ids: Sequence[str], labels: ArrayLike, validation_fraction: float,
                             seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices) grouped by patient and stratified by label: the first
    fold of a stratified group k-fold with k = round(1 / validation_fraction)."""
    groups = np.asarray(patient_ids)
    folds = max(2, int(round(1 / validation_fraction)))
    if np.unique(groups).size < folds:
        raise InputError(None, f"{np.unique(groups).size} patient(s) are too few for a {folds}-fold split")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    train, validation = next(splitter.split(np.arange(groups.size), np.asarray(labels), groups=groups))
    return train, validation
