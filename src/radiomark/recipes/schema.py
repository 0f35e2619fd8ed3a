"""The schema a recipe file must satisfy (pydantic). A recipe is data: no Python inside.

Units are in the field names or docstrings: HU for CT intensities, mm / mm² for sizes, cm²/m² etc.
for cut-offs (the unit of the measurement the rule names).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    """Intensity window in HU mapped to [0, 1]."""

    level: float
    width: float = Field(gt=0)


class Preprocessing(_Strict):
    """What happens to an image before the network sees it."""

    window: Window
    spatial_size: tuple[int, int] = Field(description="network input size (rows, columns) in pixels")


class RandomWindow(_Strict):
    """Random window augmentation: level and width (HU) drawn uniformly for every sample."""

    level: tuple[float, float]
    width: tuple[float, float]
    probability: float = Field(1.0, ge=0, le=1)


class Augmentation(_Strict):
    """Training augmentation (MONAI transforms plus the random window)."""

    random_window: RandomWindow | None = None
    flip_probability: float = Field(0.5, ge=0, le=1)
    rotate_degrees: float = Field(10.0, ge=0)
    scale: float = Field(0.1, ge=0, lt=1)
    noise_std: float = Field(0.02, ge=0, description="Gaussian noise on the [0, 1] windowed image")


class Network(_Strict):
    """A MONAI network: ``unet`` (UNet) or ``flexible_unet`` (FlexibleUNet, EfficientNet encoder)."""

    name: Literal["unet", "flexible_unet"] = "unet"
    channels: tuple[int, ...] = (16, 32, 64, 128)
    strides: tuple[int, ...] = (2, 2, 2)
    num_res_units: int = 1
    backbone: str = "efficientnet-b0"


class Loss(_Strict):
    """Weighted BCE + Dice on one sigmoid channel per structure."""

    name: Literal["dice_bce"] = "dice_bce"
    bce_pos_weight: tuple[float, ...]
    lambda_dice: float = 1.0
    lambda_bce: float = 1.0


class Training(_Strict):
    """Optimiser and schedule (AdamW, cosine annealing) and the patient-level split."""

    epochs: int = Field(30, ge=1)
    batch_size: int = Field(8, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-5, ge=0)
    validation_fraction: float = Field(0.2, gt=0, lt=1)
    seed: int = 0


class Postprocessing(_Strict):
    """Clean-up of predicted labels: HU gating per structure, then small-component removal."""

    hu_gating: dict[str, tuple[float, float]] = Field(default_factory=dict)
    min_component_area_mm2: float = Field(0.0, ge=0)


class Quality(_Strict):
    """Quality-control limits; a result outside them is flagged, not refused."""

    max_slice_thickness_mm: float = 5.0
    max_removed_fraction: float = Field(0.15, ge=0, le=1, description="of a structure's predicted pixels")
    plausible_ranges: dict[str, tuple[float, float]] = Field(default_factory=dict,
                                                             description="measurement name -> (low, high)")


class CutoffRule(_Strict):
    """``finding`` is present when ``measure`` < ``below`` for the matching sex and BMI band."""

    finding: str
    measure: str
    below: float
    sex: Literal["M", "F"] | None = None
    bmi_below: float | None = None
    bmi_at_least: float | None = None


class CutoffTable(_Strict):
    """A published cut-off table with its citation and how its values were checked."""

    title: str
    citation: str
    verified: str
    rules: tuple[CutoffRule, ...]


class Recipe(_Strict):
    """One clinical task: labels, preprocessing, model, loss, post-processing, decision tables."""

    name: str
    title: str
    modality: str
    series_selector: str
    labels: dict[int, str]
    label_codes: dict[str, tuple[tuple[str, str, str], tuple[str, str, str]]] = Field(
        default_factory=dict, description="per label: (category, type) coded as (scheme, value, meaning)")
    preprocessing: Preprocessing
    augmentation: Augmentation
    network: Network
    loss: Loss
    training: Training
    postprocessing: Postprocessing
    biomarkers: Literal["body_composition"]
    quality: Quality = Field(default_factory=Quality)
    cutoff_tables: dict[str, CutoffTable]
    default_cutoff_table: str

    @model_validator(mode="after")
    def _consistent(self) -> Recipe:
        if sorted(self.labels) != list(range(1, len(self.labels) + 1)):
            raise ValueError(f"labels must be numbered 1..N, got {sorted(self.labels)}")
        if len(self.loss.bce_pos_weight) != len(self.labels):
            raise ValueError(f"loss.bce_pos_weight needs {len(self.labels)} values, one per label")
        unknown = (set(self.postprocessing.hu_gating) | set(self.label_codes)) - set(self.labels.values())
        if unknown:
            raise ValueError(f"postprocessing.hu_gating or label_codes name unknown labels {sorted(unknown)}")
        if self.default_cutoff_table not in self.cutoff_tables:
            raise ValueError(f"default_cutoff_table {self.default_cutoff_table!r} is not one of "
                             f"{sorted(self.cutoff_tables)}")
        return self
