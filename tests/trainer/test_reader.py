"""The washout reader reads lesion vs liver grey beside it, from the rendered image."""

import numpy as np

from ceusdesk.protocol import default_protocol
from trainer.cache import reader_intensities
from trainer.reader import washout_scores


def _panel(lesion_grey: int) -> np.ndarray:
    img = np.full((200, 300), 120, np.uint8)  # liver
    img[:, :20] = 0  # outside the scan sector
    yy, xx = np.mgrid[:200, :300]
    img[(yy - 100) ** 2 + (xx - 150) ** 2 < 15**2] = lesion_grey
    return img


def test_reference_sits_in_liver_beside_the_lesion():
    lesion, liver = reader_intensities(_panel(60), (134, 84, 32, 32))
    assert lesion == 60 and liver == 120
    # a lesion at the sector edge: the reference goes to the side that lies in the liver
    img = _panel(60)
    img[:, 150:] = 0
    img[:, :150] = 120
    img[90:110, 120:140] = 60  # lesion near the sector's right edge: right of it is black
    lesion, liver = reader_intensities(img, (114, 84, 32, 32))
    assert liver == 120 and lesion < 70


def test_washout_score_uses_only_the_readers_slots():
    protocol = default_protocol()
    x = np.full((2, 9, 2), 100.0)
    x[0, 8, 0] = 40.0  # case 0: washout at 10:00 only
    x[1, 3, 0] = 50.0  # case 1: washout at 2:00
    full, early = washout_scores(x, protocol, "full"), washout_scores(x, protocol, "early")
    assert full[0] == 0.6 and early[0] == 0.0  # 10:00 is beyond the early reader's 2 min
    assert full[1] == early[1] == 0.5
    x[1] = np.nan
    assert np.isnan(washout_scores(x, protocol, "full")[1])
