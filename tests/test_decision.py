import pytest

from radiomark.biomarkers import Measurement, Unit
from radiomark.decision import decide
from radiomark.recipes import load_recipe

TABLES = load_recipe("sarcopenia").cutoff_tables


def _measures(smi=None, hu=None, per_bmi=None):
    values = {"skeletal_muscle_index": (smi, Unit.CM2_PER_M2),
              "skeletal_muscle_mean_attenuation": (hu, Unit.HOUNSFIELD),
              "skeletal_muscle_area_per_bmi": (per_bmi, Unit.CM2_M2_PER_KG)}
    return {name: Measurement(name, value, unit, "test") for name, (value, unit) in values.items() if value is not None}


def _present(findings, name):
    return next(f for f in findings if f.name == name).present


@pytest.mark.parametrize(("sex", "smi", "expected"), [("M", 52.3, True), ("M", 52.4, False), ("F", 38.4, True),
                                                      ("F", 45.0, False)])
def test_prado_is_sex_specific(sex, smi, expected):
    assert _present(decide("prado2008", TABLES["prado2008"], _measures(smi=smi), sex, 24.0), "sarcopenia") is expected


def test_martin_depends_on_bmi_band():
    table = TABLES["martin2013"]
    assert _present(decide("martin2013", table, _measures(smi=48, hu=40), "M", 24.9), "sarcopenia") is False
    assert _present(decide("martin2013", table, _measures(smi=48, hu=40), "M", 25.0), "sarcopenia") is True
    assert _present(decide("martin2013", table, _measures(smi=48, hu=40), "M", 24.9), "myosteatosis") is True
    assert _present(decide("martin2013", table, _measures(smi=48, hu=40), "M", 26.0), "myosteatosis") is False


def test_kim_sma_per_bmi():
    findings = decide("kim2020", TABLES["kim2020"], _measures(smi=45, per_bmi=4.9), "M", 24)
    assert _present(findings, "low_sma_per_bmi") is True and _present(findings, "sarcopenia") is False


def test_missing_sex_or_height_gives_no_decision_and_says_why():
    (finding,) = decide("prado2008", TABLES["prado2008"], _measures(smi=30), None, None)
    assert finding.present is None and finding.reason == "not decided: sex not given"
    (finding,) = decide("prado2008", TABLES["prado2008"], {}, "F", None)
    assert finding.present is None and "skeletal_muscle_index not measured" in finding.reason
    findings = decide("martin2013", TABLES["martin2013"], _measures(smi=30, hu=20), "F", None)
    assert _present(findings, "sarcopenia") is True  # women's Martin rule needs no BMI
    assert next(f for f in findings if f.name == "myosteatosis").reason == (
        "not decided: height and weight (BMI) not given")


def test_sex_spellings_and_other_sex():
    from radiomark.case import Clinical
    from radiomark.errors import InputError

    assert [Clinical(sex=s).sex for s in ("male", "Female", "m", "F", "O", "other")] == ["M", "F", "M", "F", "O", "O"]
    with pytest.raises(InputError, match="did you mean 'female'"):
        Clinical(sex="femal")
    (finding,) = decide("prado2008", TABLES["prado2008"], _measures(smi=30), "O", None)
    assert finding.present is None and finding.reason == (
        "not decided: sex O (other) given; this table's cut-offs are for men or women")


def test_withheld_findings_say_why_and_clean_ones_are_unchanged():
    from radiomark.decision import withhold

    findings = decide("prado2008", TABLES["prado2008"], _measures(smi=30), "M", None)
    assert withhold(findings, []) == findings and findings[0].present is True
    (withheld,) = withhold(findings, ["nothing segmented for: visceral fat", "confidence low"])
    assert withheld.present is None and withheld.rule == findings[0].rule
    assert withheld.reason == "not decided: quality control: nothing segmented for: visceral fat; confidence low"
    (already,) = withhold(decide("prado2008", TABLES["prado2008"], _measures(smi=30), None, None), ["odd"])
    assert already.reason == "not decided: sex not given; quality control: odd"
