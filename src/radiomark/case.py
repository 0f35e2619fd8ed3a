"""What one case is and what it produced: patient data, the result, a failure. Torch-free."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from radiomark.biomarkers.measurement import Measurement
from radiomark.decision import Finding
from radiomark.errors import InputError, MissingDependencyError, did_you_mean
from radiomark.image import Image, LabelMap

#: Spellings of sex accepted on the command line and in the API, to the DICOM PatientSex codes
#: (M, F, O = other: sex-specific cut-offs then leave the finding not decided).
SEX_SPELLINGS = {"m": "M", "male": "M", "man": "M", "f": "F", "female": "F", "woman": "F", "o": "O", "other": "O"}


@dataclass(frozen=True)
class Clinical:
    """Patient data the measurements and decisions may need (sex M/F/O as DICOM PatientSex, height
    m, weight kg, age in years). ``sex`` may be given in any spelling of :data:`SEX_SPELLINGS`."""

    sex: str | None = None
    height_m: float | None = None
    weight_kg: float | None = None
    age_years: float | None = None

    def __post_init__(self) -> None:
        if self.sex is not None:
            code = SEX_SPELLINGS.get(self.sex.strip().lower())
            if code is None:
                raise InputError(None, f"--sex must be M, F or O (male, female, other), got {self.sex!r}"
                                       f"{did_you_mean(self.sex, SEX_SPELLINGS)}")
            object.__setattr__(self, "sex", code)
        if self.height_m is not None and not 0.3 <= self.height_m <= 2.6:
            raise InputError(None, f"--height is in metres (0.3 to 2.6), got {self.height_m}")
        if self.weight_kg is not None and not 1.0 <= self.weight_kg <= 400.0:
            raise InputError(None, f"--weight is in kilograms (1 to 400), got {self.weight_kg}")
        if self.age_years is not None and not 0.0 <= self.age_years <= 130.0:
            raise InputError(None, f"--age is in years (0 to 130), got {self.age_years}")

    @property
    def bmi(self) -> float | None:
        """Body-mass index (kg/m²), when height and weight are known."""
        if self.height_m is None or self.weight_kg is None:
            return None
        return self.weight_kg / self.height_m**2

    @classmethod
    def from_image(cls, image: Image, sex: str | None, height_m: float | None, weight_kg: float | None) -> Clinical:
        """Given values, else the DICOM PatientSex / PatientSize / PatientWeight of ``image``."""
        tagged_sex = image.metadata.get("patient_sex") or None
        return cls(sex=sex or (tagged_sex if tagged_sex in ("M", "F", "O") else None),
                   height_m=height_m or image.metadata.get("patient_height_m") or None,
                   weight_kg=weight_kg or image.metadata.get("patient_weight_kg") or None)


@dataclass(frozen=True)
class CaseResult:
    """Everything one case produced."""

    case_id: str
    source: str
    clinical: Clinical
    measurements: Mapping[str, Measurement]
    findings: list[Finding]
    table: str | None
    flags: list[str] = field(default_factory=list)
    #: The series analysed: uid, description, why, and the other series with why they were not taken.
    series: Mapping[str, Any] = field(default_factory=dict)
    #: The vertebral level of the slice when found in a volume (:meth:`LevelResult.record`).
    level: Mapping[str, Any] = field(default_factory=dict)
    #: Segmentation confidence (0 … 1, :func:`radiomark.quality.segmentation_confidence`); None for a given mask.
    confidence: float | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    identifiers: dict[str, str] = field(default_factory=dict)
    #: Reads the label map written for the case back (set by the writer of the case's outputs).
    labels_reader: Callable[[], LabelMap] | None = field(default=None, repr=False, compare=False)

    @property
    def finding(self) -> Finding | None:
        """The case's first finding (the recipe's main decision), None for a recipe without one."""
        return self.findings[0] if self.findings else None

    @property
    def labels(self) -> LabelMap:
        """The label map written for the case (``labels.nii.gz``; ``labels.png`` for a radiograph
        without pixel size), read back from its file (a cohort keeps no label map in memory)."""
        if self.labels_reader is None:
            raise InputError(None, f"case {self.case_id}: no label map was written")
        return self.labels_reader()

    def to_frame(self) -> Any:
        """:meth:`row` as a one-row pandas DataFrame (``pip install radiomark[frames]``)."""
        return frame([self.row()])

    def row(self) -> dict[str, Any]:
        """A flat CSV row: case, kept identifiers, clinical data, measurements (unit in the header),
        findings, QC flags."""
        values: dict[str, Any] = {"case": self.case_id, "source": self.source, **self.identifiers,
                                  **asdict(self.clinical)}
        values |= {f"{m.name} [{m.unit}]": round(m.value, 4) for m in self.measurements.values()}
        values |= {f"{f.name} ({f.table})": f.verdict
                   for f in self.findings}
        values["segmentation_confidence"] = None if self.confidence is None else round(self.confidence, 4)
        values["qc_flags"] = "; ".join(self.flags)
        return values


@dataclass(frozen=True)
class Failure:
    """A study that could not be processed."""

    study: str
    error: str
    message: str


def frame(rows: list[dict[str, Any]]) -> Any:
    """``rows`` as a pandas DataFrame; pandas is an optional dependency (``radiomark[frames]``)."""
    try:
        import pandas
    except ImportError as error:
        raise MissingDependencyError("tables as DataFrames need pandas: pip install 'radiomark[frames]'") from error
    return pandas.DataFrame(rows)
