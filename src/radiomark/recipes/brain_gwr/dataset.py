"""A semi-synthetic head CT cohort for ``brain-gwr``, built from the real CQ500 CT template.

Source (``../shared/data/ct-head-template``): the CQ500 head CT template in HU, 2 mm, with its
caudate / putamen labels and CSF / GM / WM classes (Muschelli 2020), and MNI-space atlases: the
JHU white-matter labels (posterior limbs of the internal capsule, corpus callosum), AAL, and the
ICBM152 2009a GM / WM probability maps.

:func:`build_atlas` carries the JHU labels onto the CT template with ``transfer_labels`` (mutual
information, rigid then affine). The images registered are tissue maps — on the CT side its
GM / WM classes, on the MNI side the ICBM152 GM / WM probabilities, both as GM 100, WM 200 —
because mutual information between the CT template itself and the ICBM152 T1 failed on these
smooth averages: the AAL caudate and putamen it carried over overlapped the template's own labels
with Dice 0.21–0.39, against 0.58–0.74 with the tissue maps (measured 2026-11-29; recorded in
``atlas.json`` as ``check_dice`` each time the atlas is built).

:func:`cohort_case` then makes one case: the template (HU, skull included, air set to -1000 HU)
with grey matter shifted by an edema-like HU change drawn per case (``poor`` outcome cases lose
1.5–5 HU of grey matter and gain up to 1.5 HU of white matter; ``good`` cases keep or gain up to
2 HU of grey matter), deformed by a random affine (±8°, ±7 % scale, ±6 mm) and a smooth B-spline
field (control points moved by N(0, 2 mm)), with 4 HU of noise; the landmark labels follow the
same deformation, so the truth is known by construction.

Licence: CQ500 template CC BY-NC-SA 4.0; JHU / AAL atlases research use; ICBM152 free with
attribution. Cohorts written from them stay outside the repository.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from radiomark.errors import InputError
from radiomark.image import Image, LabelMap
from radiomark.io.nifti import read_nifti, write_nifti
from radiomark.metrics import overlap_scores
from radiomark.phantoms.case import PhantomCase
from radiomark.recipes.brain_gwr.phantom import head_ct_case

LABELS = {1: "caudate_right", 2: "caudate_left", 3: "putamen_right", 4: "putamen_left",
          5: "internal_capsule_right", 6: "internal_capsule_left", 7: "corpus_callosum"}
#: CQ500 ``structures`` values -> landmark labels.
CQ500_LABELS = {36: 1, 37: 2, 57: 3, 58: 4}
#: JHU white-matter values of the posterior limbs of the internal capsule, and of the corpus
#: callosum (genu, body, splenium).
JHU_CAPSULE, JHU_CALLOSUM = (19, 20), (3, 4, 5)
#: AAL caudate / putamen values -> CQ500 values, the registration check.
AAL_CHECK = {72: 36, 71: 37, 74: 57, 73: 58}
CSF, GREY, WHITE = 1, 2, 3
LICENCE = "CQ500 template CC BY-NC-SA 4.0; JHU / AAL research use; ICBM152 free with attribution"


@dataclass(frozen=True)
class Atlas:
    """The CT template (HU), its landmark labels and tissue classes on one grid, and the record."""

    ct: Image
    labels: LabelMap
    tissue: LabelMap
    record: dict[str, Any]


def _source(source: Path, relative: str) -> Path:
    path = source / relative
    if not path.is_file():
        raise InputError(path, "missing: the head CT template folder needs cq500_template/ and atlases_mni/")
    return path


def _whole_labels(path: Path, names: dict[int, str] | None = None) -> LabelMap:
    image = read_nifti(path)
    values = np.asarray(image.array)
    present = {int(v) for v in np.unique(values) if v > 0}
    return LabelMap.like(image, np.round(values).astype(np.uint8), names or {v: f"label_{v}" for v in present})


def _tissue_image(grey: np.ndarray, white: np.ndarray, like: Image) -> Image:
    return Image((100.0 * grey + 200.0 * white).astype(np.float32), like.spacing_mm, like.origin_mm, like.direction)


def build_atlas(source: str | os.PathLike[str], work: str | os.PathLike[str]) -> Atlas:
    """The atlas under ``work`` (built once: ``ct.nii.gz``, ``landmarks.nii.gz``, ``tissue.nii.gz``,
    ``atlas.json``, ``registration_qc.png``)."""
    from radiomark.label_transfer import transfer_label_file

    source, work = Path(source), Path(work)
    if not (work / "atlas.json").is_file():
        work.mkdir(parents=True, exist_ok=True)
        ct = read_nifti(_source(source, "cq500_template/template_with_skull_2mm.nii.gz"))
        tissue = _whole_labels(_source(source, "cq500_template/seg_2mm.nii.gz"), {1: "csf", 2: "grey", 3: "white"})
        structures = np.asarray(read_nifti(_source(source, "cq500_template/structures_2mm.nii.gz")).array)
        grey_mni = read_nifti(_source(source, "atlases_mni/mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz"))
        white_mni = read_nifti(_source(source, "atlases_mni/mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz"))
        write_nifti(_tissue_image(np.asarray(tissue.array) == GREY, np.asarray(tissue.array) == WHITE, ct),
                    work / "tissue_ct.nii.gz")
        write_nifti(_tissue_image(np.asarray(grey_mni.array) / 255.0, np.asarray(white_mni.array) / 255.0, grey_mni),
                    work / "tissue_mni.nii.gz")
        import SimpleITK as sitk

        from radiomark.registration import Registration, resample_onto, transfer_labels

        # The JHU and AAL atlases lie on MNI grids of their own: onto the ICBM152 grid (same space).
        jhu = _whole_labels(_source(source, "atlases_mni/JHU-WhiteMatter-labels-1mm.nii.gz"))
        aal = _whole_labels(_source(source, "atlases_mni/aal.nii.gz"))
        wanted = np.zeros(jhu.shape, dtype=np.uint8)
        wanted[np.isin(np.asarray(jhu.array), JHU_CALLOSUM)] = 7
        for value, landmark in zip(_by_side(jhu, JHU_CAPSULE), (5, 6), strict=True):
            wanted[np.asarray(jhu.array) == value] = landmark
        on_mni = resample_onto(LabelMap.like(jhu, wanted, {v: LABELS[v] for v in (5, 6, 7)}), grey_mni,
                               sitk.Transform(), labels=True)
        write_nifti(on_mni, work / "jhu_landmarks.nii.gz")
        check = np.where(np.isin(np.asarray(aal.array), list(AAL_CHECK)), np.asarray(aal.array), 0)
        aal_check = LabelMap.like(aal, check.astype(np.uint8), {v: f"aal_{v}" for v in AAL_CHECK})
        record = transfer_label_file(work / "tissue_mni.nii.gz", work / "jhu_landmarks.nii.gz",
                                     work / "tissue_ct.nii.gz", work / "jhu_on_ct.nii.gz",
                                     report=work / "registration_qc.png", affine=True)
        transform = sitk.ReadTransform(str(work / "jhu_on_ct.tfm"))
        carried = transfer_labels(aal_check, ct, Registration(transform, record["metric_mattes_mutual_information"],
                                                              (), ()))
        names = {cq: f"aal_{aal_value}" for aal_value, cq in AAL_CHECK.items()}
        reference = LabelMap.like(ct, np.where(np.isin(structures, list(AAL_CHECK.values())), structures, 0)
                                  .astype(np.uint8), names)
        moved = np.zeros(ct.shape, dtype=np.uint8)
        for aal_value, cq in AAL_CHECK.items():
            moved[np.asarray(carried.array) == aal_value] = cq
        check_dice = {name: pair["dice"] for name, pair in overlap_scores(LabelMap.like(ct, moved, names),
                                                                          reference).items()}
        landmarks = np.zeros(ct.shape, dtype=np.uint8)
        for value, landmark in CQ500_LABELS.items():
            landmarks[structures == value] = landmark
        transferred = np.asarray(read_nifti(work / "jhu_on_ct.nii.gz").array)
        landmarks = np.where((landmarks == 0) & (transferred > 0), transferred, landmarks).astype(np.uint8)
        head = _head_mask(np.asarray(ct.array))
        hu = np.where(head, np.asarray(ct.array), -1000.0).astype(np.float32)
        write_nifti(Image(hu, ct.spacing_mm, ct.origin_mm, ct.direction), work / "ct.nii.gz")
        write_nifti(LabelMap.like(ct, landmarks, LABELS), work / "landmarks.nii.gz")
        write_nifti(tissue, work / "tissue.nii.gz")
        (work / "atlas.json").write_text(json.dumps(
            {"registration": record, "check_dice": check_dice,
             "check": "AAL caudate / putamen carried by the same transform vs the CQ500 template's own labels",
             "landmark_voxels": {name: int((landmarks == v).sum()) for v, name in LABELS.items()},
             "licence": LICENCE}, indent=2))
    return Atlas(read_nifti(work / "ct.nii.gz"), _whole_labels(work / "landmarks.nii.gz", LABELS),
                 _whole_labels(work / "tissue.nii.gz", {1: "csf", 2: "grey", 3: "white"}),
                 json.loads((work / "atlas.json").read_text()))


def _by_side(labels: LabelMap, values: tuple[int, int]) -> tuple[int, int]:
    """The two label values ordered (patient's right, left) by the LPS x of their centres.

    By position, not by name: in the JHU copy here, label 19 ("..._R") lies in the left hemisphere
    (LPS x = +21.5 mm) while AAL's Caudate_L lies at +12.5 mm, i.e. left is +x as it should be.
    """
    x = [labels.index_to_point(np.argwhere(np.asarray(labels.array) == value).mean(axis=0))[0] for value in values]
    return (values[0], values[1]) if x[0] < x[1] else (values[1], values[0])


def _head_mask(values: np.ndarray) -> np.ndarray:
    """The head: non-zero template voxels with enclosed holes filled (the template stores air as 0)."""
    from scipy.ndimage import binary_fill_holes

    return binary_fill_holes(values != 0)


def _deformation(rng: np.random.Generator, reference: Any, centre: np.ndarray) -> Any:
    """A random affine (±8° about each axis, ±7 % scale, ±6 mm) composed with a smooth B-spline field
    (4 × 4 × 4 mesh, control points moved by N(0, 2 mm))."""
    import SimpleITK as sitk

    angles = np.deg2rad(rng.uniform(-8.0, 8.0, 3))
    rotation = sitk.Euler3DTransform(centre.tolist(), *angles.tolist())
    matrix = np.asarray(rotation.GetMatrix()).reshape(3, 3) @ np.diag(rng.uniform(0.93, 1.07, 3))
    affine = sitk.AffineTransform(matrix.ravel().tolist(), rng.uniform(-6.0, 6.0, 3).tolist(), centre.tolist())
    bspline = sitk.BSplineTransformInitializer(reference, [4, 4, 4])
    bspline.SetParameters(rng.normal(0.0, 2.0, len(bspline.GetParameters())).tolist())
    return sitk.CompositeTransform([affine, bspline])


def cohort_case(atlas: Atlas, seed: int, noise_hu: float = 4.0) -> PhantomCase:
    """One semi-synthetic case (a :class:`~radiomark.phantoms.case.PhantomCase`); see the module docstring."""
    import SimpleITK as sitk

    from radiomark.biomarkers.gwr import measure_gwr
    from radiomark.io.sitk import image_to_sitk
    from radiomark.recipes import load_recipe, measure_parameters
    from radiomark.transforms.volume import network_grid

    rng = np.random.default_rng(seed)
    poor = bool(rng.random() < 0.5)
    grey_shift = float(rng.uniform(-5.0, -1.5) if poor else rng.uniform(0.0, 2.0))
    white_shift = float(rng.uniform(0.0, 1.5) if poor else 0.0)
    tissue, landmarks = np.asarray(atlas.tissue.array), np.asarray(atlas.labels.array)
    grey = (tissue == GREY) | np.isin(landmarks, (1, 2, 3, 4))
    white = ((tissue == WHITE) | np.isin(landmarks, (5, 6, 7))) & ~grey
    hu = np.asarray(atlas.ct.array, dtype=np.float32) + grey_shift * grey + white_shift * white
    head = np.argwhere(hu > -500)
    low, high = np.maximum(head.min(axis=0) - 4, 0), np.minimum(head.max(axis=0) + 5, np.asarray(hu.shape))
    crop = tuple(slice(a, b) for a, b in zip(low, high, strict=True))
    # The case is stored the way axial CT is: rows towards posterior, columns towards the patient's
    # left, slices upwards (the LPS-aligned grid over the head), whatever the template's own order.
    head_box = Image(np.zeros(hu[crop].shape, np.float32), atlas.ct.spacing_mm,
                     tuple(atlas.ct.index_to_point(low)), atlas.ct.direction)
    reference = network_grid(head_box, atlas.ct.require_spacing())
    centre = atlas.ct.index_to_point((low + high) / 2)
    transform = _deformation(rng, reference, centre)
    source = image_to_sitk(Image(hu, atlas.ct.spacing_mm, atlas.ct.origin_mm, atlas.ct.direction))
    values = sitk.GetArrayFromImage(sitk.Resample(source, reference, transform, sitk.sitkLinear, -1000.0,
                                                  sitk.sitkFloat32))
    values = values + rng.normal(0.0, noise_hu, values.shape) * (values > -500)
    labels_out = sitk.GetArrayFromImage(sitk.Resample(image_to_sitk(atlas.labels), reference, transform,
                                                      sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8))
    image = Image(np.round(values).astype(np.int16), tuple(reversed(reference.GetSpacing())),
                  tuple(reference.GetOrigin()), metadata={"modality": "CT"})
    labels = LabelMap.like(image, labels_out, LABELS)
    measured = measure_gwr(image, labels, measure_parameters(load_recipe("brain-gwr")))  # type: ignore[arg-type]
    truth: dict[str, Any] = {name: measurement.value for name, measurement in measured.items()}
    truth |= {"outcome": "poor" if poor else "good", "design_grey_shift_hu": grey_shift,
              "design_white_shift_hu": white_shift,
              "note": "GWR measures computed by radiomark's gwr biomarkers on the true labels"}
    return head_ct_case(f"ctgwr-{seed:04d}", seed, rng, image, labels, truth, {"outcome": truth["outcome"]},
                        "Head semi-synthetic (CQ500 template)",
                        "semi-synthetic: CQ500 CT template deformed, edema-like HU shifts")


def template_generator(template: str | os.PathLike[str], atlas_dir: str | os.PathLike[str]
                       ) -> Callable[[int], PhantomCase]:
    """Semi-synthetic cases (by seed) from the real CQ500 head CT template folder ``template``; the
    atlas is built once under ``atlas_dir`` (``radiomark phantom brain-gwr --template``)."""
    return functools.partial(cohort_case, build_atlas(template, atlas_dir))


def write_cohort(source: str | os.PathLike[str], out: str | os.PathLike[str], seeds: range, fmt: str = "nifti",
                 work: str | os.PathLike[str] | None = None) -> list[Path]:
    """Cases ``seeds`` under ``out`` (existing complete cases kept); the atlas is built under
    ``work`` (default ``out/atlas``)."""
    from radiomark.phantoms.case import write_case

    out = Path(out)
    atlas = build_atlas(source, work or out / "atlas")
    written = []
    for seed in seeds:
        folder = out / f"ctgwr-{seed:04d}"
        written.append(folder if (folder / "truth.json").is_file() else write_case(cohort_case(atlas, seed), out, fmt))
    return written
