"""Label maps made elsewhere, in: NIfTI label maps, Slice-O-Matic ``.tag`` files (the de-facto
format of hand-measured L3 body-composition studies) and DICOM SEG, with a mapping from the
file's values to the recipe's structures (``--labels 1=skeletal_muscle,5=visceral_fat``).

Slice-O-Matic TAG (TomoVision's documented format): an ASCII header of ``name:value`` fields
separated by white space (``x``, ``y``, ``z`` = columns, rows, slices; ``inc_x``/``inc_y`` pixel
size, ``epais`` thickness, ``org_*``/``dir_*`` placement, ``type:BYTE``, comments starting with
``*``) ended by a form feed (0x0C), then one unsigned byte per pixel, row by row from the top
row of the image (the DICOM pixel order), slice after slice. The Alberta protocol used by most
L3 studies tags muscle 1, intermuscular fat 2, visceral fat 5 and subcutaneous fat 7.

A TAG file carries no patient placement we rely on: it lies on the grid of the image it was drawn
on, which must have the same rows × columns.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from radiomark.errors import InputError, did_you_mean
from radiomark.image import Image, LabelMap
from radiomark.io.nifti import is_nifti_path, read_nifti

_FORM_FEED = b"\x0c"
#: Header fields of a TAG file that hold integers / numbers; others are kept as text.
_TAG_INTEGERS = ("x", "y", "z")


def parse_label_mapping(text: str | None, recipe_labels: Mapping[int, str],
                        where: str | os.PathLike[str] | None = None) -> dict[int, int]:
    """``"1=skeletal_muscle,5=visceral_fat"`` → {file value: recipe value}; names must be the
    recipe's. None gives the identity on the recipe's values."""
    if text is None:
        return {value: value for value in recipe_labels}
    by_name = {name: value for value, name in recipe_labels.items()}
    mapping = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        value, _, name = part.partition("=")
        if not value.strip().isdigit() or name.strip() not in by_name:
            raise InputError(where, f"--labels {part!r}: write VALUE=NAME with NAME one of {', '.join(by_name)}"
                                    f"{did_you_mean(name.strip(), by_name) if name.strip() else ''}")
        mapping[int(value)] = by_name[name.strip()]
    return mapping


def read_tag(path: str | os.PathLike[str]) -> tuple[dict[str, str], np.ndarray]:
    """The header fields and the label array (``[rows, columns]``, or ``[slices, rows, columns]``
    when ``z`` > 1) of a Slice-O-Matic TAG file."""
    raw = Path(path).read_bytes()
    end = raw.find(_FORM_FEED)
    if end < 0:
        raise InputError(path, "not a Slice-O-Matic TAG file (no end-of-header form feed)")
    fields: dict[str, str] = {}
    for token in raw[:end].decode("latin-1").split():
        name, colon, value = token.partition(":")
        if colon and not name.startswith("*"):
            fields[name] = value
    try:
        columns, rows, slices = (int(fields.get(key, "1")) for key in _TAG_INTEGERS)
    except ValueError:
        raise InputError(path, f"TAG header has a non-integer size: {fields}") from None
    if columns < 1 or rows < 1 or slices < 1:
        raise InputError(path, f"TAG header has no image size (x, y): {fields}")
    data = raw[end + 1:]
    needed = columns * rows * slices
    if len(data) < needed:
        raise InputError(path, f"TAG file holds {len(data)} pixel bytes; its header ({columns} × {rows} × {slices}) "
                               f"needs {needed}")
    array = np.frombuffer(data[len(data) - needed:], dtype=np.uint8).reshape(slices, rows, columns)
    return fields, array[0] if slices == 1 else array


def write_tag(array: np.ndarray, path: str | os.PathLike[str], spacing_mm: tuple[float, float] = (1.0, 1.0)) -> Path:
    """A Slice-O-Matic TAG file of a 2D label array (values 0-255), as Slice-O-Matic writes them."""
    values = np.asarray(array)
    if values.ndim != 2 or values.min() < 0 or values.max() > 255:
        raise InputError(path, "a TAG file holds one 2D slice of values 0-255")
    rows, columns = values.shape
    header = (f"x:{columns} y:{rows} z:1 org_x:0 org_y:0 org_z:0 inc_x:{spacing_mm[1]} inc_y:{spacing_mm[0]} "
              "epais:1 type:BYTE *written_by:radiomark\n")
    Path(path).write_bytes(header.encode("ascii") + _FORM_FEED + values.astype(np.uint8).tobytes())
    return Path(path)


def _seg_array(path: Path, image: Image) -> tuple[np.ndarray, dict[int, str]]:
    """Segment numbers on ``image``'s slices from a DICOM SEG, and each segment's label."""
    import highdicom as hd
    import pydicom

    seg = hd.seg.segread(str(path))
    names = {n: seg.get_segment_description(n).segment_label.replace(" ", "_") for n in seg.segment_numbers}
    files = list(image.metadata.get("files") or [])
    if not files:
        raise InputError(path, "a DICOM SEG mask needs its DICOM image (the image was not read from DICOM)")
    uids = [str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files]
    planes = seg.get_pixels_by_source_instance(source_sop_instance_uids=uids, combine_segments=True,
                                               relabel=False, ignore_spatial_locations=True)
    array = np.asarray(planes)
    return (array[0] if image.ndim == 2 else array), names


def read_labels(path: str | os.PathLike[str], image: Image, recipe_labels: Mapping[int, str],
                mapping: str | None = None) -> LabelMap:
    """The label map in ``path`` (NIfTI, ``.tag``, or DICOM SEG) on ``image``'s grid with the
    recipe's values. ``mapping`` (``VALUE=NAME,...``) says which file value is which structure;
    values it does not name become background. Without it, NIfTI and TAG values must already be
    the recipe's, and SEG segments are matched by their labels."""
    path = Path(path)
    if is_nifti_path(path):
        labels = read_nifti(path, labels=dict(recipe_labels))
        source, names = np.asarray(labels.array), None
        if not labels.geometry_equal(image, atol=1e-3):
            raise InputError(path, f"the mask grid {labels.shape} does not match the image grid {image.shape}")
    elif path.suffix.lower() == ".tag":
        source, names = read_tag(path)[1], None
    elif path.suffix.lower() in (".dcm", ".seg"):
        source, names = _seg_array(path, image)
    else:
        raise InputError(path, "unknown mask format: give a NIfTI label map, a Slice-O-Matic .tag file or a DICOM SEG")
    if source.shape != image.shape:
        raise InputError(path, f"the mask holds {source.shape} pixels; the image {image.shape}")
    if names is not None and mapping is None:
        by_name = {name: value for value, name in recipe_labels.items()}
        unknown = sorted(set(names.values()) - set(by_name))
        if unknown:
            raise InputError(path, f"segments {unknown} are not structures of the recipe; map them with --labels")
        table = {number: by_name[name] for number, name in names.items()}
    else:
        table = parse_label_mapping(mapping, recipe_labels, path)
        present = set(np.unique(source).tolist()) - {0}
        if mapping is None and present - set(table):
            raise InputError(path, f"label values {sorted(present - set(table))} are not the recipe's "
                                   f"({dict(recipe_labels)}); say which is which with --labels VALUE=NAME,...")
    lookup = np.zeros(max(int(source.max()), *table) + 1, dtype=np.uint8)
    for value, recipe_value in table.items():
        lookup[value] = recipe_value
    return LabelMap.like(image, lookup[source.astype(np.int64)], dict(recipe_labels))
