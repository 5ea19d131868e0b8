"""Scanning every input form: folders, DICOMDIR, videos, stills, and each kind of bad file."""
from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.fileset import FileSet
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from vfr_avi import write_vfr_avi

from ceusdesk.base.errors import Cancelled, NothingReadable
from ceusdesk.ingest import DECODING_PLUGIN, read_frame, scan

from .conftest import INJECTION, ClipSpec, make_frame, write_clip, write_study


def _messages(result) -> dict[str, str]:
    return {Path(w.path).name: w.message for w in result.warnings}


def test_decoding_plugin_is_named_once():
    assert DECODING_PLUGIN == "pylibjpeg"


def test_frame_time_and_vector_give_per_frame_offsets(tmp_path):
    write_clip(tmp_path / "a.dcm", ClipSpec(start_s=0, n_frames=4, frame_time_ms=250))
    write_clip(tmp_path / "b.dcm", ClipSpec(start_s=0, n_frames=4, frame_time_vector=[0, 100, 400, 500]))
    clips = {c.path.name: c for c in scan(tmp_path).clips}
    assert clips["a.dcm"].frame_offsets_s.tolist() == pytest.approx([0, 0.25, 0.5, 0.75])
    assert clips["b.dcm"].frame_offsets_s.tolist() == pytest.approx([0, 0.1, 0.5, 1.0])
    assert clips["a.dcm"].start == INJECTION and clips["a.dcm"].timing_source == "Acquisition DateTime"


def test_big_endian_clip_reads_like_little_endian(tmp_path):
    spec = ClipSpec(start_s=40, n_frames=3)
    little = scan(write_clip(tmp_path / "le.dcm", spec)).clips[0]
    big = scan(write_clip(tmp_path / "be.dcm", spec, big_endian=True)).clips[0]
    assert big.transfer_syntax == "1.2.840.10008.1.2.2"
    assert np.array_equal(read_frame(little, 2), read_frame(big, 2))
    assert np.array_equal(read_frame(little, 2), make_frame(42, "right"))


def test_bad_files_become_one_line_warnings_and_the_rest_loads(tmp_path):
    good = write_clip(tmp_path / "good.dcm", ClipSpec(start_s=30, n_frames=6))
    # truncated: the last frames cut off
    cut = write_clip(tmp_path / "cut.dcm", ClipSpec(start_s=60, n_frames=6), seed=3)
    cut.write_bytes(cut.read_bytes()[: -2 * 96 * 160 * 3 - 10])  # 3 whole frames left
    # non-image DICOM (a report)
    sr = Dataset()
    sr.file_meta = FileMetaDataset()
    sr.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    sr.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    sr.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sr.SOPClassUID = sr.file_meta.MediaStorageSOPClassUID
    sr.SOPInstanceUID = sr.file_meta.MediaStorageSOPInstanceUID
    sr.PatientID = "P0001"
    sr.save_as(tmp_path / "report.dcm", enforce_file_format=True)
    # corrupt: a DICOM preamble then garbage; and an extensionless file that is not DICOM at all
    (tmp_path / "corrupt.dcm").write_bytes(b"\0" * 128 + b"DICM" + bytes(range(256)) * 4)
    (tmp_path / "IM000099").write_bytes(b"not dicom at all" * 20)
    # zero frames
    zero = write_clip(tmp_path / "zero.dcm", ClipSpec(start_s=90, n_frames=1))
    ds = dcmread(zero)
    ds.NumberOfFrames = 0
    ds.PixelData = b""
    ds.save_as(zero)
    # unreadable video
    (tmp_path / "broken.avi").write_bytes(b"RIFF0000AVI junk" * 10)
    (tmp_path / "notes.txt").write_text("not an image")

    result = scan(tmp_path)
    names = sorted(c.path.name for c in result.clips)
    assert names == ["cut.dcm", "good.dcm"]
    msgs = _messages(result)
    assert "truncated" in msgs["cut.dcm"] and "3 of 6 frames" in msgs["cut.dcm"]
    assert "without an image (Basic Text SR Storage)" in msgs["report.dcm"]
    assert msgs["corrupt.dcm"].startswith("corrupt DICOM file")
    assert "not a readable DICOM file" in msgs["IM000099"]
    assert "0" in msgs["zero.dcm"] and "frames" in msgs["zero.dcm"]
    assert msgs["broken.avi"].startswith("unreadable video")
    assert "notes.txt" not in msgs
    assert all("\n" not in w.message for w in result.warnings)
    cut_clip = next(c for c in result.clips if c.path.name == "cut.dcm")
    assert cut_clip.truncated and cut_clip.usable_frames == 3
    assert read_frame(cut_clip, 2).shape == (96, 160, 3)  # what is there still decodes
    assert good.exists()


def test_truncated_encapsulated_clip_is_detected(tmp_path):
    from pydicom.pixels import compress
    from pydicom.uid import RLELossless

    path = write_clip(tmp_path / "rle.dcm", ClipSpec(start_s=30, n_frames=5))
    ds = dcmread(path)
    compress(ds, RLELossless, encoding_plugin="pydicom")
    ds.save_as(path)
    full = scan(path).clips[0]
    assert not full.truncated and full.transfer_syntax == RLELossless
    assert np.array_equal(read_frame(full, 4), make_frame(34, "right"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 300])
    cut = scan(path)
    assert cut.clips[0].truncated and cut.clips[0].usable_frames == 4


def test_duplicate_sop_uid_keeps_the_complete_file(tmp_path):
    uid = generate_uid()
    write_clip(tmp_path / "a_cut.dcm", ClipSpec(start_s=30, n_frames=4), sop_uid=uid)
    (tmp_path / "a_cut.dcm").write_bytes((tmp_path / "a_cut.dcm").read_bytes()[:-5000])
    write_clip(tmp_path / "b_full.dcm", ClipSpec(start_s=30, n_frames=4), sop_uid=uid)
    result = scan(tmp_path)
    assert [c.path.name for c in result.clips] == ["b_full.dcm"]
    dup = [w for w in result.warnings if "duplicate" in w.message]
    assert len(dup) == 1 and Path(dup[0].path).name == "a_cut.dcm" and "b_full.dcm" in dup[0].message


def _dicomdir_tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    paths = write_study(src, clips=[(-60.0, 3), (20.0, 5), (60.0, 3)])
    fs = FileSet()
    for p in paths:
        fs.add(p)
    usb = tmp_path / "usb"
    fs.write(usb)
    return usb


def test_dicomdir_lists_files_and_folder_reads_everything(tmp_path):
    usb = _dicomdir_tree(tmp_path)
    before = {p: p.stat().st_mtime_ns for p in usb.rglob("*") if p.is_file()}
    via_index = scan(usb / "DICOMDIR")
    assert len(via_index.clips) == 3 and via_index.root == usb
    # a file copied in after the DICOMDIR was written: the folder read finds it, the index does not
    extra = next(p for p in usb.rglob("*") if p.is_file() and p.name != "DICOMDIR")
    write_clip(extra.parent / "EXTRA01", ClipSpec(start_s=120, n_frames=2))
    assert len(scan(usb).clips) == 4
    assert len(scan(usb / "DICOMDIR").clips) == 3
    after = {p: p.stat().st_mtime_ns for p in before}
    assert before == after  # never written


def test_dicomdir_entry_missing_on_disk_is_reported(tmp_path):
    usb = _dicomdir_tree(tmp_path)
    victim = sorted(p for p in usb.rglob("*") if p.is_file() and p.name != "DICOMDIR")[0]
    victim.unlink()
    for target in (usb, usb / "DICOMDIR"):
        result = scan(target)
        assert len(result.clips) == 2
        assert any("listed in the DICOMDIR but missing" in w.message for w in result.warnings)


def test_variable_frame_rate_video_has_true_timestamps(tmp_path):
    frames = [make_frame(30 + i, "right", seed=i) for i in range(6)]
    path = write_vfr_avi(tmp_path / "clip.avi", frames, ticks=[0, 1, 2, 10, 11, 40], tick_fps=30)
    clip = scan(path).clips[0]
    assert clip.kind == "video" and clip.n_frames == 6 and clip.start is None
    assert clip.frame_offsets_s.tolist() == pytest.approx([0, 1 / 30, 2 / 30, 10 / 30, 11 / 30, 40 / 30])
    for i in (5, 3, 0):  # out of order: each read seeks
        got = read_frame(clip, i).astype(int)
        assert np.abs(got - frames[i]).mean() < 4  # MJPEG is lossy


def test_constant_rate_video_from_opencv(tmp_path):
    path = tmp_path / "cfr.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 96))
    for i in range(5):
        writer.write(cv2.cvtColor(make_frame(20 + 10 * i, "right"), cv2.COLOR_RGB2BGR))
    writer.release()
    clip = scan(path).clips[0]
    assert clip.n_frames == 5
    assert np.diff(clip.frame_offsets_s) == pytest.approx([0.1] * 4)


def test_stills_png_bmp_and_jpeg_with_exif_time(tmp_path):
    img = make_frame(200, "right")
    cv2.imwrite(str(tmp_path / "a.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp_path / "b.bmp"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2024:05:14 10:03:20"
    Image.fromarray(img).save(tmp_path / "c.jpg", exif=exif)
    clips = {c.path.name: c for c in scan(tmp_path).clips}
    assert sorted(clips) == ["a.png", "b.bmp", "c.jpg"]
    assert np.array_equal(read_frame(clips["a.png"], 0), img)
    assert clips["a.png"].start is None
    assert clips["c.jpg"].start == datetime(2024, 5, 14, 10, 3, 20)


def test_progress_cancel_and_missing_path(tmp_path):
    write_study(tmp_path / "s", clips=[(0.0, 2), (60.0, 2), (120.0, 2)])
    calls = []
    scan(tmp_path / "s", progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    with pytest.raises(Cancelled):
        scan(tmp_path / "s", cancel=lambda: True)
    with pytest.raises(NothingReadable, match="no such file"):
        scan(tmp_path / "nope")


def test_scan_never_decodes_pixels(tmp_path, monkeypatch):
    import pydicom.pixels

    write_study(tmp_path / "s", clips=[(0.0, 3), (60.0, 3)])
    shutil.copy(next((tmp_path / "s").iterdir()), tmp_path / "s" / "copy")

    def boom(*a, **k):
        raise AssertionError("scan decoded pixels")

    monkeypatch.setattr(pydicom.pixels, "pixel_array", boom)
    monkeypatch.setattr("ceusdesk.ingest.decode.pixel_array", boom)
    assert len(scan(tmp_path / "s").clips) == 2
