"""The schema a recipe file must satisfy (pydantic). A recipe is data: no Python inside.

Units are in the field names or docstrings: HU for CT intensities, mm / mm² for sizes, cm²/m² etc.
for cut-offs (the unit of the measurement the rule names).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from radiomark.errors import RecipeError, did_you_mean
from radiomark.recipes.series_schema import SeriesRules


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    """Intensity window in HU mapped to [0, 1]."""

    level: float
    width: float = Field(gt=0)


class Preprocessing(_Strict):
    """What happens to an image before the network sees it: exactly one intensity mapping to [0, 1]
    — a fixed ``window`` (CT, HU) or per-image ``percentiles`` (X-ray, MRI: the (low, high)
    percentiles of each channel's own values map to 0 and 1, clipped) — then placement on the
    network grid.

    2D recipes (``spatial_dims: 2``) scale each slice onto ``spatial_size``. 3D recipes resample
    each volume onto a grid aligned with the LPS axes (array axes slice/row/column = +z/+y/+x) at
    ``target_spacing_mm`` (slice, row, column) and train on patches of ``patch_size`` voxels; both
    may be left out, and training then plans them from the data (median spacing, a patch that
    fits the memory budget), as nnU-Net does, and stores the planned values in the run's recipe.
    """

    window: Window | None = None
    percentiles: tuple[float, float] | None = None
    spatial_dims: Literal[2, 3] = 2
    spatial_size: tuple[int, int] | None = Field(None, description="2D: network input size (rows, columns) in pixels")
    target_spacing_mm: tuple[float, float, float] | None = Field(None, description="3D: (slice, row, column) mm")
    patch_size: tuple[int, int, int] | None = Field(None, description="3D: training / sliding-window patch, voxels")
    sliding_window_overlap: float = Field(0.5, ge=0, lt=1, description="3D inference: overlap of patches")
    display_window: Window | None = Field(None, description="CT overlays: the window shown (default 40/400 HU)")

    def network_size(self) -> tuple[int, int]:
        """2D: the network input size (rows, columns)."""
        if self.spatial_size is None:
            raise ValueError("a 2D recipe needs preprocessing.spatial_size")
        return self.spatial_size

    def patch(self) -> tuple[int, int, int]:
        """3D: the training / sliding-window patch (slice, row, column voxels), planned or given."""
        if self.patch_size is None:
            raise ValueError("this 3D recipe has no planned patch_size; train it (planning sets it) or give one")
        return self.patch_size

    @model_validator(mode="after")
    def _one_intensity_mapping(self) -> Preprocessing:
        if (self.window is None) == (self.percentiles is None):
            raise ValueError("preprocessing needs exactly one of window (HU) or percentiles")
        if self.percentiles is not None and not 0 <= self.percentiles[0] < self.percentiles[1] <= 100:
            raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {self.percentiles}")
        if self.spatial_dims == 2 and (self.spatial_size is None or self.target_spacing_mm or self.patch_size):
            raise ValueError("a 2D recipe needs spatial_size and takes no target_spacing_mm or patch_size")
        if self.spatial_dims == 3 and self.spatial_size is not None:
            raise ValueError("a 3D recipe takes target_spacing_mm and patch_size, not spatial_size")
        return self


class Inputs(_Strict):
    """The images of a study the network sees, as channels.

    ``echoes`` are ranks by echo time among the series the recipe's ``series`` rules pick (1 =
    shortest TE): ``[1, 2, 3]`` feeds the first three echo magnitudes of a multi-echo GRE as three
    channels; ``[1]`` is a single image. ``qsm_selector`` (series rules) or a NIfTI file whose name
    contains ``qsm`` supplies an optional susceptibility map in ppm for the recipe's measures.
    """

    echoes: tuple[int, ...] = (1,)
    qsm_selector: str | None = None

    @model_validator(mode="after")
    def _ranks(self) -> Inputs:
        if not self.echoes or min(self.echoes) < 1 or len(set(self.echoes)) != len(self.echoes):
            raise ValueError(f"inputs.echoes must be distinct ranks 1, 2, ..., got {self.echoes}")
        return self


class RandomWindow(_Strict):
    """Random window augmentation: level and width (HU) drawn uniformly for every sample."""

    level: tuple[float, float]
    width: tuple[float, float]
    probability: float = Field(1.0, ge=0, le=1)


#: Corruptions of real-world chest films (:mod:`radiomark.transforms.radiograph_corruptions`).
CorruptionKind = Literal["opacity", "lines", "portable", "low_contrast"]


class Augmentation(_Strict):
    """Training augmentation (MONAI transforms plus the random window). 2D flips: left–right with
    ``flip_probability``, up–down with half of it; set 0 where sides matter (left/right labels).
    3D flips: left–right only, and structures named ``*_right`` / ``*_left`` swap labels with it;
    rotation is about each axis by up to ``rotate_degrees``."""

    random_window: RandomWindow | None = None
    flip_probability: float = Field(0.5, ge=0, le=1)
    rotate_degrees: float = Field(10.0, ge=0)
    scale: float = Field(0.1, ge=0, lt=1)
    noise_std: float = Field(0.02, ge=0, description="Gaussian noise on the [0, 1] windowed image")
    gamma: tuple[float, float] | None = Field(None, description="random gamma (contrast) range on [0, 1] values")
    radiograph: dict[CorruptionKind, float] = Field(
        default_factory=dict, description="2D radiographs: probability of each real-world film corruption (lung "
                                          "opacities, tubes and lines, portable geometry, low contrast)")


class Network(_Strict):
    """A MONAI network: ``unet`` (UNet), ``flexible_unet`` (FlexibleUNet, EfficientNet encoder),
    ``vnet`` (VNet: fixed depth 4, 5×5×5 kernels; patches divisible by 16) or ``dynunet``
    (DynUNet, the nnU-Net architecture: 3×3(×3) kernels, instance norm; ``channels`` are the
    filters per level and ``strides`` the down-sampling per level, an int or one per axis — for a
    3D recipe both are planned from the patch size when ``strides`` is left out)."""

    name: Literal["unet", "flexible_unet", "vnet", "dynunet"] = "unet"
    channels: tuple[int, ...] = (16, 32, 64, 128)
    strides: tuple[int | tuple[int, ...], ...] | None = (2, 2, 2)
    num_res_units: int = 1
    backbone: str = "efficientnet-b0"
    dropout: float = Field(0.0, ge=0, lt=1, description="vnet: dropout of its deeper transitions")


class Loss(_Strict):
    """Weighted BCE + Dice on one sigmoid channel per structure (``lambda_bce: 0`` is Dice alone)."""

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
    validation_interval: int = Field(1, ge=1, description="validate every this many epochs (and after the last); "
                                                          "whole-volume 3D validation is slow on a CPU")
    patches_per_volume: int = Field(2, ge=1, description="3D: random patches drawn from each volume per epoch")
    foreground_patch_fraction: float = Field(0.5, ge=0, le=1, description="3D: share of patches centred on "
                                                                          "a labelled voxel")
    memory_budget_voxels: int = Field(64 ** 3, ge=16 ** 3, description="3D planning: largest patch (voxels)")


class RotationRule(_Strict):
    """Test-time rotation: when the predicted foreground covers less than ``area_fraction`` of the
    mean foreground of the training images (stored with the model), the image is also predicted
    rotated 90° clockwise and counter-clockwise and the three probability maps are averaged."""

    area_fraction: float = Field(0.3, gt=0, lt=1)


class Postprocessing(_Strict):
    """Clean-up of predictions, each step switchable. On the network grid: test-time zoom
    (``test_time_scales``), the rotation rule, then a median filter of the probabilities
    (``median_filter_radius`` pixels; a median commutes with
    the 0.5 threshold, so this equals filtering the predicted mask). On the image grid: HU gating
    per structure, sides of bilateral structures from their position (``midline_sides``), the
    largest connected component per structure, hole filling, then small-component removal."""

    rotation_rule: RotationRule | None = None
    test_time_scales: tuple[Annotated[float, Field(gt=0.5, lt=2.0)], ...] = Field(
        (), description="2D test-time augmentation: the network input is also predicted zoomed about its centre by "
                        "each factor, and the probabilities, zoomed back, averaged (no flips: labels may be "
                        "left/right)")
    median_filter_radius: int = Field(0, ge=0)
    hu_gating: dict[str, tuple[float, float]] = Field(default_factory=dict)
    midline_sides: tuple[tuple[str, str], ...] = Field(
        (), description="(right, left) structure pairs: keep their largest cluster, sides by position "
                        "(see radiomark.postprocess.sides_from_midline)")
    midline_cluster_mm: float = Field(5.0, gt=0)
    largest_component: bool = False
    fill_holes: bool = False
    min_component_area_mm2: float = Field(0.0, ge=0)


class TissueShare(_Strict):
    """At least ``at_least`` of the body's pixels lie within ``hu`` (low, high)."""

    hu: tuple[float, float]
    at_least: float = Field(ge=0, le=1)


class Anatomy(_Strict):
    """What a CT image must show for the recipe's result to be decided, checked on the image alone
    (the body: the largest connected region above -500 HU after a 5 mm opening, so the table drops out)."""

    refused_body_parts: tuple[str, ...] = Field(
        (), description="DICOM BodyPartExamined values (upper case) of parts the recipe does not measure")
    body_width_mm: tuple[float, float] | None = Field(None, description="left-right extent of the body (low, high)")
    tissues: dict[str, TissueShare] = Field(default_factory=dict, description="tissue name -> HU range and share")


class Island(_Strict):
    """At most ``at_most`` of a structure's area may lie in pieces whose outline runs at least
    90 % through structure ``within`` (e.g. "muscle" floating in visceral fat: bowel or kidney)."""

    within: str
    at_most: float = Field(ge=0, le=1)


class Quality(_Strict):
    """Quality-control limits. A result outside most of them is flagged; outside ``anatomy``,
    ``islands``, ``plausible_ranges``, ``min_confidence`` or with an expected structure empty, its
    decision is withheld ("not decided", with the reason)."""

    expected_orientation: Literal["axial"] | None = "axial"
    max_slice_thickness_mm: float = 5.0
    max_removed_fraction: float = Field(0.15, ge=0, le=1, description="of a structure's predicted pixels")
    plausible_ranges: dict[str, tuple[float, float]] = Field(default_factory=dict,
                                                             description="measurement name -> (low, high)")
    anatomy: Anatomy | None = None
    min_solidity: dict[str, float] = Field(
        default_factory=dict, description="structure -> lowest area / convex-hull area of its largest piece before a "
                                          "flag (an outline with bites: a mask that stops where an opacity starts)")
    islands: dict[str, Island] = Field(default_factory=dict, description="structure -> where it must not float")
    min_confidence: float | None = Field(
        None, ge=0, le=1, description="lowest segmentation confidence (1 - mean binary entropy of the network's "
                                      "probabilities inside the predicted structures) that is decided")
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
    series: SeriesRules = Field(description="which series of a study the recipe reads (radiomark.io.series_rules)")
    vertebral_level: str | None = Field(
        None, description="a 2D CT recipe given a volume measures the axial slice through the centre of this "
                          "vertebral body, found by radiomark.transforms.vertebral_levels (e.g. L3)")
    inputs: Inputs = Field(default_factory=Inputs)
    labels: dict[int, str]
    label_codes: dict[str, tuple[tuple[str, str, str], tuple[str, str, str]]] = Field(
        default_factory=dict, description="per label: (category, type) coded as (scheme, value, meaning)")
    preprocessing: Preprocessing
    augmentation: Augmentation
    network: Network
    loss: Loss
    training: Training
    postprocessing: Postprocessing
    kind: Literal["segment_measure"] = "segment_measure"
    based_on: str | None = Field(None, description="the registered recipe whose code (biomarkers, phantom) an edited "
                                                   "copy uses under a name of its own; default: ``name``")
    measures: dict[str, Any] = Field(default_factory=dict, description="parameters of the recipe's biomarkers "
                                                                       "(its biomarkers.Parameters model)")
    agreement_measures: tuple[str, ...] = Field((), description="measurements compared between predicted "
                                                                "and reference labels by evaluate")
    classifier: Classifier | None = None
    quality: Quality = Field(default_factory=Quality)
    cutoff_tables: dict[str, CutoffTable] = Field(default_factory=dict)
    default_cutoff_table: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _earlier_names(cls, data: Any) -> Any:
        """Run folders of radiomark 0.1.0 name one ``agreement_measure``; before 0.2.0 the measures'
        parameters were the ``neuromelanin`` / ``gray_white`` sections beside a ``biomarkers`` name;
        before 0.3.0 a ``series_selector`` string chose the series."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "agreement_measure" in data:
            single = data.pop("agreement_measure")
            data.setdefault("agreement_measures", [] if single is None else [single])
        data.pop("biomarkers", None)
        if "series_selector" in data:  # before 0.3.0: one --select string
            data.setdefault("series", {"require": [data.pop("series_selector")]})
        series = data.get("series")
        if isinstance(series, dict) and not series.get("name"):  # reasons name the rules by the recipe
            data["series"] = {**series, "name": data.get("name", "")}
        for section in ("neuromelanin", "gray_white"):
            parameters = data.pop(section, None)
            if parameters is not None:
                data.setdefault("measures", parameters)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Recipe:
        if sorted(self.labels) != list(range(1, len(self.labels) + 1)):
            raise ValueError(f"labels must be numbered 1..N, got {sorted(self.labels)}")
        if len(self.loss.bce_pos_weight) != len(self.labels):
            raise ValueError(f"loss.bce_pos_weight needs {len(self.labels)} values, one per label")
        named = set(self.postprocessing.hu_gating) | set(self.label_codes)
        named |= {name for pair in self.postprocessing.midline_sides for name in pair}
        named |= {name for name, island in self.quality.islands.items() for name in (name, island.within)}
        named |= set(self.quality.min_solidity)
        unknown = named - set(self.labels.values())
        if unknown:
            raise ValueError("postprocessing.hu_gating, label_codes, midline_sides or quality.islands name unknown "
                             f"labels {sorted(unknown)}")
        if self.preprocessing.spatial_dims == 3 and self.network.name == "flexible_unet":
            raise ValueError("flexible_unet is 2D here; a 3D recipe uses unet, vnet or dynunet")
        if self.preprocessing.spatial_dims == 2 and self.network.name == "vnet":
            raise ValueError("vnet is a 3D network; a 2D recipe uses unet or flexible_unet")
        if self.cutoff_tables and self.default_cutoff_table not in self.cutoff_tables:
            raise ValueError(f"default_cutoff_table {self.default_cutoff_table!r} is not one of "
                             f"{sorted(self.cutoff_tables)}")
        return self

    def chosen_table(self, table: str | None) -> str | None:
        """The cut-off table a run uses: ``table``, else the default; None for a recipe without
        tables. An unknown table, or a table given to a recipe without any, is an error."""
        if not self.cutoff_tables:
            if table is not None:
                raise RecipeError(f"recipe {self.name} has no cut-off tables (--table {table} given)")
            return None
        chosen = table or self.default_cutoff_table or ""  # the validator makes the default one of the tables
        if chosen not in self.cutoff_tables:
            raise RecipeError(f"unknown cut-off table {chosen!r}; tables: {', '.join(self.cutoff_tables)}"
                              f"{did_you_mean(chosen, self.cutoff_tables)}")
        return chosen

    def trained_as(self, stored: Recipe, where: object = None) -> Recipe:
        """This recipe run with a model trained as ``stored`` (a model folder's recipe): what
        training fixed (:data:`TRAINED_FIELDS`: labels, inputs, preprocessing, network, ...) comes
        from ``stored``; post-processing, measures, QC and decision tables from this recipe.
        Labels or modality that differ are an error naming ``where``; the inputs are the model's
        (a single-contrast model of a multi-echo recipe reads one image and no QSM map)."""

        for field_name in ("labels", "modality"):
            if getattr(self, field_name) != getattr(stored, field_name):
                raise RecipeError(f"{where}: the model was trained with {field_name} {getattr(stored, field_name)}, "
                                  f"recipe {self.name} has {getattr(self, field_name)}; use a model trained for this "
                                  "recipe or retrain")
        return self.model_copy(update={name: getattr(stored, name) for name in TRAINED_FIELDS})


#: What training fixes and a model folder's recipe.yaml records: the rest of a recipe may change
#: after training without retraining.
TRAINED_FIELDS = ("labels", "inputs", "modality", "preprocessing", "augmentation", "network", "loss", "training")
