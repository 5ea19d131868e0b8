"""Every kind of bad file costs one warning naming it; the good clips beside it are kept (issue 12, §4)."""
from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from ceusdesk.ingest import read_frame, scan
from ceusdesk.ingest.limits import MAX_FRAME_PIXELS
from ceusdesk.ingest.scan import read_one
from ceusdesk.study import open_study
from ceusdesk.study.frames import slot_panels

from . import badfiles as bf
from .conftest import ClipSpec, write_clip, write_study

MEMORY_BOUND = 64e6  # bytes traced while reading one bad file (a good tiny clip needs well under 1 MB)


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return write_clip(tmp_path / "src" / "good.dcm", ClipSpec(start_s=40, n_frames=4))


def _warned(result, name: str) -> str:
    """The warnings naming ``name`` (at least one, each one line), joined."""
    found = [w.message for w in result.warnings if Path(w.path).name == name]
    assert found and not any("\n" in m for m in found), result.warnings
    return " | ".join(found)


def _read_bounded(path: Path):
    tracemalloc.start()
    try:
        clip, warns = read_one(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"{path.name}: {peak / 1e6:.0f} MB"
    return clip, warns


# 1. hangs and unreadable places ------------------------------------------------------------------

def test_fifo_device_link_and_link_loop_are_warned_not_opened(tmp_path, good):
    folder = tmp_path / "study"
    bf.special_files(folder)
    (folder / "good.dcm").write_bytes(good.read_bytes())
    result = scan(folder)
    assert [c.path.name for c in result.clips] == ["good.dcm"]
    assert "not a regular file (a character device)" in _warned(result, "zero.dcm")
    assert "not a regular file (a named pipe)" in _warned(result, "pipe.dcm")
    assert "symbolic link loop" in _warned(result, "loop.dcm")


def test_a_link_to_a_folder_is_named_not_followed(tmp_path, good):
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "good.dcm").write_bytes(good.read_bytes())
    os.symlink(folder, folder / "again")  # followed, it would never end
    result = scan(folder)
    assert [c.path.name for c in result.clips] == ["good.dcm"]
    assert "link to a folder: not followed" in _warned(result, "again")


def test_a_link_loop_given_as_the_study_is_refused_in_words(tmp_path):
    from ceusdesk.base.errors import NothingReadable

    loop = tmp_path / "loop.dcm"
    os.symlink(loop, loop)
    with pytest.raises(NothingReadable, match="symbolic link loop"):
        scan(loop)


def test_unlistable_folder_is_warned_as_permission_denied(tmp_path, good, monkeypatch):
    folder = tmp_path / "study"
    (folder / "locked").mkdir(parents=True)
    (folder / "good.dcm").write_bytes(good.read_bytes())
    real = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)  # root reads any folder: simulate the user's view
    result = scan(folder)
    assert [c.path.name for c in result.clips] == ["good.dcm"]
    message = _warned(result, "locked")
    assert "permission denied" in message and "corrupt" not in message


def test_unreadable_file_is_permission_denied_not_corrupt(tmp_path, good, monkeypatch):
    bad = tmp_path / "study" / "locked.dcm"
    bad.parent.mkdir()
    bad.write_bytes(good.read_bytes())
    (bad.parent / "good.dcm").write_bytes(good.read_bytes())
    import ceusdesk.ingest.dicom as dicom
    import ceusdesk.ingest.scan as scan_module

    def check(path) -> None:  # root reads any file: simulate the user's view of a locked one
        if Path(path).name == "locked.dcm":
            raise PermissionError(13, "Permission denied", os.fspath(path))

    class Locked(dicom.CappedFile):
        def __init__(self, path):
            check(path)
            super().__init__(path)

    monkeypatch.setattr(scan_module, "open", lambda p, *a, **k: check(p) or open(p, *a, **k), raising=False)
    monkeypatch.setattr(dicom, "CappedFile", Locked)
    result = scan(bad.parent)
    assert [c.path.name for c in result.clips] == ["good.dcm"]
    message = _warned(result, "locked.dcm")
    assert "permission denied" in message and "corrupt" not in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_for_real(tmp_path, good):
    bad = tmp_path / "locked.dcm"
    bad.write_bytes(good.read_bytes())
    bad.chmod(0)
    assert "permission denied" in read_one(bad)[1][0].message


# 2. what used to end in a traceback ---------------------------------------------------------------

@pytest.mark.parametrize("make, expected", [
    (bf.cut_after_pixel_tag, "corrupt DICOM file"),
    (bf.deep_sequence, "nested too deeply"),
])
def test_broken_structure_is_one_warning(tmp_path, good, make, expected):
    clip, warns = _read_bounded(make(good, tmp_path / "bad.dcm"))
    assert clip is None and expected in warns[0].message


@pytest.mark.parametrize("frames", [2**31 - 1, 300_000_000])
def test_a_huge_frame_count_costs_only_what_is_present(tmp_path, good, frames):
    clip, warns = _read_bounded(bf.tag_edit(good, tmp_path / "bad.dcm", NumberOfFrames=frames))
    assert clip.truncated and clip.usable_frames == 4 and len(clip.frame_offsets_s) == 4
    assert f"holds 4 of {frames} frames" in warns[-1].message


def test_a_huge_png_is_refused_from_its_header(tmp_path):
    clip, warns = _read_bounded(bf.huge_png(tmp_path / "huge.png"))
    assert clip is None and "megapixel limit (MAX_FRAME_PIXELS)" in warns[0].message


def test_a_huge_dicom_frame_is_refused_from_its_header(tmp_path, good):
    side = int(MAX_FRAME_PIXELS ** 0.5) + 1
    clip, warns = _read_bounded(bf.huge_frame_dicom(good, tmp_path / "huge.dcm", side=side))
    assert clip is None and f"frame {side}x{side} is larger than" in warns[0].message


@pytest.mark.parametrize("when", ["00010101000010", "99991231235950"])
def test_dates_at_the_ends_of_the_calendar(tmp_path, when):
    folder = tmp_path / "study"
    paths = write_study(folder)  # Contrast/Bolus Start Time on every clip
    day = when[:8]
    bf.tag_edit(paths[7], paths[7], AcquisitionDateTime=when, ContentDate=day, StudyDate=day)  # the 6:00 clip
    study = open_study(folder)
    assert f"acquisition date {when[:4]}-" in _warned(study, paths[7].name)
    assert study.phase_set == "full" and study.slots["6:00"] is None  # its time is not believed
    assert next(e for e in study.clips if e.clip.path == paths[7]).start_s is None


def test_a_wrong_acquisition_datetime_falls_back_to_a_plausible_tag(tmp_path, good):
    clip, warns = read_one(bf.tag_edit(good, tmp_path / "bad.dcm", AcquisitionDateTime="99991231235950"))
    assert clip.timing_source == "Content Time" and clip.start.year == 2024
    assert "is outside 1900-2199: ignored; using Content Time" in warns[0].message


def test_frame_time_1e300_with_an_estimated_injection(tmp_path):
    folder = tmp_path / "study"
    paths = write_study(folder, contrast_start=False)
    bf.tag_edit(paths[1], paths[1], FrameTime=1e300)  # the arterial clip the estimate is made from
    study = open_study(folder)
    assert "Frame Time 1e+300 ms per frame" in " ".join(w.message for w in study.warnings)
    assert study.injection_source in ("estimated", None)


# 4. sample formats -------------------------------------------------------------------------------

@pytest.mark.parametrize("bits, spp, photometric, expected", [
    (12, 1, "MONOCHROME2", "12-bit samples"),
    (1, 1, "MONOCHROME2", "1-bit samples"),
    (64, 1, "MONOCHROME2", "64-bit samples"),
    (8, 4, "ARGB", "4 samples per pixel"),
    (8, 1, "RGB", "'RGB' with 1 samples per pixel"),
])
def test_formats_that_cannot_be_shown_are_refused(tmp_path, good, bits, spp, photometric, expected):
    path = bf.native_variant(good, tmp_path / "bad.dcm", bits=bits, spp=spp, photometric=photometric)
    clip, warns = _read_bounded(path)
    assert clip is None and warns[0].message.startswith("cannot be decoded: ")
    assert expected in warns[0].message


def test_12_bits_stored_in_16_are_scaled_not_clipped(tmp_path, good):
    path = bf.native_variant(good, tmp_path / "b12.dcm", bits=16, stored=12, spp=1, photometric="MONOCHROME2")
    ramp = (np.arange(96 * 160 * 4) % 4096).astype("<u2")  # every 12-bit value, 0..4095
    bf.tag_edit(path, path, PixelData=ramp.tobytes())
    clip, _ = read_one(path)
    frame = read_frame(clip, 0)
    expected = (ramp[: 96 * 160] >> 4).reshape(96, 160).astype(np.uint8)
    assert np.array_equal(frame[..., 0], expected) and frame.max() == 255


# 4 + 5. a slot frame that cannot be decoded: inspect and analyze agree -----------------------------

@pytest.mark.parametrize("fragments", ["garbage", "wrong size"])
def test_undecodable_slot_clip_fills_no_slot(tmp_path, fragments):
    folder = tmp_path / "study"
    paths = write_study(folder)
    one_minute = paths[2]  # the only clip in the 1:00 window
    frames = ([os.urandom(600) for _ in range(10)] if fragments == "garbage"
              else [bf.jpeg_bytes(40, 50)] * 10)
    bf.jpeg_clip(one_minute, one_minute, frames)
    study = open_study(folder)
    assert study.slots["1:00"] is None and "1:00" in study.missing and study.phase_set == "incomplete"
    message = _warned(study, one_minute.name)
    assert "could not be decoded" in message and "fills no slot" in message
    assert next(e for e in study.clips if e.clip.path == one_minute).excluded == "undecodable"
    panels = slot_panels(study)  # what analyze decodes: no error, the other slots are there
    assert panels["1:00"] is None and panels["0:30"] is not None


def test_an_undecodable_clip_gives_way_to_the_next_best(tmp_path):
    folder = tmp_path / "study"
    paths = write_study(folder)
    write_clip(folder / "IMX00002", ClipSpec(start_s=70.0, n_frames=4), seed=2)  # another 1:00 candidate
    bf.jpeg_clip(paths[2], paths[2], [os.urandom(600) for _ in range(10)])
    study = open_study(folder)
    assert study.slots["1:00"].clip.path.name == "IMX00002" and study.phase_set == "full"


def test_slot_frames_are_decoded_once_for_inspect_and_analyze(study_dir, monkeypatch):
    import ceusdesk.study.frames as frames

    calls = []
    real = frames.read_frame
    monkeypatch.setattr(frames, "read_frame", lambda c, i: calls.append(i) or real(c, i))
    study = open_study(study_dir)
    assert len(calls) == 9  # the check at open_study
    slot_panels(study)
    assert len(calls) == 9  # analyze's decode came from the cache
