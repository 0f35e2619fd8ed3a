import numpy as np
import pytest

from radiomark.transforms.intensity import as_unit_float
from radiomark.transforms.random_window import RandomWindowd


def test_random_window_draws_stay_in_their_ranges_and_output_in_unit_interval():
    transform = RandomWindowd(["image"], (-250, 250), (400, 1200), default=(0, 800))
    transform.set_random_state(7)
    values = np.linspace(-1500, 1500, 301, dtype=np.float32)[None]
    levels, widths = [], []
    for _ in range(500):
        out = np.asarray(transform({"image": values})["image"])
        levels.append(transform.level)
        widths.append(transform.width)
        assert out.min() >= 0.0 and out.max() <= 1.0
        low, high = transform.level - transform.width / 2, transform.level + transform.width / 2
        inside = (values > low) & (values < high)
        np.testing.assert_allclose(out[inside], (values[inside] - low) / transform.width, atol=1e-5)
    assert -250 <= min(levels) < -200 and 200 < max(levels) <= 250
    assert 400 <= min(widths) < 450 and 1150 < max(widths) <= 1200


def test_probability_zero_keeps_the_default_window():
    transform = RandomWindowd(["image"], (-250, 250), (400, 1200), default=(40, 400), prob=0.0)
    out = np.asarray(transform({"image": np.array([[-160.0, 40.0, 240.0]])})["image"])
    np.testing.assert_allclose(out, [[0.0, 0.5, 1.0]])
    np.testing.assert_allclose(as_unit_float(np.array([-1000, 40, 1000]), 40, 400), [0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="invalid window ranges"):
        RandomWindowd(["image"], (250, -250), (400, 1200), default=(0, 800))


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.uint8, np.int32, np.float32])
def test_percentiles_equal_numpy(dtype):
    from radiomark.transforms.intensity import percentiles

    rng = np.random.default_rng(4)
    values = rng.normal(900, 300, size=(301, 257)).clip(0, 4000).astype(dtype)
    for q in [(1.0, 99.0), (0.5, 99.5), (0.0, 100.0), (37.3,)]:
        np.testing.assert_allclose(percentiles(values, q), np.percentile(values.astype(np.float64), q), rtol=1e-12)
