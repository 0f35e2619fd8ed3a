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
