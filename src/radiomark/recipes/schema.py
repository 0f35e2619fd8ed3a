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
    """What happens to an image before the network sees it: exactly one intensity mapping to [0, 1]
    — a fixed ``window`` (CT, HU) or per-image ``percentiles`` (X-ray: the (low, high) percentiles
    of the image's own values map to 0 and 1, clipped) — then placement on the network grid."""

    window: Window | None = None
    percentiles: tuple[float, float] | None = None
    spatial_size: tuple[int, int] = Field(description="network input size (rows, columns) in pixels")

    @model_validator(mode="after")
    def _one_intensity_mapping(self) -> Preprocessing:
        if (self.window is None) == (self.percentiles is None):
            raise ValueError("preprocessing needs exactly one of window (HU) or percentiles")
        if self.percentiles is not None and not 0 <= self.percentiles[0] < self.percentiles[1] <= 100:
            raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {self.percentiles}")
        return self


class RandomWindow(_Strict):
    """Random window augmentation: level and width (HU) drawn uniformly for every sample."""

    level: tuple[float, float]
    width: tuple[float, float]
    probability: float = Field(1.0, ge=0, le=1)


class Augmentation(_Strict):
    """Training augmentation (MONAI transforms plus the random window). Flips: left–right with
    ``flip_probability``, up–down with half of it; set 0 where sides matter (left/right labels)."""

    random_window: RandomWindow | None = None
    flip_probability: float = Field(0.5, ge=0, le=1)
    rotate_degrees: float = Field(10.0, ge=0)
    scale: float = Field(0.1, ge=0, lt=1)
    noise_std: float = Field(0.02, ge=0, description="Gaussian noise on the [0, 1] windowed image")
    gamma: tuple[float, float] | None = Field(None, description="random gamma (contrast) range on [0, 1] values")


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


class RotationRule(_Strict):
    """Test-time rotation: when the predicted foreground covers less than ``area_fraction`` of the
    mean foreground of the training images (stored with the model), the image is also predicted
    rotated 90° clockwise and counter-clockwise and the three probability maps are averaged."""

    area_fraction: float = Field(0.3, gt=0, lt=1)


class Postprocessing(_Strict):
    """Clean-up of predictions, each step switchable. On the network grid: the rotation rule, then
    a median filter of the probabilities (``median_filter_radius`` pixels; a median commutes with
    the 0.5 threshold, so this equals filtering the predicted mask). On the image grid: HU gating
    per structure, the largest connected component per structure, hole filling, then small-component
    removal."""

    rotation_rule: RotationRule | None = None
    median_filter_radius: int = Field(0, ge=0)
    hu_gating: dict[str, tuple[float, float]] = Field(default_factory=dict)
    largest_component: bool = False
    fill_holes: bool = False
    min_component_area_mm2: float = Field(0.0, ge=0)


class Quality(_Strict):
    """Quality-control limits; a result outside them is flagged, not refused."""

    expected_orientation: Literal["axial"] | None = "axial"
    max_slice_thickness_mm: float = 5.0
    max_removed_fraction: float = Field(0.15, ge=0, le=1, description="of a structure's predicted pixels")
    plausible_ranges: dict[str, tuple[float, float]] = Field(default_factory=dict,
                                                             description="measurement name -> (low, high)")
    side_by_side: tuple[str, str] | None = Field(
        None, description="two structures expected left and right of each other in the image (first at smaller "
                          "column indices) with overlapping row ranges, e.g. the lungs of a frontal radiograph")


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


class Classifier(_Strict):
    """An image-level classifier (MONAI EfficientNetBN, one logit) applied after segmentation.

    ``input`` says what it sees: the ``whole`` image, the bounding box of the segmented
    structures plus ``crop_margin`` (fraction of the box size) (``crop``), or that crop with
    everything outside the structures set to 0 (``masked``). Intensities as in preprocessing."""

    backbone: Literal["efficientnet-b0", "efficientnet-b1", "efficientnet-b2", "efficientnet-b3",
                      "efficientnet-b4", "efficientnet-b5"] = "efficientnet-b0"
    classes: tuple[str, str] = Field(description="(negative, positive) class names")
    input: Literal["whole", "crop", "masked"] = "crop"
    crop_margin: float = Field(0.1, ge=0, le=1)
    spatial_size: tuple[int, int] = (512, 512)
    flip_probability: float = Field(0.5, ge=0, le=1, description="vertical and horizontal flips, each")
    threshold: float = Field(0.5, gt=0, lt=1, description="positive when the probability is at least this")
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(16, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    validation_fraction: float = Field(0.2, gt=0, lt=1)
    seed: int = 0


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
    biomarkers: Literal["body_composition", "lung_area"]
    agreement_measure: str | None = Field(None, description="measurement compared between predicted and "
                                                            "reference labels by evaluate")
    classifier: Classifier | None = None
    quality: Quality = Field(default_factory=Quality)
    cutoff_tables: dict[str, CutoffTable] = Field(default_factory=dict)
    default_cutoff_table: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Recipe:
        if sorted(self.labels) != list(range(1, len(self.labels) + 1)):
            raise ValueError(f"labels must be numbered 1..N, got {sorted(self.labels)}")
        if len(self.loss.bce_pos_weight) != len(self.labels):
            raise ValueError(f"loss.bce_pos_weight needs {len(self.labels)} values, one per label")
        unknown = (set(self.postprocessing.hu_gating) | set(self.label_codes)) - set(self.labels.values())
        if unknown:
            raise ValueError(f"postprocessing.hu_gating or label_codes name unknown labels {sorted(unknown)}")
        if self.cutoff_tables and self.default_cutoff_table not in self.cutoff_tables:
            raise ValueError(f"default_cutoff_table {self.default_cutoff_table!r} is not one of "
                             f"{sorted(self.cutoff_tables)}")
        return self
