"""``frames_per_clip=1``: every clip is a single-frame DICOM that reads back and fills its slot."""
from pathlib import Path

import pydicom
import pytest
from pydicom.pixels import pixel_array

from ceusdesk.base.protocol import SLOT_NAMES
from ceusdesk.phantom import PhantomOptions, synthesize_case
from ceusdesk.study import open_study

ONE = {"panel_size": (128, 96), "frames_per_clip": 1}


@pytest.mark.parametrize("extra", [{"encoding": "rle"}, {"encoding": "raw"}, {"encoding": "jpeg"}, {},
                                   {"encoding": "rle", "realistic": True}])
def test_single_frame_clips_are_written_and_fill_every_slot(tmp_path, extra):
    rec = synthesize_case(tmp_path, seed=0, options=PhantomOptions(**ONE, **extra))
    study_dir = Path(tmp_path) / rec["study"]
    files = sorted(p for p in study_dir.rglob("*") if p.is_file())
    assert len(files) >= len(SLOT_NAMES)
    for p in files:
        ds = pydicom.dcmread(p)
        assert int(ds.NumberOfFrames) == 1
        assert pixel_array(p, index=0).shape == (ds.Rows, ds.Columns, 3)
    study = open_study(study_dir)
    assert study.phase_set == "full"
    assert all(study.slots[n] is not None for n in SLOT_NAMES)
