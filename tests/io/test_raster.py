import numpy as np
import pytest
from PIL import Image as PILImage

from radiomark.errors import InputError
from radiomark.image import Image
from radiomark.io import read_image, write_image


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_round_trip_keeps_grey_values(tmp_path, dtype):
    values = (np.arange(48).reshape(6, 8) * (1000 if dtype == np.uint16 else 5)).astype(dtype)
    write_image(Image(array=values, spacing_mm=None), tmp_path / "x.png")
    image = read_image(tmp_path / "x.png", spacing_mm=(0.2, 0.2))
    np.testing.assert_array_equal(image.array, values)
    assert image.spacing_mm == (0.2, 0.2) and image.ndim == 2


def test_grey_rgb_is_accepted_and_colour_warns(tmp_path):
    grey = np.repeat(np.arange(12, dtype=np.uint8).reshape(3, 4, 1), 3, axis=2)
    PILImage.fromarray(grey).save(tmp_path / "grey.png")
    np.testing.assert_array_equal(read_image(tmp_path / "grey.png").array, grey[..., 0])
    colour = grey.copy()
    colour[0, 0] = (255, 0, 0)
    PILImage.fromarray(colour).save(tmp_path / "colour.png")
    with pytest.warns(UserWarning, match="colour image converted to grey"):
        assert read_image(tmp_path / "colour.png").ndim == 2


def test_unreadable_raster_and_unsupported_output_are_refused(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"bad\.png: not a readable PNG/JPEG image"):
        read_image(tmp_path / "bad.png")
    with pytest.raises(InputError, match="PNG needs integer pixel values in 0..65535"):
        write_image(Image(array=np.full((2, 2), -5), spacing_mm=None), tmp_path / "neg.png")
    with pytest.raises(InputError, match="unsupported output format"):
        write_image(Image(array=np.zeros((2, 2), np.uint8), spacing_mm=None), tmp_path / "x.bmp")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.png"]
