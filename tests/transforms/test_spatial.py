import numpy as np

from radiomark.image import Image
from radiomark.transforms.spatial import canonical_flips, flip


def test_ras_stored_slices_are_flipped_back_to_the_dicom_orientation():
    standard = Image(array=np.arange(6).reshape(2, 3), spacing_mm=(1.0, 1.0))
    assert canonical_flips(standard) == (False, False)
    ras = Image(array=np.arange(6).reshape(2, 3), spacing_mm=(1.0, 1.0),
                direction=np.array([[0.0, -1.0], [-1.0, 0.0], [0.0, 0.0]]))
    assert canonical_flips(ras) == (True, True)
    np.testing.assert_array_equal(flip(flip(ras.array, (True, True)), (True, True)), ras.array)
    np.testing.assert_array_equal(flip(ras.array, (True, False)), ras.array[::-1])
    sagittal = Image(array=np.zeros((2, 3)), spacing_mm=(1.0, 1.0),
                     direction=np.array([[0.0, 0.0], [0.0, -1.0], [-1.0, 0.0]]))
    assert canonical_flips(sagittal) == (False, False)


def test_network_grid_keeps_the_physical_aspect_and_inverts():
    from radiomark.transforms.spatial import fitted_shape, from_network_grid, to_network_grid

    wide = Image(array=np.zeros((101, 122)), spacing_mm=(3.0, 3.0))
    assert fitted_shape(wide, (256, 256)) == (212, 256)
    thin_pixels = Image(array=np.zeros((100, 100)), spacing_mm=(2.0, 1.0))
    assert fitted_shape(thin_pixels, (64, 64)) == (64, 32)
    assert fitted_shape(Image(array=np.zeros((30, 60)), spacing_mm=None), (64, 64)) == (32, 64)
    values = np.zeros((1, 101, 122), dtype=np.float32)
    values[0, 40:60, 50:70] = 1.0
    grid = to_network_grid(values, (212, 256), (256, 256), mode="nearest", pad_value=-1.0)
    assert grid.shape == (1, 256, 256) and float(grid[0, 0, 0]) == -1.0 and float(grid[0, 22, 0]) == 0.0
    back = from_network_grid(grid, (212, 256), (101, 122))
    assert back.shape == (1, 101, 122)
    assert float(back[0, 45:55, 55:65].min()) > 0.9 and float(back[0, :30].max()) < 0.1
