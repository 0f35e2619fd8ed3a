import numpy as np
import pytest

from radiomark.errors import GeometryError
from radiomark.image import Image, LabelMap, Orientation


def test_defaults_give_identity_geometry_in_array_order():
    image = Image(array=np.zeros((4, 5, 6)), spacing_mm=(3.0, 2.0, 1.0))
    assert image.direction.tolist() == [[0, 0, 1], [0, 1, 0], [1, 0, 0]]
    assert image.orientation is Orientation.AXIAL
    np.testing.assert_allclose(image.index_to_point((1, 2, 3)), [3.0, 4.0, 3.0])
    assert image.sample_size == pytest.approx(6.0)


def test_arrays_are_read_only():
    image = Image(array=np.zeros((3, 3)), spacing_mm=(1.0, 1.0))
    with pytest.raises(ValueError, match="read-only"):
        image.array[0, 0] = 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"array": np.zeros(5), "spacing_mm": (1.0,)}, "must be 2D or 3D"),
    ({"array": np.zeros((0, 4)), "spacing_mm": (1.0, 1.0)}, "empty"),
    ({"array": np.zeros((4, 4)), "spacing_mm": (1.0, -1.0)}, "positive"),
    ({"array": np.zeros((4, 4)), "spacing_mm": (1.0,)}, "must hold 2"),
    ({"array": np.zeros((4, 4)), "spacing_mm": None, "origin_mm": (0, np.nan, 0)}, "finite"),
    ({"array": np.zeros((4, 4)), "spacing_mm": None, "direction": np.eye(3)}, "3×2"),
    ({"array": np.zeros((4, 4)), "spacing_mm": None, "direction": np.ones((3, 2))}, "orthonormal"),
])
def test_invalid_geometry_is_refused(kwargs, message):
    with pytest.raises(GeometryError, match=message):
        Image(**kwargs)


def test_unknown_spacing_refuses_physical_sizes():
    image = Image(array=np.zeros((4, 4)), spacing_mm=None, metadata={"source": "x.png"})
    with pytest.raises(GeometryError, match="x.png: pixel spacing is unknown"):
        _ = image.sample_size


def test_take_slice_and_as_volume_are_inverse():
    rng = np.random.default_rng(0)
    direction = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    direction[:, 0] = np.cross(direction[:, 2], direction[:, 1])  # slice axis along the normal
    volume = Image(array=rng.normal(size=(3, 4, 5)), spacing_mm=(2.5, 0.7, 0.8), origin_mm=(10, -20, 30),
                   direction=direction)
    middle = volume.take_slice(1)
    np.testing.assert_allclose(middle.origin_mm, volume.index_to_point((1, 0, 0)))
    assert middle.metadata["slice_thickness_mm"] == 2.5
    again = middle.as_volume()
    assert again.shape == (1, 4, 5)
    np.testing.assert_allclose(again.direction, volume.direction, atol=1e-12)
    with pytest.raises(GeometryError, match="outside the volume's 3 slices"):
        volume.take_slice(3)


def test_geometry_equal_detects_each_difference():
    base = Image(array=np.zeros((2, 3, 4)), spacing_mm=(1.0, 1.0, 1.0), origin_mm=(1, 2, 3))
    assert base.geometry_equal(Image(array=np.ones((2, 3, 4)), spacing_mm=(1.0, 1.0, 1.0), origin_mm=(1, 2, 3)))
    assert not base.geometry_equal(Image(array=np.zeros((2, 3, 5)), spacing_mm=(1.0, 1.0, 1.0), origin_mm=(1, 2, 3)))
    assert not base.geometry_equal(Image(array=np.zeros((2, 3, 4)), spacing_mm=(1.0, 1.0, 1.1), origin_mm=(1, 2, 3)))
    assert not base.geometry_equal(Image(array=np.zeros((2, 3, 4)), spacing_mm=(1.0, 1.0, 1.0), origin_mm=(1, 2, 4)))
    flipped = np.array([[0, 0, 1], [0, -1, 0], [-1, 0, 0]], dtype=float)
    assert not base.geometry_equal(Image(array=np.zeros((2, 3, 4)), spacing_mm=(1.0, 1.0, 1.0),
                                         origin_mm=(1, 2, 3), direction=flipped))


def test_label_map_is_small_integers_with_names():
    labels = LabelMap(array=np.array([[0, 1], [2, 2]], dtype=np.int64), spacing_mm=(1.0, 1.0),
                      labels={1: "muscle", 2: "fat"})
    assert labels.array.dtype == np.uint8
    assert labels.mask("fat").sum() == 2
    volume = labels.as_volume()
    assert isinstance(volume, LabelMap) and dict(volume.labels) == {1: "muscle", 2: "fat"}
    big = LabelMap(array=np.array([[0, 300]]), spacing_mm=(1.0, 1.0))
    assert big.array.dtype == np.uint16
    with pytest.raises(GeometryError, match="integer labels"):
        LabelMap(array=np.zeros((2, 2), dtype=np.float32), spacing_mm=(1.0, 1.0))
    with pytest.raises(GeometryError, match=">= 0"):
        LabelMap(array=np.array([[-1, 0]]), spacing_mm=(1.0, 1.0))
    with pytest.raises(GeometryError, match="no label named 'bone'"):
        labels.mask("bone")
