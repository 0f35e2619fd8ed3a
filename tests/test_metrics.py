"""Agreement statistics against published and analytic values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from radiomark.metrics import agreement, icc_absolute_agreement, intraclass_correlation


def test_icc_matches_shrout_and_fleiss():
    # Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges; ICC(2,1) = 0.29 in the paper,
    # 0.289764 from pingouin 0.7's intraclass_corr (ICC(A,1)) on the same table.
    ratings = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
    assert icc_absolute_agreement(ratings) == pytest.approx(0.289764, abs=1e-6)


def test_icc_is_one_for_identical_raters_and_drops_with_a_bias():
    reference = np.arange(10.0)
    assert intraclass_correlation(reference, reference) == pytest.approx(1.0)
    biased = intraclass_correlation(reference + 5.0, reference)  # consistent but not in agreement
    assert biased < 0.7
    assert math.isnan(intraclass_correlation([1.0], [1.0]))


def test_agreement_summarises_errors_correlation_and_limits():
    reference = np.array([10.0, 20.0, 30.0, 40.0])
    measured = reference * 1.1
    stats = agreement(measured, reference)
    assert stats["n"] == 4 and stats["pearson_r"] == pytest.approx(1.0)
    assert stats["mean_relative_error_percent"] == pytest.approx(10.0)
    assert stats["mean_absolute_error"] == pytest.approx(2.5)
    assert stats["bland_altman"]["bias"] == pytest.approx(2.5)
    assert math.isnan(agreement([1.0, 2.0], [1.0, 2.5])["pearson_r"])  # too few cases for r
