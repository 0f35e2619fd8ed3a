"""Label transfer between files: register an image onto another and carry a label map drawn on it
(``radiomark transfer-labels``; the brain-gwr atlas is built with it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from radiomark.errors import InputError
from radiomark.io import read_image
from radiomark.io.nifti import is_nifti_path


def _label_file(path: str | os.PathLike[str]) -> Any:
    """A NIfTI label map whose values need not be named: structures are called ``label_<value>``."""
    import numpy as np

    from radiomark.image import LabelMap
    from radiomark.io.nifti import read_nifti

    stored = read_nifti(path)
    values = np.asarray(stored.array)
    if not np.array_equal(values, np.round(values)) or values.min() < 0:
        raise InputError(path, "a label map holds non-negative whole numbers; this file holds other values")
    present = sorted(int(v) for v in np.unique(values) if v > 0)
    if not present:
        raise InputError(path, "the label map is empty (no value above 0)")
    return LabelMap.like(stored, values.astype(np.uint16 if max(present) > 255 else np.uint8),
                         {v: f"label_{v}" for v in present})


def transfer_label_file(moving: str | os.PathLike[str], labels: str | os.PathLike[str], fixed: str | os.PathLike[str],
                    out: str | os.PathLike[str], *, report: str | os.PathLike[str] | None = None,
                    affine: bool = False, seed: int = 0) -> dict[str, Any]:
    """Register ``moving`` (e.g. the patient's MRI) onto ``fixed`` (the CT) and carry ``labels``
    (a NIfTI label map on the moving grid) onto the fixed grid: writes ``out`` (NIfTI), the
    transform beside it (``.tfm``, SimpleITK/ITK format, fixed → moving points) and, with
    ``report``, a QC picture. Returns the registration record (stages, final metric, parameters)."""
    import SimpleITK as sitk

    from radiomark.io.atomic import atomic_file
    from radiomark.io.nifti import write_nifti
    from radiomark.outputs.registration import save_registration_qc
    from radiomark.registration import register, resample_onto
    from radiomark.registration import transfer_labels as carry

    target = Path(out)
    if not is_nifti_path(target):
        raise InputError(target, "the output label map needs a .nii.gz or .nii suffix")
    inputs = {Path(p).resolve() for p in (moving, labels, fixed)}
    outputs = [target, target.with_name(target.name.split(".")[0] + ".tfm")] + ([Path(report)] if report else [])
    if any(path.resolve() in inputs for path in outputs):
        raise InputError(target, "an output would replace an input; choose another --out / --report")
    moving_image, fixed_image = read_image(moving), read_image(fixed)
    label_map = _label_file(labels)
    if not label_map.geometry_equal(moving_image, atol=1e-3):
        raise InputError(labels, f"the labels' grid {label_map.shape} is not the moving image's grid "
                                 f"{moving_image.shape}; labels must be drawn on --moving")
    registration = register(fixed_image, moving_image, affine=affine, seed=seed)
    moved = carry(label_map, fixed_image, registration)
    record = {"output": str(target), "transform_file": str(outputs[1]), **registration.parameters(),
              "structures_transferred_voxels": {name: int((moved.array == value).sum()) for value, name in
                                                moved.labels.items()}}
    if report is not None:  # the picture first: the label map is the last thing written
        save_registration_qc(fixed_image, resample_onto(moving_image, fixed_image, registration.transform), moved,
                             report, f"{Path(moving).name} → {Path(fixed).name}: {' + '.join(registration.stages)}, "
                                     f"Mattes MI {registration.metric:.3f}")
        record["report"] = str(report)
    with atomic_file(outputs[1]) as temporary:
        sitk.WriteTransform(registration.transform, str(temporary))
    write_nifti(moved, target)
    return record
